"""HTTP behaviour of the real server: bytes, heads, errors, paths, pipelining, keep-alive."""
import hashlib
import os
import socket
import time

from harness import Server, ServerTest, main, offset_pattern, raw_exchange, read_response


class Serving(ServerTest):
    def populate(self, root):
        self.small = offset_pattern(1000)
        self.big = os.urandom(8 << 20)
        self.write("small.txt", self.small)
        self.write("big.bin", self.big)
        self.write("empty", b"")
        self.write("video/clip.MP4", b"\0" * 100)
        self.write("site/index.html", b"<p>index</p>")
        os.makedirs(os.path.join(root, "noindex"))
        self.write("with space & %.txt", b"odd name")
        self.write("outside-secret", b"")  # replaced by a symlink target check below

    def test_small_file_exact_bytes_and_headers(self):
        status, headers, body = self.server.get("/small.txt")
        self.assertEqual(status, 200)
        self.assertEqual(body, self.small)
        self.assertEqual(headers["content-length"], "1000")
        self.assertEqual(headers["content-type"], "text/plain; charset=utf-8")
        self.assertEqual(headers["accept-ranges"], "bytes")
        self.assertRegex(headers["etag"], r'^"[0-9a-f]+-[0-9a-f]+"$')
        self.assertRegex(headers["last-modified"], r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$")
        self.assertRegex(headers["date"], r"GMT$")

    def test_8mib_file_sha256(self):
        status, headers, body = self.server.get("/big.bin")
        self.assertEqual(status, 200)
        self.assertEqual(len(body), len(self.big))
        self.assertEqual(hashlib.sha256(body).hexdigest(), hashlib.sha256(self.big).hexdigest())

    def test_empty_file(self):
        status, headers, body = self.server.get("/empty")
        self.assertEqual((status, headers["content-length"], body), (200, "0", b""))

    def test_head_has_get_headers_and_no_body(self):
        _, get_headers, _ = self.server.get("/big.bin")
        s = self.server.connect()
        got = raw_exchange(s, b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.close()
        head, _, rest = got.partition(b"\r\n\r\n")
        self.assertEqual(rest, b"")
        self.assertIn(b"HTTP/1.1 200 OK", head)
        self.assertIn(("Content-Length: %d" % len(self.big)).encode(), head)
        self.assertIn(("ETag: %s" % get_headers["etag"]).encode(), head)

    def test_etag_changes_when_file_replaced(self):
        _, first, _ = self.server.get("/small.txt")
        time.sleep(0.01)
        tmp = self.write("small.tmp", self.small)  # same size, new mtime
        os.rename(tmp, os.path.join(self.root, "small.txt"))
        time.sleep(1.1)  # past --open-file-cache-valid (1s): the path is checked again
        _, second, _ = self.server.get("/small.txt")
        self.assertNotEqual(first["etag"], second["etag"])

    def test_mime_types(self):
        self.assertEqual(self.server.get("/video/clip.MP4")[1]["content-type"], "video/mp4")
        self.assertEqual(self.server.get("/empty")[1]["content-type"], "application/octet-stream")

    def test_percent_encoded_name(self):
        status, _, body = self.server.get("/with%20space%20%26%20%25.txt")
        self.assertEqual((status, body), (200, b"odd name"))

    def test_directory_redirect_index_and_404(self):
        status, headers, _ = self.server.get("/site")
        self.assertEqual(status, 301)
        self.assertEqual(headers["location"], "/site/")
        self.assertEqual(self.server.get("/site?v=2")[1]["location"], "/site/?v=2")
        os.makedirs(os.path.join(self.root, "we ird\r\nX-Injected: 1"))
        status, headers, _ = self.server.get("/we%20ird%0D%0AX-Injected:%201")
        self.assertEqual(status, 301)
        self.assertNotIn("x-injected", headers)
        self.assertEqual(headers["location"], "/we%20ird%0D%0AX-Injected:%201/")
        status, headers, body = self.server.get("/site/")
        self.assertEqual((status, body), (200, b"<p>index</p>"))
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertEqual(self.server.get("/noindex/")[0], 404)
        self.assertEqual(self.server.get("/")[0], 404)  # the root has no index.html

    def test_not_found_and_method_not_allowed(self):
        status, headers, body = self.server.get("/missing")
        self.assertEqual((status, body), (404, b"404 Not Found\n"))
        self.assertEqual(self.server.get("/small.txt/x")[0], 404)  # ENOTDIR
        for method in ("POST", "PUT", "DELETE", "PATCH", "BREW"):
            status, headers, _ = self.server.get("/small.txt", method=method)
            self.assertEqual(status, 405, method)
            self.assertEqual(headers["allow"], "GET, HEAD")

    def raw_status(self, request):
        s = self.server.connect()
        try:
            got = raw_exchange(s, request)
        finally:
            s.close()
        return int(got.split(b" ", 2)[1]) if got else None, got

    def test_bad_requests(self):
        cases = [
            (b"GET /small.txt HTTP/1.1\r\n\r\n", 400),                     # no Host
            (b"GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400),              # NUL
            (b"GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),               # bad percent
            (b"GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 400),      # climbs above root
            (b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
            (b"garbage\r\n\r\n", 400),
        ]
        for request, want in cases:
            status, got = self.raw_status(request)
            self.assertEqual(status, want, request[:60])
            self.assertIn(b"Connection: close", got)

    def test_long_head_arriving_in_pieces_is_served(self):
        # Longer than the first receive buffer, shorter than --max-header-bytes.
        request = (b"GET /small.txt HTTP/1.1\r\nHost: x\r\nX-Long: " + b"v" * 5000 +
                   b"\r\nConnection: close\r\n\r\n")
        s = self.server.connect()
        for i in range(0, len(request), 700):
            s.sendall(request[i:i + 700])
            time.sleep(0.01)
        got = raw_exchange(s, b"")
        s.close()
        self.assertTrue(got.startswith(b"HTTP/1.1 200 OK"))
        self.assertTrue(got.endswith(self.small))

    def test_http_1_2_is_served_as_1_1(self):
        status, got = self.raw_status(b"GET /small.txt HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(status, 200)
        self.assertTrue(got.endswith(self.small))

    def test_traversal_forms_never_leave_the_root(self):
        secret = os.path.join(os.path.dirname(self.root), "spliced-secret-%d" % os.getpid())
        with open(secret, "w") as f:
            f.write("secret")
        try:
            os.symlink(secret, os.path.join(self.root, "escape"))
            os.symlink("/etc", os.path.join(self.root, "etc"))
            os.symlink("small.txt", os.path.join(self.root, "inside-link"))
            for path in ["/escape", "/etc/passwd", "/..%2f" + os.path.basename(secret),
                         "/%252e%252e/etc/passwd", "/..\\..\\etc\\passwd", "/proc/self/root/etc/passwd"]:
                status, _, body = self.server.get(path)
                self.assertIn(status, (400, 404), path)
                self.assertNotIn(b"secret", body)
                self.assertNotIn(b"root:", body)
            status, _, body = self.server.get("/inside-link")
            self.assertEqual((status, body), (200, self.small))
        finally:
            os.unlink(secret)

    def test_fifo_never_blocks(self):
        os.mkfifo(os.path.join(self.root, "fifo"))
        start = time.time()
        self.assertEqual(self.server.get("/fifo")[0], 404)
        self.assertLess(time.time() - start, 5)
        self.assertEqual(self.server.get("/small.txt")[2], self.small)

    def test_four_pipelined_requests_answered_in_order(self):
        s = self.server.connect()
        request = (b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"GET /site/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.sendall(request)
        f = s.makefile("rb")
        code, h = read_response(f)
        self.assertEqual((code, f.read(int(h["content-length"]))), (200, self.small))
        code, h = read_response(f)
        self.assertEqual((code, h["content-length"]), (200, str(len(self.big))))
        code, h = read_response(f)
        self.assertEqual((code, f.read(int(h["content-length"]))), (404, b"404 Not Found\n"))
        code, h = read_response(f)
        self.assertEqual((code, f.read(int(h["content-length"]))), (200, b"<p>index</p>"))
        self.assertEqual(f.read(), b"")  # closed after Connection: close
        s.close()

    def test_http10_closes_and_keepalive_reuses(self):
        s = self.server.connect()
        got = raw_exchange(s, b"GET /small.txt HTTP/1.0\r\n\r\n")
        s.close()
        self.assertTrue(got.endswith(self.small))
        self.assertIn(b"Connection: close", got)
        before = self.server.metrics()['spliced_connections_accepted_total']
        c = self.server.http()
        for _ in range(5):
            c.request("GET", "/small.txt")
            r = c.getresponse()
            self.assertEqual(r.read(), self.small)
        c.close()
        self.assertEqual(self.server.metrics()['spliced_connections_accepted_total'], before + 1)

    def test_http10_keepalive(self):
        s = self.server.connect()
        s.sendall(b"GET /small.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 2)
        f = s.makefile("rb")
        for _ in range(2):
            code, h = read_response(f)
            self.assertEqual(h["connection"], "keep-alive")
            self.assertEqual(f.read(int(h["content-length"])), self.small)
        s.close()


class Exactness(ServerTest):
    """A file has nothing below it, and a request's authority must be valid (RFC 9112 §3.2) —
    cases from running nginx's own test suite against spliced."""

    def populate(self, root):
        self.write("a.txt", b"hello")
        self.write("dir/index.html", b"index")

    def status(self, request):
        with self.server.connect() as s:
            got = raw_exchange(s, request)
        return int(got.split(b" ", 2)[1]) if got else None

    def test_a_file_with_anything_after_it_is_404(self):
        for path, code in (("/a.txt", 200), ("/a.txt/", 404), ("/a.txt/.", 404),
                           ("/a.txt//", 404), ("/a.txt%2F", 404), ("/a.txt/%2e", 404),
                           ("/a.txt/x", 404), ("/dir", 301), ("/dir/", 200), ("/dir/.", 200),
                           ("/dir//", 200), ("/dir/index.html", 200), ("/dir/index.html/", 404),
                           ("/dir/index.html/.", 404), ("/a.txt/../a.txt", 200)):
            for method in ("GET", "HEAD"):
                with self.subTest(path=path, method=method):
                    self.assertEqual(self.server.get(path, method=method)[0], code)

    def test_an_invalid_host_or_authority_is_400(self):
        for request, code in (
                (b"GET /a.txt HTTP/1.1\r\nHost: example.com\r\n", 200),
                (b"GET /a.txt HTTP/1.1\r\nHost: example.com:8080\r\n", 200),
                (b"GET /a.txt HTTP/1.1\r\nHost: [::1]:8080\r\n", 200),
                (b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n", 200),
                (b"GET /a.txt HTTP/1.0\r\n", 200),
                (b"GET http://example.com/a.txt HTTP/1.1\r\nHost: example.com\r\n", 200),
                (b"GET /a.txt HTTP/1.1\r\nHost: example.com/\\:552\r\n", 400),
                (b"GET /a.txt HTTP/1.1\r\nHost: example.com:1.2\r\n", 400),
                (b"GET /a.txt HTTP/1.1\r\nHost: example.com:9000:80\r\n", 400),
                (b"GET /a.txt HTTP/1.1\r\nHost: user@example.com\r\n", 400),
                (b"GET /a.txt HTTP/1.1\r\nHost: [abcd::ef98:0:7654:321\r\n", 400),
                (b"GET http:/// HTTP/1.0\r\n", 400),
                (b"GET http://[abcd::ef98:0:7654:321/ HTTP/1.0\r\n", 400),
                (b"GET http://example.com:x/a.txt HTTP/1.0\r\n", 400)):
            with self.subTest(request=request):
                self.assertEqual(self.status(request + b"Connection: close\r\n\r\n"), code)


class HiddenPaths(ServerTest):
    """Paths with a segment beginning with '.' are 404 by default (a site deployed from a checkout
    must not serve /.git/config or /.env), decoded or encoded, by name or through a symlink, with
    the answer a missing file gets; /.well-known/ is served (RFC 8615); --serve-hidden serves
    them all."""

    def populate(self, root):
        self.write(".env", b"SECRET=1")
        self.write(".git/config", b"[core]")
        self.write("docs/.htpasswd", b"user:hash")
        self.write(".well-known/security.txt", b"Contact: x")
        self.write(".well-known/.private", b"no")
        self.write("a.txt", b"hello")
        os.symlink(".env", os.path.join(root, "innocent.txt"))
        os.symlink(".git", os.path.join(root, "repo"))
        os.symlink("docs/.htpasswd", os.path.join(root, "passwords"))

    HIDDEN = ("/.env", "/%2eenv", "/%2Eenv", "/.git/config", "/.git%2fconfig", "/a/..%2f.git/config",
              "/docs/.htpasswd", "/docs/%2ehtpasswd", "/innocent.txt", "/repo/config", "/passwords",
              "/.well-known/.private", "/.git/", "/.git")

    def test_hidden_paths_are_404_like_a_missing_file(self):
        missing = self.server.get("/no-such-file")
        self.assertEqual(missing[0], 404)
        for path in self.HIDDEN:
            for method in ("GET", "HEAD"):
                with self.subTest(path=path, method=method):
                    code, headers, body = self.server.get(path, method=method)
                    self.assertEqual(code, 404)
                    if method == "GET":
                        self.assertEqual(body, missing[2])
        for path, body in (("/a.txt", b"hello"), ("/.well-known/security.txt", b"Contact: x")):
            self.assertEqual(self.server.get(path)[::2], (200, body))

    def test_serve_hidden_serves_them(self):
        self.server.stop()
        self.server = Server(self.root, "--serve-hidden", threads=1)
        for path, body in (("/.env", b"SECRET=1"), ("/innocent.txt", b"SECRET=1"),
                           ("/repo/config", b"[core]"), ("/docs/.htpasswd", b"user:hash")):
            self.assertEqual(self.server.get(path)[::2], (200, body))


class Timeouts(ServerTest):
    server_args = ("--header-timeout", "300ms", "--idle-timeout", "500ms")

    def populate(self, root):
        self.write("a", b"a")

    def test_partial_head_is_cut_off(self):
        s = self.server.connect()
        s.sendall(b"GET /a HTTP/1.1\r\nHo")
        start = time.time()
        self.assertEqual(raw_exchange(s, b""), b"")
        self.assertLess(time.time() - start, 3)
        s.close()

    def test_idle_keepalive_is_closed(self):
        s = self.server.connect()
        s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        f = s.makefile("rb")
        code, h = read_response(f)
        self.assertEqual(f.read(1), b"a")
        start = time.time()
        self.assertEqual(f.read(), b"")
        self.assertGreater(time.time() - start, 0.3)
        s.close()


if __name__ == "__main__":
    main()
