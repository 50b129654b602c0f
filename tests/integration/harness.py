"""Starts the real spliced binary on 127.0.0.1:0 and talks to it with real clients.

Every test gets its own server and root directory; everything started is stopped.
Environment: SPLICED_BIN (the binary), SPLICED_TRANSFER (optional --transfer value).
"""
import contextlib
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN = os.environ.get("SPLICED_BIN", "build/src/spliced")
TRANSFER = os.environ.get("SPLICED_TRANSFER")
SKIP = 77


def sanitized():
    """Whether BIN is built with AddressSanitizer (./dev test --sanitize)."""
    r = subprocess.run(["ldd", BIN], capture_output=True, text=True)
    return "libasan" in r.stdout


def without_leak_check():
    """ASAN_OPTIONS for a sanitized binary run under a seccomp profile: LeakSanitizer stops the
    process with ptrace at exit, which a production profile rightly refuses ("LeakSanitizer has
    encountered a fatal error"); every other check stays on."""
    options = [o for o in os.environ.get("ASAN_OPTIONS", "").split(":")
               if o and not o.startswith("detect_leaks=")]
    return ":".join(options + ["detect_leaks=0"])


def offset_pattern(size):
    """Bytes that spell out their own offsets ("X000000000 X000000010 ..."): a wrong range or a
    shifted byte shows up in a failure message as a readable offset (nginx-tests' range.t)."""
    out = bytearray()
    pos = 0
    while pos < size:
        out += b"X%09d" % pos
        pos += 10
    return bytes(out[:size])


