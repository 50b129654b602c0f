"""Seeded chaos load for a running spliced: the clients a public download origin sees every day.

Each client thread loops, for a bounded time, over behaviours picked by its own seeded RNG:
  stall     GET the big file with a 32 KiB receive buffer, read the head, stop reading, then
            close (sometimes with a reset) after 0.5-3 s
  slow      GET the big file and read 16 KiB at a time with short pauses, close after 0.5-3 s
  fast      GET the big file, read it as fast as it comes, close after 0.5-3 s
  full      GET a 1 MiB file to the end
  pipeline  eight pipelined requests (GET, HEAD, 404) on one connection, all read
  range     single and multi-range requests
  reset     send a request and reset the connection at once
  partial   send half a request head and leave it there
Every byte a client receives is checked against the file's offset pattern: a completed body must
be exact, a cut one must be an exact prefix. A connection the server closes is allowed (send and
header timeouts are part of the load); wrong bytes or a stall longer than `stall_limit` with no
byte moving are not.

Usable from tests (run_chaos) and by hand:
  python3 tests/integration/chaos.py --port P --root DIR --clients 300 --seconds 30
"""
import argparse
import random
import re
import socket
import struct
import threading
import time

from harness import offset_pattern

BIG = "big.bin"
MEDIUM = "medium.bin"
SMALL_COUNT = 16


def populate(root, big_size=32 << 20):
    """Writes the files the load asks for; returns {name: bytes}."""
    import os
    files = {BIG: offset_pattern(big_size), MEDIUM: offset_pattern(1 << 20)}
    for i in range(SMALL_COUNT):
        files["small%02d.txt" % i] = offset_pattern(1000 + i * 500)
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    return files


