"""Chaos: the clients a public origin sees every day (chaos.py), against tiny pools and short
timeouts, then SIGTERM with downloads in flight. The server must never die, every byte it sends
must be right, and everything it held must come back: descriptors, fixed-table slots, pipes,
buffers. Every request is counted and logged exactly once.

Seeded (CHAOS_SEED, default 1) and bounded (CHAOS_SECONDS, default 12; CHAOS_CLIENTS, 48).
Regression for issue 11: on 98c1217 this dies with heap-use-after-free (ASan) or SIGSEGV."""
import os
import re
import shutil
import signal
import socket
import tempfile
import time
import unittest

import chaos
from harness import Server, main, read_response, wait_for

SEED = int(os.environ.get("CHAOS_SEED", "1"))
SECONDS = float(os.environ.get("CHAOS_SECONDS", "12"))
CLIENTS = int(os.environ.get("CHAOS_CLIENTS", "48"))


class Chaos(unittest.TestCase):
    # Pools made tiny so that every queue fills: 64 fixed slots (16 pipes, 24 cached files),
    # 4 copy and 4 small buffers of 64 KiB, timeouts short enough to fire during the load.
    flags = ("--registered-files", "64", "--buffers", "4", "--buffer-size", "64k",
             "--send-timeout", "1s", "--header-timeout", "1s", "--drain-timeout", "2s")

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="spliced-chaos-")
        self.files = chaos.populate(self.root)
        # Beside the root, not in it (it would be served and listed); a plain path, so that tearDown
        # can still remove it once the root is gone.
        self.log_path = self.root + ".log"
        # One worker: every client contends for the same pools.
        self.server = Server(self.root, *self.flags, "--access-log", self.log_path, threads=1)

    def tearDown(self):
        self.server.stop(signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)
        if os.path.exists(self.log_path):
            os.unlink(self.log_path)

    def alive(self):
        return self.server.proc.poll() is None

    def log_lines(self):
        with open(self.log_path) as f:
            return f.read().splitlines()

    def requests_total(self, samples):
        return sum(v for k, v in samples.items() if k.startswith("spliced_requests_total{"))

    def test_chaos_then_idle_then_sigterm(self):
        print("chaos seed %d, %d clients, %.0f s" % (SEED, CLIENTS, SECONDS))
        idle_fds = self.server.fd_count()
        idle_ops = 2  # the worker's multishot accept and its wake-up read
        tally = chaos.run_chaos(self.server.port, self.files, CLIENTS, SECONDS, SEED,
                                alive=self.alive)
        print(sorted(tally.counts.items()))
        if not self.alive():
            code, err = self.server.stop()
            self.fail("spliced died (exit %s) under chaos:\n%s" % (code, err[-6000:]))
        self.assertEqual(tally.failures, [])
        for what in ("full", "pipeline", "range", "stall", "slow"):
            self.assertGreater(tally.counts.get(what, 0), 0, "no %r completed" % what)

        # Idle again: everything held comes back.
        settled = self.server.metrics_when(
            lambda m: m["spliced_connections_active"] == 0 and
            m["spliced_ops_in_flight"] == idle_ops, timeout=15)
        self.assertEqual(settled["spliced_pipes_in_use"], 0)
        self.assertEqual(settled["spliced_buffers_in_use"], 0)
        self.assertEqual(settled["spliced_fixed_files_in_use"],
                         settled["spliced_open_file_cache_entries"])
        wait_for(lambda: self.server.fd_count() == idle_fds, timeout=10,
                 what="descriptor count back to %d (now %d)" % (idle_fds, self.server.fd_count()))

        # Every request appears once in requests_total and once in the access log.
        total = self.requests_total(settled)
        self.assertGreater(total, 100)
        wait_for(lambda: len(self.log_lines()) == total, timeout=10,
                 what="%d log lines (have %d)" % (total, len(self.log_lines())))

        # SIGTERM with stalled downloads in flight: each ends (shutdown) and is logged once.
        stalled = []
        for _ in range(8):
            s = self.server.connect()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 10)
            s.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % chaos.BIG.encode())
            code, _ = read_response(s.makefile("rb", buffering=0))
            self.assertEqual(code, 200)
            stalled.append(s)
        code, err = self.server.stop(signal.SIGTERM)
        for s in stalled:
            s.close()
        self.assertNotIn("Sanitizer", err)
        self.assertNotIn("runtime error", err)
        self.assertEqual(code, 0, err[-4000:])
        lines = self.log_lines()
        self.assertEqual(len(lines), total + 8)
        for line in lines[-8:]:
            self.assertRegex(line, r'"GET /big.bin HTTP/1.1" 200 \d+ .* aborted$')
        self.assertEqual(sum(1 for line in lines if re.search(r" (complete|aborted)$", line)),
                         len(lines))


if __name__ == "__main__":
    main()
