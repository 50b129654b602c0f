"""Hostile input over a real socket: each malformed request gets exactly one response, then the
connection closes; nothing from the request is echoed into a response header."""
import os
import socket
import time

from harness import ServerTest, main

GOOD = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"


class Hostile(ServerTest):
    def populate(self, root):
        self.write("a.txt", b"hello")

    def exchange(self, data):
        s = self.server.connect()
        s.sendall(data)
        s.settimeout(5)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        return got

    def test_each_malformed_request_gets_one_response_then_close(self):
        h = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n"
        cases = [
            (h + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (h + b"Content-Length: 0\r\nContent-Length: 0\r\n\r\n", 400),
            (h + b"Content-Length: 0, 0\r\n\r\n", 400),
            (h + b"Content-Length: abc\r\n\r\n", 400),
            (h + b"Content-Length: 5\r\n\r\nhello", 400),  # a body on GET: refused, never read
            (b"HEAD /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 400),
            (h + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
            (h + b"Transfer-Encoding: gzip\r\n\r\n", 501),
            (h + b"X: a\r\n folded\r\n\r\n", 400),
            (h + b"X: a\rb\r\n\r\n", 400),
            (h + b"X: a\x00b\r\n\r\n", 400),
            (h + b"X: a\x01b\r\n\r\n", 400),
            (h + b"X : a\r\n\r\n", 400),
            (b"GET /a.txt HTTP/1.1\r\n\r\n", 400),
            (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
            (b"GET /a.txt\r\n\r\n", 400),
            (b"GET /a.txt HTTP/1.1\nHost: x\n\n", 400),
            (b"GET /a.txt HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
            (h + b"".join(b"a%d: b\r\n" % i for i in range(20000)) + b"\r\n", 431),
        ]
        for request, want in cases:
            # The smuggled second request must never be answered.
            got = self.exchange(request + GOOD)
            self.assertTrue(got.startswith(b"HTTP/1.1 %d " % want), (request[:80], got[:80]))
            self.assertEqual(got.count(b"HTTP/1.1 "), 1, request[:80])
            self.assertIn(b"Connection: close", got)

    def test_limits_answer_within_a_second(self):
        for request in [b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n",
                        b"GET / HTTP/1.1\r\n" + b"a: b\r\n" * 20000]:
            start = time.time()
            got = self.exchange(request)
            self.assertLess(time.time() - start, 1)
            self.assertIn(got[:12], (b"HTTP/1.1 414", b"HTTP/1.1 431"))

    def test_http_1_2_and_absolute_form_are_served_locally(self):
        got = self.exchange(b"GET http://elsewhere.example/a.txt HTTP/1.2\r\nHost: elsewhere.example\r\n"
                            b"Connection: close\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 200 OK"))
        self.assertTrue(got.endswith(b"hello"))

    def test_options_and_405(self):
        got = self.exchange(b"OPTIONS /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 204 No Content\r\n"))
        self.assertIn(b"\r\nAllow: GET, HEAD\r\n", got)
        self.assertTrue(got.endswith(b"\r\n\r\n"))
        got = self.exchange(b"DELETE /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 405 "))
        self.assertIn(b"\r\nAllow: GET, HEAD\r\n", got)

    def test_no_header_echoes_cr_or_lf_from_the_request(self):
        os.makedirs(os.path.join(self.root, "d\r\nX-Evil: 1"))
        for target in [b"/d%0D%0AX-Evil:%201", b"/d%0D%0AX-Evil:%201?q%0D%0AX-Evil2:%202",
                       b"/a.txt%0D%0AX-Evil:%201"]:
            got = self.exchange(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = got.split(b"\r\n\r\n", 1)[0]
            self.assertNotIn(b"\r\nX-Evil", head)


class CachingHeaders(ServerTest):
    server_args = ("--cache-control", "public, max-age=3600", "--content-disposition", "attachment")

    def populate(self, root):
        self.write("caf\u00e9 report.pdf", b"%PDF")

    def test_cache_control_and_disposition(self):
        path = "/caf%C3%A9%20report.pdf"
        status, h, body = self.server.get(path)
        self.assertEqual((status, body), (200, b"%PDF"))
        self.assertEqual(h["cache-control"], "public, max-age=3600")
        self.assertEqual(h["content-disposition"], "attachment; filename*=UTF-8''caf%C3%A9%20report.pdf")
        status, h, _ = self.server.get(path, headers={"Range": "bytes=0-1"})
        self.assertEqual((status, h["cache-control"]), (206, "public, max-age=3600"))
        status, h, _ = self.server.get(path, headers={"If-None-Match": h["etag"]})
        self.assertEqual((status, h["cache-control"]), (304, "public, max-age=3600"))
        self.assertEqual(self.server.get("/missing")[1].get("cache-control"), None)


class Expires(ServerTest):
    server_args = ("--expires", "2h")

    def populate(self, root):
        self.write("a.txt", b"a")

    def test_expires_and_max_age(self):
        import email.utils
        status, h, _ = self.server.get("/a.txt")
        self.assertEqual(h["cache-control"], "max-age=7200")
        delta = (email.utils.parsedate_to_datetime(h["expires"]) -
                 email.utils.parsedate_to_datetime(h["date"])).total_seconds()
        self.assertEqual(delta, 7200)


if __name__ == "__main__":
    main()
