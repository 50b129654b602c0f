"""Bodies under load and under fault: >4 GiB files, concurrency, resets, shrinking and replaced files."""
import hashlib
import os
import socket
import struct
import time
import unittest

from harness import (TRANSFER, Server, ServerTest, concurrent_downloads, main, offset_pattern,
                     paused_download, read_exactly, read_response, ring_fdinfo, wait_for)

GIB = 1 << 30


class LargeFile(ServerTest):
    """A sparse file past 4 GiB: offsets and lengths must be 64-bit all the way through."""
    SIZE = 4 * GIB + 3 * (1 << 20) + 7
    MARKS = {0: b"start", 4 * GIB - 3: b"<4GiB>", SIZE - 4: b"end!"}

    def populate(self, root):
        path = os.path.join(root, "huge.img")
        with open(path, "wb") as f:
            f.truncate(self.SIZE)
            for offset, data in self.MARKS.items():
                f.seek(offset)
                f.write(data)

    def expected(self, offset, length):
        chunk = bytearray(length)
        for mark, data in self.MARKS.items():
            lo, hi = max(offset, mark), min(offset + length, mark + len(data))
            if lo < hi:
                chunk[lo - offset:hi - offset] = data[lo - mark:hi - mark]
        return bytes(chunk)

    def test_over_4gib_exact_bytes(self):
        s = self.server.connect(timeout=60)
        s.sendall(b"GET /huge.img HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        f = s.makefile("rb", buffering=1 << 20)
        code, headers = read_response(f)
        self.assertEqual(code, 200)
        self.assertEqual(int(headers["content-length"]), self.SIZE)
        offset = 0
        while True:
            chunk = f.read(8 << 20)
            if not chunk:
                break
            if chunk != self.expected(offset, len(chunk)):
                self.fail("wrong bytes in [%d, %d)" % (offset, offset + len(chunk)))
            offset += len(chunk)
        self.assertEqual(offset, self.SIZE)
        s.close()


class Concurrency(ServerTest):
    def populate(self, root):
        self.files = {}
        for i in range(20):
            data = os.urandom((i + 1) * 100_000)
            self.files["/f%02d.bin" % i] = hashlib.sha256(data).hexdigest()
            self.write("f%02d.bin" % i, data)
        self.write("big.bin", offset_pattern(32 << 20))

    def test_200_concurrent_downloads_sha256(self):
        checks = {name: (lambda body, digest=digest: hashlib.sha256(body).hexdigest() == digest)
                  for name, digest in self.files.items()}
        self.assertEqual(concurrent_downloads(self.server, 200, checks), [])

    def test_100_resets_mid_body_leak_nothing(self):
        self.server.get("/f00.bin")  # warm up: pools and caches that legitimately stay
        # Settled: the warm-up's connection has closed (fd_count leaves out scrapes).
        self.server.metrics_when(lambda m: m["spliced_connections_active"] == 0, timeout=10)
        before = self.server.fd_count()
        for _ in range(100):
            s = self.server.connect()
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(65536)  # the head and the first body bytes: the transfer is under way
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()  # RST
        # Nothing held: no connection, no pipe or buffer leased, and no fixed-table slot but the
        # open-file cache's (a slot leak is invisible in /proc/PID/fd).
        m = self.server.metrics_when(
            lambda m: m["spliced_connections_active"] == 0 and m["spliced_pipes_in_use"] == 0 and
            m["spliced_buffers_in_use"] == 0 and
            m["spliced_fixed_files_in_use"] == m["spliced_open_file_cache_entries"], timeout=10)
        self.assertEqual(self.server.fd_count(), before)
        # Pipes that held bytes were destroyed, the rest are idle: the server still serves right.
        status, _, body = self.server.get("/big.bin")
        self.assertEqual(body, offset_pattern(32 << 20))


class TinyQueue(Concurrency):
    """--queue-depth 8: most work waits in the local queue for SQ space; none of it may fail."""
    server_args = ("--queue-depth", "8")
    threads = 1

    def test_burst_overflows_the_sq_and_nothing_is_lost(self):
        names = sorted(self.files)
        conns = [self.server.connect() for _ in range(100)]
        time.sleep(0.2)  # all accepted and waiting in recv
        for i, s in enumerate(conns):  # a burst: 100 requests ready in one batch of CQEs
            s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % names[i % 20].encode())
        for i, s in enumerate(conns):
            f = s.makefile("rb")
            code, headers = read_response(f)
            body = f.read()
            self.assertEqual((code, len(body)), (200, int(headers["content-length"])))
            self.assertEqual(hashlib.sha256(body).hexdigest(), self.files[names[i % 20]])
            s.close()
        m = self.server.metrics_when(lambda m: m["spliced_sq_full_waits_total"] > 0)
        self.assertGreater(m["spliced_sq_full_waits_total"], 0)


