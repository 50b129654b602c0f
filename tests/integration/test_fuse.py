"""Serving from a FUSE file system (bindfs over a directory): FUSE has neither non-blocking reads
nor splice_read of its own, so it is where a ring could spin re-pushing reads that answer -EAGAIN
or hang a transfer (issue 11). Every tier must send byte-exact bodies with a bounded number of
operations per byte. Skips (77) where bindfs or /dev/fuse is missing."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import SKIP, TRANSFER, Server, main, offset_pattern, wait_for

SIZE = 5 << 20


def fuse_available():
    return shutil.which("bindfs") and shutil.which("fusermount") and os.path.exists("/dev/fuse")


class FuseRoot(unittest.TestCase):
    def setUp(self):
        if not fuse_available():
            print("bindfs, fusermount or /dev/fuse missing", file=sys.stderr)
            sys.exit(SKIP)
        self.source = tempfile.mkdtemp(prefix="spliced-fuse-src-")
        self.mount = tempfile.mkdtemp(prefix="spliced-fuse-mnt-")
        self.data = offset_pattern(SIZE)
        with open(os.path.join(self.source, "f.bin"), "wb") as f:
            f.write(self.data)
        # In the foreground, so that this test owns the process and stops it by PID.
        self.bindfs = subprocess.Popen(["bindfs", "-f", self.source, self.mount],
                                       stderr=subprocess.PIPE, text=True)

        def mounted():
            if self.bindfs.poll() is not None:
                return "exited"
            return os.path.ismount(self.mount) and "mounted"

        if wait_for(mounted, 10, "the bindfs mount") == "exited":
            err = self.bindfs.stderr.read()
            self.cleanup_dirs()
            print("bindfs could not mount: " + err, file=sys.stderr)
            sys.exit(SKIP)
        self.server = Server(self.mount, threads=1)

    def tearDown(self):
        code, err = self.server.stop()
        # The kernel tears an exited process's rings down in a work queue, and their fixed files
        # (the served file, still open in the open-file cache) go with them a moment later:
        # until then the mount is busy.
        wait_for(lambda: subprocess.run(["fusermount", "-u", self.mount],
                                        stderr=subprocess.DEVNULL).returncode == 0,
                 30, "the FUSE mount to be released by the exited server")
        try:
            self.bindfs.wait(10)
        except subprocess.TimeoutExpired:
            self.bindfs.kill()
            self.bindfs.wait()
        self.cleanup_dirs()
        self.assertNotIn("Sanitizer", err)
        self.assertNotIn("runtime error", err)
        self.assertEqual(code, 0, err)

    def cleanup_dirs(self):
        shutil.rmtree(self.source, ignore_errors=True)
        if not os.path.ismount(self.mount):
            os.rmdir(self.mount)

    def test_bodies_are_exact_and_operations_bounded(self):
        status, _, body = self.server.get("/f.bin")
        self.assertEqual((status, len(body)), (200, SIZE))
        self.assertEqual(body, self.data)
        status, h, body = self.server.get("/f.bin", headers={"Range": "bytes=1000000-3999999"})
        self.assertEqual((status, body), (206, self.data[1000000:4000000]))
        m = self.server.metrics_when(
            lambda m: m.get('spliced_requests_total{code="206",method="GET"}', 0) == 1)
        reads = m.get('spliced_completion_latency_seconds_count{op="read"}', 0)
        splices = m.get('spliced_completion_latency_seconds_count{op="splice"}', 0)
        sent = 2 * SIZE  # at most, over both responses
        # A read moves up to a buffer (256 KiB), a splice pair up to a pipe: even 16 KiB per
        # operation is far below what they move, and a ring spinning on -EAGAIN far above it.
        self.assertLessEqual(reads + splices, sent // (16 << 10), m)
        self.assertGreater(reads + splices, 0)
        if TRANSFER == "copy":
            self.assertEqual(splices, 0)
            self.assertGreater(reads, 0)


if __name__ == "__main__":
    main()
