"""Precompressed siblings (--precompressed br,gzip): chosen by Accept-Encoding, never older than
the file they stand for, with their own length and validator. A Range request gets the file
itself unless --precompressed-ranges encoded (then ranges apply to the encoded bytes)."""
import os
import subprocess
import time

from harness import ServerTest, main

PLAIN = b"plain text " * 100
BR = b"\x0bbrotli-bytes" * 10
GZ = b"\x1f\x8bgzip-bytes" * 10


class Precompressed(ServerTest):
    server_args = ("--precompressed", "br,gzip")

    def populate(self, root):
        self.write("app.js", PLAIN)
        self.write("app.js.gz", GZ)
        self.write("app.js.br", BR)
        self.write("only.txt", PLAIN)
        # A stale sibling: older than the file it stands for, so it must never be served.
        self.write("stale.css", PLAIN)
        stale = self.write("stale.css.gz", GZ)
        past = time.time() - 3600
        os.utime(stale, (past, past))

    def get(self, path, **headers):
        return self.server.get(path, headers={k.replace("_", "-"): v for k, v in headers.items()})

    def test_choice_follows_accept_encoding_and_configured_order(self):
        cases = [("br, gzip", BR, "br"), ("gzip", GZ, "gzip"), ("gzip, br;q=0", GZ, "gzip"),
                 ("identity", PLAIN, None), ("*", BR, "br"), ("br;q=0, gzip;q=0", PLAIN, None)]
        etags = set()
        for accept, body, encoding in cases:
            status, h, got = self.get("/app.js", Accept_Encoding=accept)
            self.assertEqual((status, got), (200, body), accept)
            self.assertEqual(h.get("content-encoding"), encoding, accept)
            self.assertEqual(h["content-type"], "text/javascript; charset=utf-8")
            self.assertEqual(h["content-length"], str(len(body)))
            self.assertEqual(h["vary"], "Accept-Encoding")
            etags.add((encoding, h["etag"]))
        by_encoding = dict(etags)
        self.assertEqual(len(set(by_encoding.values())), 3)  # identity, br, gzip: distinct ETags
        status, h, got = self.get("/app.js")
        self.assertEqual((got, h.get("content-encoding")), (PLAIN, None))

    def test_a_range_request_gets_the_identity_representation(self):
        # What python requests (Accept-Encoding: gzip, deflate by default) and wget2 --chunk-size
        # send: ranges of the gzip bytes would be decoded into garbage or the wrong length.
        for accept in ("gzip, deflate", "br, gzip"):
            status, h, got = self.get("/app.js", Accept_Encoding=accept, Range="bytes=0-99")
            self.assertEqual((status, got), (206, PLAIN[:100]), accept)
            self.assertEqual(h["content-range"], "bytes 0-99/%d" % len(PLAIN))
            self.assertNotIn("content-encoding", h)
            self.assertEqual(h["vary"], "Accept-Encoding")
        _, whole, _ = self.get("/app.js")
        self.assertEqual(h["etag"], whole["etag"])  # the identity file's validator
        # A real decoding client: curl --compressed asks for gzip and br and decodes what it gets.
        r = subprocess.run(["curl", "-sS", "--compressed", "-r", "0-99",
                            "http://127.0.0.1:%d/app.js" % self.server.port],
                           capture_output=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout), (0, PLAIN[:100]), r.stderr)


    def test_conditionals_use_the_encoded_validator(self):
        _, h, _ = self.get("/app.js", Accept_Encoding="br")
        self.assertEqual(self.get("/app.js", Accept_Encoding="br", If_None_Match=h["etag"])[0], 304)
        self.assertEqual(self.get("/app.js", Accept_Encoding="gzip", If_None_Match=h["etag"])[0], 200)

    def test_missing_and_stale_siblings_fall_back_to_the_file(self):
        status, h, got = self.get("/only.txt", Accept_Encoding="br, gzip")
        self.assertEqual((status, got, h.get("content-encoding")), (200, PLAIN, None))
        status, h, got = self.get("/stale.css", Accept_Encoding="gzip")
        self.assertEqual((status, got, h.get("content-encoding")), (200, PLAIN, None))


class PrecompressedEncodedRanges(ServerTest):
    server_args = ("--precompressed", "br,gzip", "--precompressed-ranges", "encoded")

    def populate(self, root):
        self.write("app.js", PLAIN)
        self.write("app.js.gz", GZ)

    def test_ranges_apply_to_the_encoded_bytes(self):
        status, h, got = self.server.get("/app.js", headers={"Accept-Encoding": "gzip",
                                                             "Range": "bytes=2-11"})
        self.assertEqual((status, got), (206, GZ[2:12]))
        self.assertEqual(h["content-range"], "bytes 2-11/%d" % len(GZ))
        self.assertEqual(h["content-encoding"], "gzip")


class NotConfigured(ServerTest):
    def populate(self, root):
        self.write("app.js", PLAIN)
        self.write("app.js.gz", GZ)

    def test_off_by_default(self):
        status, h, got = self.server.get("/app.js", headers={"Accept-Encoding": "gzip"})
        self.assertEqual((got, h.get("content-encoding"), h.get("vary")), (PLAIN, None, None))


if __name__ == "__main__":
    main()
