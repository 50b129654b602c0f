"""The access log: nginx's combined format plus request time, range and completion, one line per
request, written through the ring."""
import os
import re
import shutil
import signal
import socket
import struct
import tempfile
import time

from harness import Server, ServerTest, main, paused_download, wait_for

COMBINED = re.compile(
    r'^(?P<addr>\S+) - - \[(?P<time>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)" '
    r'(?P<seconds>\d+\.\d{3}) "(?P<range>[^"]*)" (?P<completion>complete|aborted)$')


class AccessLogTest(ServerTest):
    """A server with an access log, and the log's lines once `expected` have been written."""
    threads = 1  # one writer: lines in request order
    extra_args = ()

    def setUp(self):
        self.log_path = os.path.join("/tmp", "spliced-access-%d-%d.log" % (os.getpid(), time.time_ns()))
        self.server_args = ("--access-log", self.log_path) + self.extra_args
        super().setUp()

    def tearDown(self):
        super().tearDown()
        if os.path.exists(self.log_path):
            os.unlink(self.log_path)

    def populate(self, root):
        self.write("a.txt", b"0123456789")
        self.write("big.bin", b"z" * (32 << 20))

    def lines(self):
        deadline = time.time() + 5
        while time.time() < deadline:
            with open(self.log_path) as f:
                text = f.read()
            if text.endswith("\n") and text.count("\n") >= self.expected:
                break
            time.sleep(0.05)
        return [COMBINED.match(line) for line in text.splitlines()]


class AccessLog(AccessLogTest):
    def test_lines_are_combined_format_plus_fields(self):
        self.server.get("/a.txt", headers={"User-Agent": 'evil "agent" \xe9', "Referer": "http://r/"})
        self.server.get("/a.txt", headers={"Range": "bytes=0-1,4-5"})
        self.server.get("/missing")
        s = self.server.connect()
        s.sendall(b"BAD\r\n\r\n")
        s.recv(100)
        s.close()
        self.expected = 4
        lines = self.lines()
        self.assertEqual(len(lines), 4)
        self.assertTrue(all(lines), "every line matches the combined format")
        first, multi, missing, bad = lines
        self.assertEqual((first["addr"], first["request"], first["status"], first["bytes"]),
                         ("127.0.0.1", "GET /a.txt HTTP/1.1", "200", "10"))
        self.assertEqual(first["referer"], "http://r/")
        self.assertEqual(first["agent"], "evil \\x22agent\\x22 \\xE9")  # escaped, one line
        self.assertEqual((multi["status"], multi["range"], multi["completion"]), ("206", "0-1,4-5", "complete"))
        self.assertEqual((missing["status"], missing["bytes"]), ("404", "14"))
        self.assertEqual((bad["status"], bad["request"]), ("400", "- - HTTP/1.1"))

    def test_aborted_transfer_is_logged_as_aborted(self):
        s, f, prefix = paused_download(self.server, "/big.bin")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        f.close()  # the file object holds the descriptor open too
        s.close()  # RST
        self.expected = 1
        lines = self.lines()
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["completion"], "aborted")
        self.assertLess(int(lines[0]["bytes"]), 32 << 20)

    def test_nothing_is_lost_at_shutdown(self):
        for _ in range(200):
            self.server.get("/a.txt")
        code, _ = self.server.stop(signal.SIGTERM)
        self.assertEqual(code, 0)
        with open(self.log_path) as f:
            self.assertEqual(len(f.read().splitlines()), 200)


class EveryExitIsCounted(AccessLogTest):
    """Every request ends in one finish(): a send timeout and a shutdown abort are counted in
    requests_total and responses_aborted_total and logged, like a completed request (issue 11:
    before, neither was counted nor logged)."""

    def setUp(self):
        super().setUp()
        self.server.stop()
        self.server = Server(self.root, "--access-log", self.log_path, "--send-timeout", "1s",
                             "--drain-timeout", "1s", threads=1)

    def test_send_timeout_is_counted_and_logged(self):
        s, f, _ = paused_download(self.server, "/big.bin", rcvbuf=32 << 10)
        # One scrape is no atomic snapshot: the worker adds the abort, then the request, then
        # its duration, and a scrape can fall in between. Wait for all three.
        m = self.server.metrics_when(
            lambda m: m.get('spliced_responses_aborted_total{reason="timeout"}', 0) == 1 and
            m.get('spliced_requests_total{code="200",method="GET"}', 0) >= 1 and
            m.get("spliced_request_duration_seconds_count", 0) >= 1, timeout=10)
        self.assertEqual(m['spliced_requests_total{code="200",method="GET"}'], 1)
        self.assertEqual(m["spliced_request_duration_seconds_count"], 1)
        self.expected = 1
        lines = self.lines()
        f.close()
        s.close()
        self.assertEqual(len(lines), 1)
        self.assertEqual((lines[0]["status"], lines[0]["completion"]), ("200", "aborted"))

    def test_shutdown_abort_is_logged(self):
        s, f, _ = paused_download(self.server, "/big.bin", rcvbuf=32 << 10)
        code, err = self.server.stop(signal.SIGTERM)
        f.close()
        s.close()
        self.assertEqual(code, 0, err)
        with open(self.log_path) as log:
            lines = [COMBINED.match(line) for line in log.read().splitlines()]
        self.assertEqual(len(lines), 1)
        self.assertEqual((lines[0]["request"], lines[0]["completion"]),
                         ("GET /big.bin HTTP/1.1", "aborted"))


