"""Signed, expiring links (--secure-link-secret, --secure-link-prefix): under the prefix a request
needs ?expires=UNIX&sig=B64URL(HMAC-SHA-256(secret, decoded path + expires)); missing or wrong
signature 403, expired 410, both counted; other paths unaffected; `spliced sign` prints links the
server accepts. Signatures here are computed with Python's hmac, independently of spliced."""
import base64
import hashlib
import hmac
import os
import stat
import subprocess
import tempfile
import time
import urllib.parse

from harness import BIN, ServerTest, main

SECRET = b"correct horse battery staple"


def sig(path, expires, secret=SECRET):
    mac = hmac.new(secret, path.encode() + str(expires).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


class SecureLink(ServerTest):
    def setUp(self):
        fd, self.key = tempfile.mkstemp(prefix="spliced-link-key-")  # mode 0600
        with os.fdopen(fd, "wb") as f:
            f.write(SECRET + b"\n")  # one trailing newline is not part of the key
        self.server_args = ("--secure-link-secret", self.key, "--secure-link-prefix", "/dl/")
        super().setUp()

    def tearDown(self):
        super().tearDown()
        os.unlink(self.key)

    def populate(self, root):
        self.write("dl/a.txt", b"file a")
        self.write("dl/b.txt", b"file b")
        self.write("dl/sub/c.txt", b"file c")
        self.write("pub/p.txt", b"public")

    def status(self, target):
        return self.server.get(target)[0]

    def link(self, path, expires, signature=None, encoded_path=None):
        return "%s?expires=%s&sig=%s" % (encoded_path or urllib.parse.quote(path), expires,
                                         signature if signature is not None else sig(path, expires))

    def test_a_signed_link_serves_until_it_expires(self):
        future = int(time.time()) + 3600
        code, headers, body = self.server.get(self.link("/dl/a.txt", future))
        self.assertEqual((code, body), (200, b"file a"))
        self.assertEqual(self.server.get(self.link("/dl/sub/c.txt", future), method="HEAD")[0], 200)
        past = int(time.time()) - 1
        self.assertEqual(self.status(self.link("/dl/a.txt", past)), 410)  # replay after expiry

    def test_missing_wrong_and_tampered_links_are_403(self):
        future = int(time.time()) + 3600
        good = sig("/dl/a.txt", future)
        for target in ("/dl/a.txt", "/dl/a.txt?expires=%d" % future, "/dl/a.txt?sig=" + good,
                       "/dl/", "/dl",
                       self.link("/dl/a.txt", future, good[:-1] + ("A" if good[-1] != "A" else "B")),
                       self.link("/dl/a.txt", future, sig("/dl/a.txt", future, b"other key")),
                       # tampered path: a.txt's signature on b.txt
                       self.link("/dl/b.txt", future, good),
                       # tampered expiry: a later time with the old signature
                       self.link("/dl/a.txt", future + 1, good),
                       self.link("/dl/a.txt", "0%d" % future, good),
                       # other encodings of another file's path cannot carry a.txt's signature
                       self.link("/dl/b.txt", future, good, "/dl/a.txt/../b.txt"),
                       self.link("/dl/b.txt", future, good, "/dl/a.txt%2F..%2Fb.txt"),
                       self.link("/dl/b.txt", future, good, "/dl%2Fb.txt"),
                       self.link("/dl/b.txt", future, good, "/pub/../dl/b.txt")):
            with self.subTest(target=target):
                self.assertEqual(self.status(target), 403)

    def test_encodings_of_the_same_file_share_its_signature(self):
        future = int(time.time()) + 3600
        good = sig("/dl/a.txt", future)
        for encoded in ("/dl/a.txt", "/dl/%61.txt", "/dl/./a.txt", "/dl/sub/../a.txt",
                        "/dl%2Fa.txt"):
            with self.subTest(encoded=encoded):
                self.assertEqual(self.status(self.link("/dl/a.txt", future, good, encoded)), 200)

    def test_other_paths_are_unaffected_and_refusals_are_counted(self):
        self.assertEqual(self.server.get("/pub/p.txt")[::2], (200, b"public"))
        self.assertEqual(self.status("/dl/a.txt"), 403)
        self.assertEqual(self.status(self.link("/dl/a.txt", int(time.time()) - 5)), 410)
        # The refusal is counted when decided, the request once its answer went out: wait for
        # both in one scrape.
        m = self.server.metrics_when(
            lambda m: m['spliced_secure_link_refused_total{reason="expired"}'] == 1 and
            m.get('spliced_requests_total{code="410",method="GET"}') == 1 and
            m.get('spliced_requests_total{code="403",method="GET"}') == 1)
        self.assertEqual(m['spliced_secure_link_refused_total{reason="signature"}'], 1)

    def test_spliced_sign_prints_links_the_server_accepts(self):
        r = subprocess.run([BIN, "sign", "/dl/sub/c.txt", "--expires", "10m", "--secret", self.key,
                            "--base", "http://127.0.0.1:%d" % self.server.port],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        url = r.stdout.strip()
        expires = int(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["expires"][0])
        self.assertAlmostEqual(expires, time.time() + 600, delta=60)
        self.assertIn("sig=" + sig("/dl/sub/c.txt", expires), url)
        code, _, body = self.server.get(url.split(str(self.server.port), 1)[1])
        self.assertEqual((code, body), (200, b"file c"))

    def test_a_secret_readable_by_others_is_refused_at_startup(self):
        os.chmod(self.key, 0o644)
        r = subprocess.run([BIN, "--root", self.root, "--listen", "127.0.0.1:0",
                            "--metrics-listen", "off", "--secure-link-secret", self.key,
                            "--secure-link-prefix", "/dl/"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("readable by others (mode 644); chmod o-r it", r.stderr)
        os.chmod(self.key, stat.S_IRUSR | stat.S_IWUSR)
        for args, text in ((["--secure-link-prefix", "dl"], "starting and ending with '/'"),
                           ([], "go together")):
            r = subprocess.run([BIN, "--root", self.root, "--secure-link-secret", self.key, *args],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2)
            self.assertIn(text, r.stderr)


if __name__ == "__main__":
    main()