class CopyTier(ServerTest):
    """The registered-buffer tier with a pool far smaller than the demand: transfers wait their
    turn for a buffer and every byte still arrives."""
    server_args = ("--transfer", "copy", "--buffers", "2", "--buffer-size", "64k")
    threads = 1

    def populate(self, root):
        self.files = {}
        for i in range(8):
            data = os.urandom(300_000 + i * 77_777)
            self.files["/c%d.bin" % i] = data
            self.write("c%d.bin" % i, data)

    def test_64_downloads_share_2_buffers(self):
        checks = {name: (lambda body, data=data: body == data) for name, data in self.files.items()}
        self.assertEqual(concurrent_downloads(self.server, 64, checks), [])
        m = self.server.metrics()
        self.assertGreater(m['spliced_sent_bytes_total{tier="copy"}'], 64 * 300_000)
        self.assertEqual(m['spliced_sent_bytes_total{tier="splice"}'], 0)

    def test_ranges_and_multipart_over_copy(self):
        data = self.files["/c0.bin"]
        status, h, body = self.server.get("/c0.bin", headers={"Range": "bytes=70000-200000"})
        self.assertEqual((status, body), (206, data[70000:200001]))

    def test_buffers_are_registered(self):
        rings = ring_fdinfo(self.server.pid)
        self.assertEqual(len(rings), 1)
        self.assertEqual(rings[0]["UserBufs"].split()[0], "4")  # 2 copy + 2 small-tier


class BufferGrowth(ServerTest):
    """Each default buffer pool (copy, small) starts with one registered buffer per worker and
    grows with the number of transfers in flight, never past --buffers."""
    server_args = ("--transfer", "copy")
    threads = 1

    def populate(self, root):
        self.files = {"/g%d.bin" % i: os.urandom(600_000 + i) for i in range(8)}
        for name, data in self.files.items():
            self.write(name[1:], data)

    def test_pool_grows_with_demand(self):
        self.assertEqual(self.server.metrics()["spliced_registered_buffers"], 2)
        checks = {n: (lambda body, d=d: body == d) for n, d in self.files.items()}
        self.assertEqual(concurrent_downloads(self.server, 48, checks), [])
        grown = self.server.metrics()["spliced_registered_buffers"]
        self.assertGreater(grown, 2)
        self.assertLessEqual(grown, 256 + 1)
        bufs = ring_fdinfo(self.server.pid)[0]["UserBufs"].split()[0]
        self.assertEqual(bufs, "512")  # every slot of both pools is in the table from the start


