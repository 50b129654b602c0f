"""Receiving request heads. A connection waiting for a request (idle keep-alive, or just
accepted) holds no buffer of its own: its receive takes one of the worker's shared provided
buffers (--recv-buffers) when bytes arrive. Every way a head can come in is exercised: in one
shared buffer, larger than one, trickled a byte at a time, pipelined, in bursts that find every
shared buffer taken (the receive is repeated into the connection's own buffer and counted), and
with no shared buffers at all (--recv-buffers 0, as on kernels without buffer rings)."""
import socket
import time

from harness import ServerTest, main, offset_pattern, read_exactly, read_response

A = offset_pattern(5000)
B = b"small file\n"


def request(path, pad=0):
    head = b"GET %s HTTP/1.1\r\nHost: x\r\n" % path
    if pad:
        head += b"X-Pad: " + b"p" * pad + b"\r\n"
    return head + b"\r\n"


def read_body(f):
    code, headers = read_response(f)
    return code, read_exactly(f, int(headers["content-length"]))


class SharedBuffers(ServerTest):
    server_args = ("--recv-buffers", "4")
    threads = 1

    def populate(self, root):
        self.write("a.bin", A)
        self.write("b.txt", B)

    def expect_answers(self, f, paths):
        for path in paths:
            code, body = read_body(f)
            self.assertEqual(code, 200, path)
            self.assertEqual(body, A if path == b"/a.bin" else B, path)

    def shortages(self):
        return self.server.metrics().get("spliced_recv_buffer_shortages_total", 0)

    def test_bursts_larger_than_the_shared_buffers_are_all_served(self):
        socks = [self.server.connect() for _ in range(64)]
        files = [s.makefile("rb", buffering=0) for s in socks]
        for rnd in range(5):
            paths = [b"/a.bin" if (i + rnd) % 2 else b"/b.txt" for i in range(len(socks))]
            for s, path in zip(socks, paths):  # all 64 heads arrive before the server looks
                s.sendall(request(path))
            for f, path in zip(files, paths):
                self.expect_answers(f, [path])
        for s in socks:
            s.close()
        m = self.server.metrics_when(
            lambda m: m.get('spliced_requests_total{code="200",method="GET"}', 0) >= 320)
        self.assertEqual(m['spliced_requests_total{code="200",method="GET"}'], 320)
        self.check_shortages(m.get("spliced_recv_buffer_shortages_total", 0))

    def check_shortages(self, count):
        self.assertGreater(count, 0)  # 64 heads at once, 4 shared buffers

    shared = 4

    def test_startup_line_says_what_the_kernel_accepted(self):
        code, err = self.server.stop()
        self.assertEqual(code, 0)
        self.assertIn(", %d shared receive buffers of 2048 bytes;" % self.shared, err)

    def test_head_larger_than_a_shared_buffer(self):
        s = self.server.connect()
        f = s.makefile("rb", buffering=0)
        s.sendall(request(b"/a.bin", pad=6000))  # a 2 KiB buffer takes its first part
        self.expect_answers(f, [b"/a.bin"])
        s.sendall(request(b"/b.txt", pad=3000))  # the same connection, idle in between
        self.expect_answers(f, [b"/b.txt"])
        s.close()

    def test_head_over_the_limit_is_refused_not_truncated(self):
        s = self.server.connect()
        f = s.makefile("rb", buffering=0)
        s.sendall(request(b"/a.bin", pad=9000))  # --max-header-bytes is 8 KiB
        code, _ = read_response(f)
        self.assertEqual(code, 431)
        s.close()

    def test_head_trickled_one_byte_at_a_time(self):
        s = self.server.connect()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb", buffering=0)
        for i, byte in enumerate(request(b"/a.bin", pad=40)):
            s.send(bytes([byte]))
            if i % 8 == 0:
                time.sleep(0.002)  # separate segments, separate receives
        self.expect_answers(f, [b"/a.bin"])
        s.close()

    def test_pipelined_heads_spanning_many_buffers(self):
        s = self.server.connect()
        f = s.makefile("rb", buffering=0)
        paths = [b"/a.bin" if i % 3 else b"/b.txt" for i in range(40)]
        s.sendall(b"".join(request(p, pad=200) for p in paths))  # ~10 KiB in one burst
        self.expect_answers(f, paths)
        s.sendall(request(b"/b.txt"))  # and the connection is still in step
        self.expect_answers(f, [b"/b.txt"])
        s.close()

    def test_idle_connections_come_back(self):
        socks = [self.server.connect() for _ in range(200)]
        files = [s.makefile("rb", buffering=0) for s in socks]
        for s in socks:
            s.sendall(request(b"/b.txt"))
        for f in files:
            self.expect_answers(f, [b"/b.txt"])
        # Every connection idle (no exchange, a shared-buffer receive armed): the server goes
        # idle right after it counts a request, in the same step.
        self.server.metrics_when(
            lambda m: m.get('spliced_requests_total{code="200",method="GET"}', 0) >= len(socks))
        for s in reversed(socks):
            s.sendall(request(b"/a.bin"))
        for f in reversed(files):
            self.expect_answers(f, [b"/a.bin"])
        for s in socks:
            s.close()


class OwnBuffers(SharedBuffers):
    """--recv-buffers 0: every connection receives into its own buffer; nothing is shared, so
    nothing can run short."""
    server_args = ("--recv-buffers", "0")

    shared = 0

    def check_shortages(self, count):
        self.assertEqual(count, 0)


if __name__ == "__main__":
    main()