class Server:
    def __init__(self, root, *args, threads=2, prefix=(), stderr_path=None):
        """`stderr_path`: where the server's stderr goes for a long run (a pipe nobody reads
        during the run would fill and block it); by default a pipe read at stop()."""
        cmd = list(prefix) + [BIN, "--root", root, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
               "--threads", str(threads)]
        if TRANSFER and "--transfer" not in args:
            cmd += ["--transfer", TRANSFER]
        if "--drain-timeout" not in args:
            cmd += ["--drain-timeout", "3s"]
        if "--drain-delay" not in args:
            cmd += ["--drain-delay", "0ms"]  # tests of the delay ask for one
        cmd += list(args)
        self.err_file = open(stderr_path, "w+") if stderr_path else None
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.err_file or subprocess.PIPE, text=True)
        self.port = None
        self.metrics_port = None
        deadline = time.time() + 10
        while time.time() < deadline and (self.port is None or self.metrics_port is None):
            line = self.proc.stdout.readline()
            if not line:
                err = self.stderr_text()
                if "io_uring" in err and ("Operation not permitted" in err or "not implemented" in err):
                    print("io_uring unavailable: " + err, file=sys.stderr)
                    sys.exit(SKIP)
                raise RuntimeError("spliced exited: " + err)
            if line.startswith("listening on http://127.0.0.1:"):
                self.port = int(line.rsplit(":", 1)[1])
            elif line.startswith("metrics on http://127.0.0.1:"):
                self.metrics_port = int(line.rsplit(":", 1)[1].split("/")[0])
        if self.port is None:
            raise RuntimeError("no readiness line")

    @property
    def pid(self):
        return self.proc.pid

    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return s

    def http(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path, method="GET", headers=None):
        c = self.http()
        try:
            c.request(method, path, headers=headers or {})
            r = c.getresponse()
            body = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body
        finally:
            c.close()

    def metrics(self):
        c = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=10)
        c.request("GET", "/metrics")
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        return parse_prometheus(text)

    def metrics_when(self, ready, timeout=5):
        """Scrapes until `ready(samples)` holds and returns the samples; fails the test if it does
        not hold within `timeout` seconds. Counters move when the server reaps a completion,
        which can be just after the client has its response, so a test that counts must wait."""
        last = {}

        def scrape():
            last.clear()
            last.update(self.metrics())
            return dict(last) if ready(last) else None

        try:
            return wait_for(scrape, timeout, "a scrape where the condition holds")
        except AssertionError as e:
            shown = {k: v for k, v in last.items() if not k.startswith(
                ("spliced_completion_latency", "spliced_request_duration", "process_"))}
            raise AssertionError("%s; last scrape: %r" % (e, shown)) from None

    def health(self, path="/healthz"):
        c = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status

    def fd_count(self):
        """Descriptors the server holds, not counting connections to its metrics endpoint: the
        control plane closes a scrape's connection a moment after answering, so counting it would
        make every before/after comparison a race with the scrape that preceded it."""
        scrapes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    next(f)
                    for line in f:
                        fields = line.split()
                        port = int(fields[1].rsplit(":", 1)[1], 16)
                        if port == self.metrics_port and fields[3] != "0A":  # not the listener
                            scrapes.add("socket:[%s]" % fields[9])
            except OSError:
                pass
        count = 0
        for fd in os.listdir("/proc/%d/fd" % self.pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (self.pid, fd))
            except OSError:
                continue  # closed while listed
            count += target not in scrapes
        return count

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server; returns (exit code, everything it wrote to stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.stderr_text()
        self.proc.stdout.close()
        for f in (self.proc.stderr, self.err_file):
            if f:
                f.close()
        return self.proc.returncode, err

    def stderr_text(self):
        """Everything the server wrote to stderr; waits for it to exit."""
        if self.err_file:
            if self.err_file.closed:
                return ""
            self.proc.wait()
            self.err_file.seek(0)
            return self.err_file.read()
        return self.proc.stderr.read() if not self.proc.stderr.closed else ""


def wait_for(condition, timeout, what):
    """Polls `condition()` until it returns something true and returns that; raises
    AssertionError naming `what` when `timeout` seconds pass first. The only way tests wait."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def ring_fdinfo(pid):
    """fdinfo of every io_uring descriptor the process holds (one per worker ring), as
    {field: value}. The kernel leaves out the registered files and buffers when the ring's lock is
    busy at that moment, so each ring is read until they are there."""
    rings = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:[io_uring]":
                continue
            for _ in range(100):
                with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                    info = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
                if "UserFiles" in info:
                    break
                time.sleep(0.01)
            rings.append(info)
        except FileNotFoundError:
            pass
    return rings


def parse_prometheus(text):
    """Sample lines → {'name{labels}': value}; the real text format, comments skipped."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        out[key] = float(value)
    return out


def raw_exchange(sock, data, until_close=True, timeout=10):
    """Sends bytes, returns everything received until the server closes."""
    sock.settimeout(timeout)
    sock.sendall(data)
    chunks = []
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        chunks.append(chunk)
        if not until_close:
            break
    return b"".join(chunks)


def read_response(sock_file):
    """Reads one response (status, headers, body) from a socket's file object."""
    status_line = sock_file.readline()
    if not status_line:
        return None
    version, code, _ = status_line.decode().split(" ", 2)
    headers = {}
    while True:
        line = sock_file.readline()
        if line in (b"\r\n", b""):
            break
        k, v = line.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return int(code), headers


def paused_download(server, path, rcvbuf=65536, first=100_000):
    """Starts a download, reads the head and `first` body bytes, then stops reading so that the
    server fills the socket and its pipe and waits for POLLOUT. Returns (socket, file, prefix)."""
    s = server.connect(timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    f = s.makefile("rb", buffering=0)
    code, _ = read_response(f)
    if code != 200:
        raise AssertionError("GET %s: %s" % (path, code))
    prefix = f.read(first)
    time.sleep(0.3)
    return s, f, prefix


def read_exactly(f, n):
    """Reads until n bytes or end of stream."""
    chunks, have = [], 0
    while have < n:
        chunk = f.read(min(1 << 20, n - have))
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)


def concurrent_downloads(server, count, expected):
    """`count` simultaneous GETs spread over `expected` ({path: check(body) -> bool}); returns
    every failure as (path, status or exception, body length)."""
    import threading
    errors = []
    paths = sorted(expected)

    def download(i):
        path = paths[i % len(paths)]
        try:
            status, _, body = server.get(path)
            if status != 200 or not expected[path](body):
                errors.append((path, status, len(body)))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            errors.append((path, repr(e), 0))

    threads = [threading.Thread(target=download, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


class ServerTest(unittest.TestCase):
    server_args = ()
    threads = 2

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="spliced-test-")
        self.populate(self.root)
        self.server = Server(self.root, *self.server_args, threads=self.threads)

    def tearDown(self):
        # A clean SIGTERM exit is part of every test: sanitizer reports (leaks included) and
        # crashes at shutdown turn into failures here.
        code, err = self.server.stop(signal.SIGTERM)
        shutil.rmtree(self.root, ignore_errors=True)
        self.assertNotIn("Sanitizer", err)
        self.assertNotIn("runtime error", err)
        self.assertIn(code, (0, None) if self.server_stopped_by_test else (0,), err)

    server_stopped_by_test = False

    def populate(self, root):
        pass

    def write(self, name, data):
        path = os.path.join(self.root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path


def main():
    unittest.main(verbosity=2)
