"""spliced-get against a real spliced on 127.0.0.1: byte-exact downloads at the sizes that hit
edges, the documented exit codes, and resuming after SIGKILL — including when the file changed in
between (never a mix of two versions). Environment: SPLICED_BIN, SPLICED_GET_BIN."""
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Server, offset_pattern, wait_for

GET = os.environ.get("SPLICED_GET_BIN", "build/src/spliced-get")
PIECE = 65536


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class ThrottlingProxy:
    """Relays one TCP connection per client to `port`, sending the server's bytes to the client
    at about `rate` bytes/s, so that a download lasts long enough to be interrupted."""

    def __init__(self, port, rate):
        self.upstream, self.rate = port, rate
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.sockets = []
        self.threads = [threading.Thread(target=self.accept, daemon=True)]
        self.threads[0].start()

    def accept(self):
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self.sockets += [client, server]
            for src, dst, slow in ((client, server, False), (server, client, True)):
                t = threading.Thread(target=self.pump, args=(src, dst, slow), daemon=True)
                t.start()
                self.threads.append(t)

    def pump(self, src, dst, slow):
        chunk = 16384
        try:
            while not self.stopped.is_set():
                data = src.recv(chunk)
                if not data:
                    break
                dst.sendall(data)
                if slow:
                    time.sleep(len(data) / self.rate)  # pacing, not synchronisation
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stopped.set()
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self.threads:
            t.join(10)
        for s in self.sockets:
            s.close()


class GetTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="spliced-get-root-")
        self.out = tempfile.mkdtemp(prefix="spliced-get-out-")
        self.server = Server(self.root, threads=1)
        self.base = "http://127.0.0.1:%d/" % self.server.port

    def tearDown(self):
        code, err = self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.out, ignore_errors=True)
        self.assertEqual(code, 0, err)

    def write(self, name, data):
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)

    def get(self, *args, timeout=120):
        p = subprocess.run([GET, *args], cwd=self.out, capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def get_json(self, *args):
        code, out, err = self.get(*args, "--json")
        report = json.loads(out)
        self.assertEqual(report["exit_code"], code, err)
        return code, report, err

    def left_over(self):
        return sorted(n for n in os.listdir(self.out) if n.endswith((".part", ".state", ".tmp")))

    def output(self, name):
        with open(os.path.join(self.out, name), "rb") as f:
            return f.read()

    def test_sizes_and_connections_are_byte_exact(self):
        sizes = [0, 1, 4095, 4096, 4097, PIECE - 1, PIECE, PIECE + 1, 5 * PIECE + 3, 3 << 20]
        for size in sizes:
            self.write("f%d" % size, os.urandom(size))
        for n in (1, 4, 16):
            for size in sizes:
                with self.subTest(size=size, connections=n):
                    name = "f%d" % size
                    code, report, err = self.get_json(self.base + name, "-n", str(n),
                                                      "--piece-size", str(PIECE), "-f")
                    self.assertEqual(code, 0, err)
                    with open(os.path.join(self.root, name), "rb") as f:
                        expected = f.read()
                    self.assertEqual(sha256(self.output(name)), sha256(expected))
                    self.assertEqual(report["sha256"], sha256(expected))
                    self.assertEqual(report["size"], size)
                    self.assertEqual(report["bytes_fetched"], size)
                    self.assertEqual(report["retries"], 0)
                    self.assertEqual(self.left_over(), [])

    def test_exit_codes(self):
        self.write("f", offset_pattern(10000))
        self.assertEqual(self.get(self.base + "f", "-q")[0], 0)
        code, _, err = self.get(self.base + "f")
        self.assertEqual(code, 4, err)
        self.assertIn("exists", err)
        self.assertEqual(self.get(self.base + "f", "--force", "-q")[0], 0)
        code, _, err = self.get(self.base + "missing")
        self.assertEqual(code, 7, err)
        self.assertIn("404", err)
        self.assertEqual(self.left_over(), [])
        code, _, err = self.get(self.base + "f", "-o", "g", "--checksum", "sha-256=" + "0" * 64)
        self.assertEqual(code, 9, err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "g")))
        self.assertEqual(self.left_over(), [])
        good = "sha-256=" + sha256(offset_pattern(10000))
        code, report, err = self.get_json(self.base + "f", "-o", "h", "--checksum", good)
        self.assertEqual((code, report["integrity"]), (0, "checksum"), err)
        for bad in (["https://127.0.0.1/x"], ["not a url"], [self.base + "f", "-n", "0"],
                    [self.base + "f", "--checksum", "md5=00"], [self.base + "f", "--stall-timeout", "x"],
                    [self.base + "a/.."], []):
            with self.subTest(args=bad):
                self.assertEqual(self.get(*bad)[0], 2)
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            dead = "http://127.0.0.1:%d/f" % s.getsockname()[1]
            code, report, err = self.get_json(dead, "-o", "i", "--retries", "2")
        self.assertEqual((code, report["retries"]), (6, 3), err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "i")))

    def test_a_second_instance_on_the_same_output_is_locked(self):
        self.write("f", b"x" * 1000)
        with open(os.path.join(self.out, "f.part"), "wb") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            code, _, err = self.get(self.base + "f")
        self.assertEqual(code, 3, err)
        self.assertIn("locked", err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "f")))

    def test_a_full_disk_fails_before_any_body_byte(self):
        """FILE.part is reserved with fallocate as soon as the size is known: on a 1 MiB tmpfs a
        4 MiB download exits 5 (local I/O) without fetching a body byte or retrying, and leaves
        nothing behind. The tmpfs lives in a private mount namespace of the spliced-get process."""
        self.write("f", os.urandom(4 << 20))
        disk = os.path.join(self.out, "disk")
        os.mkdir(disk)
        script = ('mount -t tmpfs -o size=1m tmpfs "$0" && cd "$0" || exit 99; "$@"; code=$?; '
                  'echo "left: [$(ls -A)]" >&2; exit $code')
        wrap = ["unshare", "--mount", "--map-root-user", "sh", "-c", script, disk]
        probe = subprocess.run(wrap + ["true"], capture_output=True, text=True)
        if probe.returncode != 0:
            self.skipTest("cannot mount a tmpfs in a private namespace: " + probe.stderr.strip())
        p = subprocess.run(wrap + [os.path.abspath(GET), self.base + "f", "--json"],
                           capture_output=True, text=True, timeout=60)
        report = json.loads(p.stdout)
        self.assertEqual((p.returncode, report["exit_code"]), (5, 5), p.stderr)
        self.assertIn("No space left on device", p.stderr)
        self.assertNotIn("retrying", p.stderr)
        self.assertEqual((report["bytes_fetched"], report["retries"]), (0, 0))
        self.assertIn("left: []", p.stderr)  # FILE.part removed, no FILE, no state file

    def test_sigint_saves_the_state_and_exits_130(self):
        size = 24 << 20
        data = os.urandom(size)
        self.write("f", data)
        claimed = self.killed_at_40_percent(size, 4, signal.SIGINT)
        self.assertGreater(claimed, 0)
        code, report, err = self.get_json(self.proxy_url, "-n", "4", "--piece-size", "1M")
        self.assertEqual(code, 0, err)
        self.assertEqual(sha256(self.output("f")), sha256(data))
        self.assertGreaterEqual(report["bytes_resumed"], claimed)  # saved again at exit

    def killed_at_40_percent(self, size, connections, sig=signal.SIGKILL):
        """Starts a download through a slow proxy, SIGKILLs it once its state file claims 40 %,
        returns the bytes the state file claims. The rerun must use the same URL (the state file
        is bound to it): self.proxy_url, with the proxy no longer slow."""
        self.proxy = ThrottlingProxy(self.server.port, rate=4 << 20)
        self.addCleanup(self.proxy.close)
        self.proxy_url = "http://127.0.0.1:%d/f" % self.proxy.port
        try:
            url = self.proxy_url
            p = subprocess.Popen([GET, url, "-n", str(connections), "--piece-size", "1M", "-q"],
                                 cwd=self.out)
            state = os.path.join(self.out, "f.part.state")

            def claimed():
                try:
                    with open(state) as f:
                        lines = f.read().splitlines()
                except FileNotFoundError:
                    return 0
                total = 0
                for line in lines:
                    if line.startswith("present "):
                        a, b = map(int, line.split()[1].split("-"))
                        total += b - a + 1
                return total

            wait_for(lambda: claimed() >= 0.4 * size or p.poll() is not None, 60,
                     "the state file to claim 40 %")
            p.send_signal(sig)
            p.wait(30)
            expected = -signal.SIGKILL if sig == signal.SIGKILL else 128 + sig
            self.assertEqual(p.returncode, expected, "finished before the signal")
            return claimed()
        finally:
            self.proxy.rate = 1 << 40

    def test_resume_after_sigkill_fetches_only_what_is_missing(self):
        size = 24 << 20
        data = os.urandom(size)
        self.write("f", data)
        claimed = self.killed_at_40_percent(size, 4)
        self.assertFalse(os.path.exists(os.path.join(self.out, "f")))
        code, report, err = self.get_json(self.proxy_url, "-n", "4", "--piece-size", "1M")
        self.assertEqual(code, 0, err)
        self.assertEqual(sha256(self.output("f")), sha256(data))
        self.assertEqual(report["bytes_resumed"], claimed)
        self.assertLessEqual(report["bytes_fetched"], size - claimed + 4 * (1 << 20))
        self.assertEqual(report["restarts"], 0)
        self.assertEqual(self.left_over(), [])

    def test_a_file_replaced_between_runs_is_fetched_again_never_mixed(self):
        size = 24 << 20
        self.write("f", os.urandom(size))
        old_etag = self.server.get("/f", method="HEAD")[1].get("etag")
        self.killed_at_40_percent(size, 4)
        new = os.urandom(size)
        tmp = os.path.join(self.root, ".f.new")
        with open(tmp, "wb") as f:
            f.write(new)
        os.rename(tmp, os.path.join(self.root, "f"))  # same size, another inode and mtime
        # spliced keeps serving the old file (consistently) until its open-file cache revalidates.
        wait_for(lambda: self.server.get("/f", method="HEAD")[1].get("etag") != old_etag, 10,
                 "spliced to notice the new file")
        code, _, err = self.get(self.proxy_url, "--on-change", "fail", "-q")
        self.assertEqual(code, 8, err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "f")))
        code, report, err = self.get_json(self.proxy_url)
        self.assertEqual(code, 0, err)
        self.assertEqual(sha256(self.output("f")), sha256(new))
        self.assertEqual(report["bytes_resumed"], 0)
        self.assertEqual(self.left_over(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