class Tally:
    """What the clients saw; the failures are what a test asserts is empty."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.failures = []
        self.heads = 0  # responses whose status line and headers arrived

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def fail(self, what):
        with self.lock:
            if len(self.failures) < 50:
                self.failures.append(what)


class Stalled(Exception):
    """No byte for stall_limit seconds: the server hangs this client."""


class Closed(Exception):
    """The server closed the connection (allowed)."""


class Client:
    def __init__(self, port, files, tally, rng, stall_limit):
        self.port, self.files, self.tally, self.rng = port, files, tally, rng
        self.stall_limit = stall_limit

    def connect(self, rcvbuf=None):
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(self.stall_limit)
        s.connect(("127.0.0.1", self.port))
        return s

    def close(self, s, reset=False):
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    # -- reading ------------------------------------------------------------------------------

    def recv(self, s, n):
        try:
            data = s.recv(n)
        except socket.timeout:
            raise Stalled()
        except (ConnectionResetError, BrokenPipeError):
            raise Closed()
        if not data:
            raise Closed()
        return data

    def head(self, s, buf):
        """Reads one response head; returns (status, headers, leftover bytes)."""
        while b"\r\n\r\n" not in buf:
            buf += self.recv(s, 65536)
            if len(buf) > 65536:
                raise AssertionError("head too long")
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        self.tally.heads += 1
        return status, headers, rest

    def body(self, s, buf, length, expected, label):
        """Reads `length` body bytes (some already in buf) and checks them against `expected`.
        Returns the leftover bytes after the body. A cut body must be an exact prefix."""
        got = bytearray(buf[:length])
        rest = buf[length:]
        try:
            while len(got) < length:
                got += self.recv(s, min(1 << 20, length - len(got)))
        finally:
            if bytes(got) != expected[:len(got)]:
                self.tally.fail("%s: wrong bytes in the first %d" % (label, len(got)))
        return rest

    # -- behaviours ---------------------------------------------------------------------------

    def stall(self):
        s = self.connect(rcvbuf=32 << 10)
        try:
            s.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % BIG.encode())
            status, _, rest = self.head(s, b"")
            if status != 200:
                self.tally.fail("stall: status %d" % status)
            data = self.files[BIG]
            if rest != data[:len(rest)]:
                self.tally.fail("stall: wrong first bytes")
            time.sleep(self.rng.uniform(0.5, 3.0))  # the behaviour: a client that stopped reading
        finally:
            self.close(s, reset=self.rng.random() < 0.5)
        self.tally.count("stall")

    def slow(self, pause=0.02, label="slow"):
        s = self.connect(rcvbuf=32 << 10 if pause else None)
        data = self.files[BIG]
        end = time.time() + self.rng.uniform(0.5, 3.0)
        try:
            s.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % BIG.encode())
            status, _, got = self.head(s, b"")
            if status != 200:
                self.tally.fail("%s: status %d" % (label, status))
            got = bytearray(got)
            while time.time() < end and len(got) < len(data):
                got += self.recv(s, 16 << 10 if pause else 1 << 20)
                if pause:
                    time.sleep(self.rng.uniform(0, pause))
            if bytes(got) != data[:len(got)]:
                self.tally.fail("%s: wrong bytes in the first %d" % (label, len(got)))
        finally:
            self.close(s, reset=self.rng.random() < 0.3)
        self.tally.count(label)

    def fast(self):
        """Reads the big file as fast as it comes and leaves after 0.5-3 s: keeps pipes and
        buffers busy while the others stall and time out."""
        self.slow(pause=0, label="fast")

    def full(self):
        s = self.connect()
        try:
            s.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % MEDIUM.encode())
            status, headers, rest = self.head(s, b"")
            data = self.files[MEDIUM]
            if status != 200 or int(headers["content-length"]) != len(data):
                self.tally.fail("full: status %d" % status)
            self.body(s, rest, len(data), data, "full")
        finally:
            self.close(s)
        self.tally.count("full")

    def pipeline(self):
        s = self.connect()
        smalls = sorted(n for n in self.files if n.startswith("small"))
        plan = []
        for _ in range(8):
            r = self.rng.random()
            if r < 0.15:
                plan.append(("GET", "missing-%d" % self.rng.randrange(1000), 404))
            elif r < 0.3:
                plan.append(("HEAD", self.rng.choice(smalls), 200))
            else:
                plan.append(("GET", self.rng.choice(smalls), 200))
        try:
            s.sendall(b"".join(b"%s /%s HTTP/1.1\r\nHost: x\r\n\r\n" % (m.encode(), p.encode())
                               for m, p, _ in plan))
            rest = b""
            for method, path, want in plan:
                status, headers, rest = self.head(s, rest)
                if status != want:
                    self.tally.fail("pipeline: %s %s: %d" % (method, path, status))
                    return
                length = int(headers.get("content-length", "0"))
                if method == "HEAD":
                    continue
                expected = self.files.get(path, b"404 Not Found\n")
                rest = self.body(s, rest, length, expected, "pipeline " + path)
            self.tally.count("pipeline")
        finally:
            self.close(s)

    def ranges(self):
        s = self.connect()
        data = self.files[MEDIUM]
        n = self.rng.choice([1, 1, 2, 3])
        spans = []
        for _ in range(n):
            a = self.rng.randrange(len(data) - 1)
            spans.append((a, min(len(data) - 1, a + self.rng.randrange(1, 200_000))))
        spans.sort()
        # Overlapping or adjacent ranges may be coalesced: ask for separated ones only.
        if any(b[0] <= a[1] + 1 for a, b in zip(spans, spans[1:])):
            spans = spans[:1]
        header = ",".join("%d-%d" % sp for sp in spans)
        try:
            s.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\nRange: bytes=%s\r\n\r\n"
                      % (MEDIUM.encode(), header.encode()))
            status, headers, rest = self.head(s, b"")
            if status != 206:
                self.tally.fail("range %s: status %d" % (header, status))
                return
            length = int(headers["content-length"])
            if len(spans) == 1:
                a, b = spans[0]
                self.body(s, rest, length, data[a:b + 1], "range " + header)
            else:
                boundary = re.search(r"boundary=(\S+)", headers["content-type"]).group(1)
                whole = bytearray(rest)
                while len(whole) < length:
                    whole += self.recv(s, 1 << 20)
                parts = bytes(whole[:length]).split(b"--" + boundary.encode())[1:-1]
                for (a, b), part in zip(spans, parts):
                    body = part.split(b"\r\n\r\n", 1)[1][:-2]  # the CRLF before the boundary
                    if body != data[a:b + 1]:
                        self.tally.fail("multipart %s: part %d-%d wrong" % (header, a, b))
                if len(parts) != len(spans):
                    self.tally.fail("multipart %s: %d parts" % (header, len(parts)))
            self.tally.count("range")
        finally:
            self.close(s)

    def reset(self):
        s = self.connect()
        s.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n"
                  % self.rng.choice([BIG, MEDIUM]).encode())
        self.close(s, reset=True)
        self.tally.count("reset")

    def partial(self):
        s = self.connect()
        try:
            s.sendall(b"GET /%s HTTP/1.1\r\nHo" % MEDIUM.encode())
            if self.rng.random() < 0.5:
                # Leave it to the header timeout: the server must close, never answer.
                data = s.recv(1024)
                if data:
                    self.tally.fail("partial: answered %r" % data[:40])
        except socket.timeout:
            self.tally.fail("partial: header timeout never came")
        except ConnectionResetError:
            pass
        finally:
            self.close(s)
        self.tally.count("partial")

    # Stalled and fast readers dominate: they keep the pools empty while others time out.
    BEHAVIOURS = [("stall", 0.25), ("fast", 0.2), ("slow", 0.12), ("full", 0.12),
                  ("pipeline", 0.1), ("range", 0.1), ("reset", 0.06), ("partial", 0.05)]

    def once(self, behaviours=None):
        r, name = self.rng.random(), None
        for name, weight in behaviours or self.BEHAVIOURS:
            r -= weight
            if r < 0:
                break
        try:
            getattr(self, "ranges" if name == "range" else name)()
        except Closed:
            self.tally.count(name + " closed by server")
        except Stalled:
            self.tally.fail("%s: no byte for %.0f s" % (name, self.stall_limit))
        except ConnectionRefusedError:
            self.tally.fail("%s: connection refused" % name)
        except OSError as e:
            self.tally.count("%s %s" % (name, type(e).__name__))


def run_chaos(port, files, clients, seconds, seed, stall_limit=15.0, alive=None, behaviours=None):
    """Runs the load; returns the Tally. `alive()` is checked by every client between
    behaviours: the load stops early once it is false (the server died). `behaviours` is a list
    of (name, weight) replacing Client.BEHAVIOURS."""
    tally = Tally()
    stop_at = time.time() + seconds

    def loop(i):
        client = Client(port, files, tally, random.Random(seed * 100_003 + i), stall_limit)
        while time.time() < stop_at and (alive is None or alive()):
            client.once(behaviours)

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--root", required=True, help="directory served (the files are written there)")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mix", help="NAME=WEIGHT,... instead of the default mix, e.g. stall=0.4,slow=0.6")
    a = p.parse_args()
    mix = [(n, float(w)) for n, w in (x.split("=") for x in a.mix.split(","))] if a.mix else None
    tally = run_chaos(a.port, populate(a.root), a.clients, a.seconds, a.seed, behaviours=mix)
    print(sorted(tally.counts.items()))
    for f in tally.failures:
        print("FAIL", f)
    raise SystemExit(1 if tally.failures else 0)


if __name__ == "__main__":
    main()
