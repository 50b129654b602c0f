"""Repr-Digest (RFC 9530) from `spliced --digests sha-256`: the base64 SHA-256 of exactly the
version served, on 200, 206 and HEAD; absent while not ready (held with the hidden
--test-digest-gate, so "not ready" is a fact, not a race); replaced with the file; its own for a
precompressed sibling; withheld when Want-Repr-Digest refuses sha-256; kept across a restart in the
xattr user.spliced.sha256. Environment: SPLICED_BIN."""
import base64
import hashlib
import os
import shutil
import signal
import tempfile
import unittest

from harness import Server, main, wait_for


def field_for(data):
    return "sha-256=:%s:" % base64.b64encode(hashlib.sha256(data).digest()).decode()


def user_xattrs_work(directory):
    probe = os.path.join(directory, ".xattr-probe")
    with open(probe, "wb"):
        pass
    try:
        os.setxattr(probe, "user.spliced.probe", b"1")
        return True
    except OSError:
        return False
    finally:
        os.unlink(probe)


class Digests(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="spliced-digest-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.gate = os.path.join(tempfile.mkdtemp(prefix="spliced-digest-gate-"), "open")
        self.addCleanup(shutil.rmtree, os.path.dirname(self.gate), True)

    def start(self, *args):
        server = Server(self.root, *args, threads=2)

        def stop():
            if server.proc.poll() is None:
                code, err = server.stop(signal.SIGTERM)
                self.assertEqual(code, 0, err)
                self.assertNotIn("Sanitizer", err)

        self.addCleanup(stop)
        return server

    def write(self, name, data):
        path = os.path.join(self.root, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def digest(self, server, path="/f", method="GET", **headers):
        status, h, _ = server.get(path, method=method,
                                  headers={k.replace("_", "-"): v for k, v in headers.items()})
        self.assertIn(status, (200, 206, 304))
        return h.get("repr-digest")

    def test_whole_file_on_200_206_and_head_never_on_304(self):
        data = os.urandom(3 << 20)
        self.write("f", data)
        s = self.start("--digests", "sha-256")
        got = wait_for(lambda: self.digest(s), 20, "the digest to be ready")
        self.assertEqual(got, field_for(data))
        self.assertEqual(self.digest(s, method="HEAD"), field_for(data))
        status, h, body = s.get("/f", headers={"Range": "bytes=100-199"})
        self.assertEqual((status, body, h.get("repr-digest")), (206, data[100:200], field_for(data)))
        etag = s.get("/f", method="HEAD")[1]["etag"]
        status, h, _ = s.get("/f", headers={"If-None-Match": etag})
        self.assertEqual((status, h.get("repr-digest")), (304, None))
        empty = self.write("empty", b"")
        self.assertEqual(wait_for(lambda: self.digest(s, "/empty"), 20, "the empty file's digest"),
                         field_for(b""))
        self.assertTrue(os.path.exists(empty))

    def test_absent_until_ready_and_never_delays_the_response(self):
        data = os.urandom(1 << 20)
        self.write("f", data)
        s = self.start("--digests", "sha-256", "--test-digest-gate", self.gate)
        for _ in range(5):  # hashing is held: every response goes out, without the field
            status, h, body = s.get("/f")
            self.assertEqual((status, body, h.get("repr-digest")), (200, data, None))
        with open(self.gate, "w"):
            pass
        self.assertEqual(wait_for(lambda: self.digest(s), 20, "the digest once hashing may run"),
                         field_for(data))

    def test_a_replaced_file_gets_the_new_digest_never_the_old(self):
        old, new = os.urandom(1 << 20), os.urandom(1 << 20)
        self.write("f", old)
        s = self.start("--digests", "sha-256")
        wait_for(lambda: self.digest(s), 20, "the first digest")
        tmp = self.write(".f.new", new)
        os.rename(tmp, os.path.join(self.root, "f"))

        def new_version():
            status, h, body = s.get("/f")
            if body != new:
                # Still the old version: its digest, if any, must be the old one's.
                self.assertIn(h.get("repr-digest"), (None, field_for(old)))
                return False
            self.assertIn(h.get("repr-digest"), (None, field_for(new)))
            return h.get("repr-digest")

        self.assertEqual(wait_for(new_version, 20, "the new file's digest"), field_for(new))

    def test_a_precompressed_sibling_has_its_own_digest(self):
        plain, gz = b"plain text " * 1000, b"\x1f\x8bgzip-bytes" * 100
        self.write("app.js", plain)
        self.write("app.js.gz", gz)
        s = self.start("--digests", "sha-256", "--precompressed", "gzip")
        self.assertEqual(wait_for(lambda: self.digest(s, "/app.js", Accept_Encoding="gzip"), 20,
                                  "the sibling's digest"), field_for(gz))
        self.assertEqual(wait_for(lambda: self.digest(s, "/app.js"), 20, "the file's digest"),
                         field_for(plain))

    def test_want_repr_digest_is_honoured(self):
        data = b"d" * 5000
        self.write("f", data)
        s = self.start("--digests", "sha-256")
        wait_for(lambda: self.digest(s), 20, "the digest")
        self.assertEqual(self.digest(s, Want_Repr_Digest="sha-256=10"), field_for(data))
        self.assertEqual(self.digest(s, Want_Repr_Digest="sha-512=3, sha-256=1"), field_for(data))
        self.assertIsNone(self.digest(s, Want_Repr_Digest="sha-256=0"))
        self.assertIsNone(self.digest(s, Want_Repr_Digest="sha-512=10"))

    def test_off_by_default(self):
        self.write("f", b"x" * 100)
        s = self.start()
        for _ in range(3):
            self.assertIsNone(self.digest(s))

    def test_kept_across_a_restart_in_an_xattr(self):
        if not user_xattrs_work(self.root):
            self.skipTest("the test directory's file system has no user xattrs")
        data = os.urandom(2 << 20)
        path = self.write("f", data)
        before = os.stat(path)
        s = self.start("--digests", "sha-256")
        wait_for(lambda: self.digest(s), 20, "the digest")
        code, err = s.stop()
        self.assertEqual(code, 0, err)
        stamp = os.getxattr(path, "user.spliced.sha256").decode()
        self.assertEqual(stamp, "sha-256 %d %d.%09d %s" % (
            len(data), before.st_mtime_ns // 10**9, before.st_mtime_ns % 10**9,
            hashlib.sha256(data).hexdigest()))
        self.assertEqual(os.stat(path).st_mtime_ns, before.st_mtime_ns)  # the ETag is unmoved
        # Hashing held after the restart: a digest can only come from the stamp.
        again = self.start("--digests", "sha-256", "--test-digest-gate", self.gate)
        self.assertEqual(wait_for(lambda: self.digest(again), 20, "the stamped digest"),
                         field_for(data))
        # A stamp for another version is not believed: same size, new mtime, new bytes.
        changed = os.urandom(2 << 20)
        with open(path, "r+b") as f:
            f.write(changed)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 3 * 10**9))
        third = self.start("--digests", "sha-256", "--test-digest-gate", self.gate)
        for _ in range(3):
            self.assertIsNone(self.digest(third))  # not ready (held), and never the old one
        with open(self.gate, "w"):
            pass
        self.assertEqual(wait_for(lambda: self.digest(third), 20, "the rehashed digest"),
                         field_for(changed))


if __name__ == "__main__":
    main()