class FailedHeadSend(AccessLogTest):
    """A head whose SEND fails (the client resets while the head waits for room in its socket)
    is counted in requests_total and responses_aborted_total{reason="client_gone"} and logged
    once, as aborted (issue 11: before, a failed head send was neither counted nor logged).
    Thousands of pipelined HEAD requests from a client that never reads fill both socket
    buffers, so the server's last head SEND is still waiting when the reset comes."""
    REQUESTS = 20000

    def test_failed_head_send_is_counted_and_logged(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.server.port))
        s.setblocking(False)
        wire = b"HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" * self.REQUESTS
        sent = 0
        while sent < len(wire):  # as much as the server's socket takes; it stops reading
            try:
                sent += s.send(wire[sent:])
            except BlockingIOError:
                break

        def answered():
            return self.server.metrics().get('spliced_requests_total{code="200",method="HEAD"}', 0)

        last = [-1, time.time()]  # the count, and since when it has not moved

        def stuck():  # the count has not moved for half a second, far short of what was sent
            now = answered()
            if now != last[0]:
                last[:] = [now, time.time()]
            return now < self.REQUESTS and time.time() - last[1] >= 0.5

        wait_for(stuck, 30, "the server's head sends waiting for a client that does not read")
        before = last[0]
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST: the waiting SEND fails
        m = self.server.metrics_when(  # the abort and the request: one scrape may split them
            lambda m: m.get('spliced_responses_aborted_total{reason="client_gone"}', 0) == 1 and
            m.get('spliced_requests_total{code="200",method="HEAD"}', 0) >= before + 1,
            timeout=10)
        self.assertEqual(m['spliced_requests_total{code="200",method="HEAD"}'], before + 1)
        self.expected = before + 1
        lines = self.lines()
        self.assertEqual(len(lines), before + 1)
        self.assertEqual([l["completion"] for l in lines].count("aborted"), 1)
        self.assertEqual((lines[-1]["request"], lines[-1]["completion"]),
                         ("HEAD /a.txt HTTP/1.1", "aborted"))


class OutOfMemory(AccessLogTest):
    """Memory running out while a response is planned (simulated by a test-only flag that makes
    the planning throw std::bad_alloc) fails that request with a 503 that needs no memory, closes
    its connection, counts it and logs it; the process and its other requests carry on. Before
    issue 11, the exception left a noexcept function and std::terminate took every client down."""
    extra_args = ("--test-fail-allocation",)

    def test_a_planning_failure_is_a_counted_logged_503(self):
        for _ in range(3):
            status, h, body = self.server.get("/a.txt")
            self.assertEqual((status, body), (503, b""))
            self.assertEqual((h["retry-after"], h["connection"], h["content-length"]),
                             ("1", "close", "0"))
            self.assertIn("date", h)
        # Responses that plan no file still work on the same process.
        self.assertEqual(self.server.get("/missing")[0], 404)
        m = self.server.metrics_when(
            lambda m: m.get('spliced_requests_total{code="404",method="GET"}', 0) == 1)
        self.assertEqual(m['spliced_requests_total{code="503",method="GET"}'], 3)
        self.expected = 4
        lines = self.lines()
        self.assertEqual([(l["request"], l["status"], l["completion"]) for l in lines],
                         [("GET /a.txt HTTP/1.1", "503", "complete")] * 3 +
                         [("GET /missing HTTP/1.1", "404", "complete")])


class SlowLogReader(ServerTest):
    """A log whose reader is slow (here a FIFO nobody reads until shutdown): lines keep gathering
    while a write waits, and at SIGTERM every one of them is still written, after the write that
    was waiting, before the process exits."""
    threads = 1
    REQUESTS = 1000

    def populate(self, root):
        self.write("a.txt", b"0123456789")

    def setUp(self):
        import threading
        self.tmp = tempfile.mkdtemp(prefix="spliced-fifo-")
        self.fifo = os.path.join(self.tmp, "access.fifo")
        os.mkfifo(self.fifo)
        self.go = threading.Event()
        self.text = []

        def reader():
            with open(self.fifo, "rb") as f:  # blocks until spliced opens the write end
                self.go.wait(60)
                self.text.append(f.read())  # until spliced exits (EOF)

        self.reader = threading.Thread(target=reader)
        self.reader.start()
        self.server_args = ("--access-log", self.fifo)
        super().setUp()

    def tearDown(self):
        self.go.set()
        super().tearDown()
        self.reader.join(30)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_lines_gathered_behind_a_waiting_write_are_not_lost_at_shutdown(self):
        agent = "a" * 500  # 1,000 lines of ~600 bytes: far more than a pipe's 64 KiB
        c = self.server.http()
        for _ in range(self.REQUESTS):
            c.request("GET", "/a.txt", headers={"User-Agent": agent})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
        c.close()
        self.server.proc.send_signal(signal.SIGTERM)
        # The worker is draining, its write still waiting for the reader.
        wait_for(lambda: self.server.health() == 503, 10, "the drain to begin")
        self.go.set()
        self.assertEqual(self.server.proc.wait(30), 0)
        self.reader.join(30)
        lines = self.text[0].decode().splitlines()
        self.assertEqual(len(lines), self.REQUESTS)
        self.assertTrue(all(COMBINED.match(line) for line in lines))


class FullDisk(ServerTest):
    """A log whose writes fail (here /dev/full: ENOSPC) never stops the serving; every lost line is
    counted in spliced_access_log_dropped_lines_total."""
    server_args = ("--access-log", "/dev/full")
    threads = 1

    def populate(self, root):
        self.write("a.txt", b"served anyway")

    def test_lost_lines_are_counted(self):
        for _ in range(5):
            self.assertEqual(self.server.get("/a.txt")[2], b"served anyway")
        key = "spliced_access_log_dropped_lines_total"
        m = self.server.metrics_when(lambda m: m[key] >= 5)
        self.assertEqual(m[key], 5)


if __name__ == "__main__":
    main()