class SmallTier(ServerTest):
    """auto sends a body that fits one buffer beside its head in the same SEND as the head: one
    READ_FIXED into the buffer after the head, one SEND, no splice."""
    SMALL_BUFFER = 16384  # config::small_buffer_size
    server_args = ("--transfer", "auto", "--buffers", "2", "--buffer-size", "8192",
                   "--auto-small-max", "1M")
    threads = 1

    def populate(self, root):
        self.small = offset_pattern(1000)
        self.write("small.bin", self.small)
        self.edge = offset_pattern(self.SMALL_BUFFER - 200)  # fits alone, not beside its head
        self.write("edge.bin", self.edge)
        self.files = {"/s%d.bin" % i: os.urandom(100 + 997 * i) for i in range(8)}
        for name, data in self.files.items():
            self.write(name[1:], data)

    def counts(self, m):
        ops = ("send", "read", "splice")
        return {op: m.get('spliced_completion_latency_seconds_count{op="%s"}' % op, 0) for op in ops}

    def test_head_and_body_leave_in_one_send(self):
        s = self.server.connect()
        s.sendall(b"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        f = s.makefile("rb", buffering=0)
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += f.read(1)
        body = read_exactly(f, 1000)
        s.close()
        self.assertEqual(body, self.small)
        m = self.server.metrics_when(lambda m: m['spliced_sent_bytes_total{tier="small"}'] >= 1000)
        self.assertEqual(m['spliced_sent_bytes_total{tier="small"}'], 1000)
        self.assertEqual(m['spliced_sent_bytes_total{tier="head"}'], len(head))
        self.assertEqual(m['spliced_sent_bytes_total{tier="splice"}'], 0)
        self.assertEqual(self.counts(m), {"send": 1, "read": 1, "splice": 0})

    def test_body_that_does_not_fit_beside_the_head_splices(self):
        status, _, body = self.server.get("/edge.bin")
        self.assertEqual((status, body), (200, self.edge))
        m = self.server.metrics_when(lambda m: m['spliced_sent_bytes_total{tier="splice"}'] >= len(self.edge))
        self.assertEqual(m['spliced_sent_bytes_total{tier="splice"}'], len(self.edge))
        self.assertEqual(m['spliced_sent_bytes_total{tier="small"}'], 0)

    def test_single_range_is_small_and_multipart_is_not(self):
        status, h, body = self.server.get("/small.bin", headers={"Range": "bytes=100-199"})
        self.assertEqual((status, body, h["content-range"]), (206, self.small[100:200], "bytes 100-199/1000"))
        m = self.server.metrics_when(lambda m: m['spliced_sent_bytes_total{tier="small"}'] >= 100)
        self.assertEqual(m['spliced_sent_bytes_total{tier="small"}'], 100)
        status, h, body = self.server.get("/small.bin", headers={"Range": "bytes=0-9,20-29"})
        self.assertEqual(status, 206)
        self.assertIn(self.small[20:30], body)
        m = self.server.metrics_when(lambda m: m['spliced_sent_bytes_total{tier="splice"}'] >= 20)
        self.assertEqual(m['spliced_sent_bytes_total{tier="small"}'], 100)

    def test_head_request_and_pipelining(self):
        self.assertEqual(self.server.get("/small.bin", method="HEAD")[2], b"")
        s = self.server.connect()
        s.sendall(b"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 3 +
                  b"GET /s1.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        f = s.makefile("rb", buffering=0)
        for expected in (self.small, self.small, self.small, self.files["/s1.bin"]):
            code, headers = read_response(f)
            self.assertEqual(code, 200)
            self.assertEqual(read_exactly(f, int(headers["content-length"])), expected)
        self.assertEqual(f.read(), b"")
        s.close()

    def test_64_downloads_wait_for_2_buffers(self):
        checks = {name: (lambda body, data=data: body == data) for name, data in self.files.items()}
        self.assertEqual(concurrent_downloads(self.server, 64, checks), [])


class SlowReaders(ServerTest):
    """256 clients each reading at 100 KiB/s: a slow client never holds a kernel thread. Full
    sockets answer -EAGAIN and are polled, so the process never has more threads than its workers,
    the control plane, each ring's bounded io-wq (--iowq-workers, bounded + unbounded) and a few."""
    CLIENTS = 256
    RATE = 100 << 10  # bytes per second per client
    SECONDS = 3
    IOWQ = 2
    server_args = ("--iowq-workers", str(IOWQ))

    def populate(self, root):
        self.data = offset_pattern(8 << 20)
        self.write("slow.bin", self.data)

    def threads_now(self):
        return os.listdir("/proc/%d/task" % self.server.pid)

    def test_thread_count_stays_bounded(self):
        got = {}
        for _ in range(self.CLIENTS):
            s = self.server.connect()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 10)
            s.sendall(b"GET /slow.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            s.setblocking(False)
            got[s] = bytearray()
        tick = 0.1
        most = len(self.threads_now())
        deadline = time.time() + self.SECONDS
        while time.time() < deadline:
            start = time.time()
            for s, buf in got.items():  # each client takes its 10 KiB for this tick, no more
                try:
                    buf += s.recv(int(self.RATE * tick))
                except BlockingIOError:
                    pass
            most = max(most, len(self.threads_now()))
            time.sleep(max(0.0, tick - (time.time() - start)))
        for s in got:
            s.close()

        bound = 1 + self.threads + self.threads * 2 * self.IOWQ + 4
        self.assertLessEqual(most, bound, "threads: %d, bound %d" % (most, bound))
        # Every client was being served all along, at the pace it read.
        for buf in got.values():
            head, _, body = bytes(buf).partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 200"))
            self.assertGreater(len(body), self.RATE * self.SECONDS // 3)
            self.assertEqual(body, self.data[:len(body)])


class SpliceTierTest(ServerTest):
    """One splice-sized file, big.bin (SIZE bytes); runs only under the suites in TIERS (by default
    not the copy tier's, which neither splices, polls nor uses pipes)."""
    SIZE = 16 << 20
    TIERS = ("auto", "splice", None)
    threads = 1

    def populate(self, root):
        self.data = offset_pattern(self.SIZE)
        self.write("big.bin", self.data)

    def setUp(self):
        if TRANSFER not in self.TIERS:
            self.skipTest("not for the %s tier" % TRANSFER)
        super().setUp()


class BatchedWaits(SpliceTierTest):
    """--batch-wait-us: with eight splicing downloads in flight the loop waits for several
    completions at a time, and every byte still arrives in order, on both the batched and the
    unbatched server. How many wake-ups batching saves depends on how fast the clients read, so it
    is measured by perf/compare's `batched` variant (perf/RESULTS.md, "Batched waits"), not
    asserted here: on a loaded CI machine the same test has measured 0.36 and 0.79 enter calls per
    completion."""
    SIZE = 24 << 20
    CLIENTS = 8
    server_args = ("--batch-wait-us", "2000")

    def download_all(self, server):
        import threading
        bodies = [None] * self.CLIENTS

        def fetch(i):
            s = server.connect(timeout=30)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 << 10)  # POLLOUT cycles
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            f = s.makefile("rb", buffering=0)
            code, headers = read_response(f)
            bodies[i] = (code, read_exactly(f, int(headers["content-length"])))
            s.close()

        workers = [threading.Thread(target=fetch, args=(i,)) for i in range(self.CLIENTS)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        for code, body in bodies:
            self.assertEqual(code, 200)
            self.assertEqual(hashlib.sha256(body).hexdigest(), hashlib.sha256(self.data).hexdigest())
        aborted = {k: v for k, v in server.metrics().items()
                   if k.startswith("spliced_responses_aborted_total") and v}
        self.assertEqual(aborted, {})

    def test_every_byte_in_order_batched_or_not(self):
        self.download_all(self.server)
        plain = Server(self.root, "--batch-wait-us", "0", threads=1)
        try:
            self.download_all(plain)
        finally:
            plain.stop()


class StalledClients(SpliceTierTest):
    """Clients that stop reading hold no pipes while they are waited for: with 16 pipes
    (--registered-files 64 gives pipes a quarter of the table), 24 stalled downloads do not keep a
    25th client waiting for their 60-second send timeout, and the stalled ones still get every byte
    once they read again."""
    STALLED = 24
    server_args = ("--registered-files", "64")

    def test_stalled_downloads_do_not_hold_pipes(self):
        stalled = []
        for _ in range(self.STALLED):
            s = self.server.connect(timeout=30)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)  # far less than 16 MiB
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            stalled.append(s)
        for s in stalled:  # every response has started...
            s.recv(1, socket.MSG_PEEK)
        # ... and every transfer waits for its client holding no pipe (or buffer, in copy)
        self.server.metrics_when(lambda m: m["spliced_pipes_in_use"] == 0 and
                                 m["spliced_buffers_in_use"] == 0, timeout=20)
        c = self.server.http(timeout=20)  # far less than --send-timeout
        c.request("GET", "/big.bin")
        r = c.getresponse()
        body = r.read()
        c.close()
        self.assertEqual(r.status, 200)
        self.assertEqual(body, self.data)
        for s in stalled:  # and the stalled ones resume where they stopped
            f = s.makefile("rb", buffering=0)
            code, headers = read_response(f)
            self.assertEqual(code, 200)
            self.assertEqual(read_exactly(f, self.SIZE), self.data)
            s.close()


class StalledCopyTransfers(StalledClients):
    """The copy tier's buffers are not held for clients either: with 4 of them, 24 stalled
    downloads do not keep a 25th waiting (SENDs do not wait; a full socket gives the buffer back
    and the unsent bytes are read again after POLLOUT)."""
    TIERS = ("copy",)
    server_args = ("--buffers", "4", "--buffer-size", "64k")


class StalledSmallResponses(ServerTest):
    """Nor are the small tier's: 8 clients that pipeline 2,000 requests for a 4 KiB file (8.6 MB of
    responses each, more than both socket buffers hold) and stop reading, with 4 small-tier
    buffers, do not keep a 9th client waiting, and each gets its 2,000 responses in order once it
    reads again. Runs under the auto suite (the small tier is auto's)."""
    PIPELINED = 2000
    threads = 1
    server_args = ("--buffers", "4", "--buffer-size", "64k")

    def populate(self, root):
        self.data = offset_pattern(4096)
        self.write("small.bin", self.data)

    def setUp(self):
        if TRANSFER not in ("auto", None):
            self.skipTest("the small tier is auto's")
        super().setUp()

    def test_stalled_pipelines_do_not_hold_small_buffers(self):
        stalled = []
        for _ in range(8):
            s = self.server.connect(timeout=30)
            s.sendall(b"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n" * self.PIPELINED)
            stalled.append(s)
        for s in stalled:  # every pipeline is being answered...
            s.recv(1, socket.MSG_PEEK)
        # ... and every socket is full, each connection waiting with no small-tier buffer
        self.server.metrics_when(lambda m: m["spliced_buffers_in_use"] == 0, timeout=20)
        c = self.server.http(timeout=20)  # far less than --send-timeout
        c.request("GET", "/small.bin")
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (200, self.data))
        c.close()
        for s in stalled:
            f = s.makefile("rb")
            for i in range(self.PIPELINED):
                code, headers = read_response(f)
                self.assertEqual((i, code), (i, 200))
                self.assertEqual(read_exactly(f, int(headers["content-length"])), self.data, i)
            s.close()
        m = self.server.metrics()
        self.assertGreater(m.get('spliced_completion_latency_seconds_count{op="poll"}', 0), 0)


class SpliceRefused(ServerTest):
    """A file system that refuses splice (simulated by a test-only flag): auto falls back to the
    copy tier for the file, counts it, and the client sees exactly the same response."""
    server_args = ("--transfer", "auto", "--test-refuse-splice")

    def populate(self, root):
        self.data = offset_pattern(3 << 20)
        self.write("f.bin", self.data)

    def test_fallback_is_invisible_to_the_client(self):
        status, h, body = self.server.get("/f.bin")
        self.assertEqual((status, body), (200, self.data))
        status, h, body = self.server.get("/f.bin", headers={"Range": "bytes=10-19,1000000-1000009"})
        self.assertEqual(status, 206)
        self.assertIn(self.data[1000000:1000010], body)
        m = self.server.metrics_when(lambda m: m['spliced_transfer_fallbacks_total{reason="splice_refused"}'] >= 3)
        self.assertEqual(m['spliced_transfer_fallbacks_total{reason="splice_refused"}'], 3)
        self.assertEqual(m['spliced_sent_bytes_total{tier="splice"}'], 0)


class FileChanges(ServerTest):
    SIZE = 64 << 20
    # Every lookup checks the path again (test_open_file_cache.py covers the validity window).
    server_args = ("--open-file-cache-valid", "0ms")

    def populate(self, root):
        self.data = offset_pattern(self.SIZE)
        self.write("moving.bin", self.data)

    def start_paused_download(self):
        return paused_download(self.server, "/moving.bin")

    def test_truncated_mid_transfer_gives_exact_prefix_and_close(self):
        # Truncate beyond what is already in flight (pipe + socket buffers hold at most a few
        # MiB here): bytes handed to the kernel reference the page cache, so truncating *under*
        # them is the zero-copy caveat documented in the README, not something a server can undo.
        s, f, prefix = self.start_paused_download()
        new_size = 32 << 20
        with open(os.path.join(self.root, "moving.bin"), "r+b") as g:
            g.truncate(new_size)
        got = prefix + read_exactly(f, self.SIZE)  # returns only once the server closes
        s.close()
        self.assertEqual(len(got), new_size)  # the bytes that exist, then the close
        self.assertEqual(got, self.data[:new_size])  # never padding, never garbage

    def test_replaced_by_rename_keeps_serving_old_bytes(self):
        s, f, prefix = self.start_paused_download()
        tmp = self.write("new.bin", b"N" * 1000)
        os.rename(tmp, os.path.join(self.root, "moving.bin"))
        got = prefix + read_exactly(f, self.SIZE - len(prefix))
        s.close()
        self.assertEqual(got, self.data)
        self.assertEqual(self.server.get("/moving.bin")[2], b"N" * 1000)

    def test_unlinked_file_finishes(self):
        s, f, prefix = self.start_paused_download()
        os.unlink(os.path.join(self.root, "moving.bin"))
        got = prefix + read_exactly(f, self.SIZE - len(prefix))
        s.close()
        self.assertEqual(got, self.data)
        self.assertEqual(self.server.get("/moving.bin")[0], 404)


class OutOfDescriptors(ServerTest):
    """With a tiny fixed-file table, requests beyond it get 503 + Retry-After, never a hang.
    Without the open-file cache every transfer holds a slot of its own."""
    server_args = ("--registered-files", "64", "--open-file-cache", "0")
    threads = 1

    def populate(self, root):
        self.write("big.bin", b"z" * (16 << 20))

    def test_503_when_fixed_table_is_full(self):
        holders = []
        for _ in range(80):  # more transfers than the 64 slots can hold files (and pipes) for
            s = self.server.connect()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            holders.append(s)
        # Once the holders have taken the table, the next request is refused.
        status, headers, _ = wait_for(
            lambda: (lambda r: r if r[0] == 503 else None)(self.server.get("/big.bin")), 20,
            "a 503 once 80 transfers hold the 64 slots")
        self.assertEqual(headers["retry-after"], "1")
        for s in holders:
            s.close()
        # Transfers still queued for a pipe notice their client is gone only when they get one:
        # the slots come back in a short chain reaction, not all at once.
        m = self.server.metrics_when(lambda m: m["spliced_connections_active"] == 0, timeout=20)
        self.assertEqual(m["spliced_connections_active"], 0)
        self.assertEqual(self.server.get("/big.bin")[2], b"z" * (16 << 20))


if __name__ == "__main__":
    main()
