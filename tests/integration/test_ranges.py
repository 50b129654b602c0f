"""Ranges and conditional requests over a real socket, on a 1,000-byte file whose bytes spell
their own offsets ("X000000000X000000010..."): a wrong range shows up as a readable offset."""
import os
import re
import shutil
import subprocess
import time

from harness import ServerTest, main, offset_pattern

SIZE = 1000
DATA = offset_pattern(SIZE)


def parse_multipart(content_type, body):
    """Splits a multipart/byteranges body into [(headers, bytes)], strictly."""
    boundary = re.fullmatch(r"multipart/byteranges; boundary=(\S+)", content_type).group(1).encode()
    parts = []
    assert body.endswith(b"\r\n--" + boundary + b"--\r\n"), body[-60:]
    for chunk in body.split(b"\r\n--" + boundary)[1:-1]:
        head, _, data = chunk.partition(b"\r\n\r\n")
        headers = dict(line.split(b": ", 1) for line in head.strip(b"\r\n").split(b"\r\n"))
        parts.append(({k.decode().lower(): v.decode() for k, v in headers.items()}, data))
    return parts


class Ranges(ServerTest):
    server_args = ("--max-header-bytes", "64k")  # room for a 1,300-range header

    def populate(self, root):
        self.write("off.txt", DATA)
        self.write("empty", b"")

    def get(self, path="/off.txt", method="GET", **headers):
        return self.server.get(path, method=method, headers={k.replace("_", "-"): v for k, v in headers.items()})

    def test_single_ranges(self):
        cases = [
            ("bytes=0-9", 0, 9), ("bytes=10-19", 10, 19), ("bytes=990-", 990, 999),
            ("bytes=-10", 990, 999), ("bytes=995-5000", 995, 999), ("bytes=-5000", 0, 999),
            ("bytes=0-18446744073709551615", 0, 999), ("bytes=0-5,3-9", 0, 9), ("bytes=0-1,2-3", 0, 3),
            ("Bytes=20-29", 20, 29), ("bytes=,30-39,", 30, 39),
        ]
        for header, first, last in cases:
            status, headers, body = self.get(Range=header)
            self.assertEqual(status, 206, header)
            self.assertEqual(headers["content-range"], "bytes %d-%d/%d" % (first, last, SIZE), header)
            self.assertEqual(headers["content-length"], str(last - first + 1))
            self.assertEqual(body, DATA[first:last + 1], header)

    def test_ignored_ranges_give_the_whole_file(self):
        many = "bytes=" + ",".join("%d-%d" % (i * 10, i * 10 + 1) for i in range(17))
        for header in ["items=0-9", "bytes=9-0", "bytes=a-b", "bytes=", "bytes=0-,1-,2-", many,
                       "bytes=0-999,0-999", "bytes 0-9"]:
            status, headers, body = self.get(Range=header)
            self.assertEqual((status, body), (200, DATA), header)
            self.assertNotIn("content-range", headers)

    def test_range_sent_twice_is_ignored(self):
        s = self.server.connect()
        s.sendall(b"GET /off.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nRange: bytes=10-19\r\n"
                  b"Connection: close\r\n\r\n")
        got = b""
        while chunk := s.recv(65536):
            got += chunk
        s.close()
        self.assertTrue(got.startswith(b"HTTP/1.1 200 OK"))
        self.assertTrue(got.endswith(DATA))

    def test_unsatisfiable(self):
        for header in ["bytes=1000-", "bytes=-0", "bytes=5000-6000,7000-", "bytes=18446744073709551616-"]:
            status, headers, body = self.get(Range=header)
            self.assertEqual(status, 416, header)
            self.assertEqual(headers["content-range"], "bytes */1000")

    def test_multipart_part_by_part(self):
        status, headers, body = self.get(Range="bytes=0-9,500-509,-10")
        self.assertEqual(status, 206)
        self.assertEqual(int(headers["content-length"]), len(body))
        parts = parse_multipart(headers["content-type"], body)
        self.assertEqual(len(parts), 3)
        for (h, data), (first, last) in zip(parts, [(0, 9), (500, 509), (990, 999)]):
            self.assertEqual(h["content-type"], "text/plain; charset=utf-8")
            self.assertEqual(h["content-range"], "bytes %d-%d/1000" % (first, last))
            self.assertEqual(data, DATA[first:last + 1])
        _, again, _ = self.get(Range="bytes=0-9,500-509,-10")
        self.assertNotEqual(again["content-type"], headers["content-type"])  # random boundary

    def test_sixteen_ranges_are_served(self):
        header = "bytes=" + ",".join("%d-%d" % (i * 50, i * 50 + 4) for i in range(16))
        status, headers, body = self.get(Range=header)
        self.assertEqual(status, 206)
        parts = parse_multipart(headers["content-type"], body)
        self.assertEqual([d for _, d in parts], [DATA[i * 50:i * 50 + 5] for i in range(16)])

    def test_1300_ranges_answered_as_fast_as_a_plain_get(self):
        header = "bytes=" + ",".join("%d-%d" % (i % 1000, i % 1000) for i in range(1300))
        start = time.time()
        status, _, body = self.get(Range=header)
        self.assertEqual((status, body), (200, DATA))
        self.assertLess(time.time() - start, 2)

    def test_empty_file_and_head(self):
        status, headers, body = self.get("/empty", Range="bytes=0-")
        self.assertEqual((status, body), (200, b""))
        status, headers, body = self.get(method="HEAD", Range="bytes=10-19")
        self.assertEqual((status, body), (206, b""))
        self.assertEqual(headers["content-range"], "bytes 10-19/1000")
        self.assertEqual(headers["content-length"], "10")

    def test_if_range(self):
        _, h, _ = self.get()
        etag, modified = h["etag"], h["last-modified"]
        for if_range, want in [(etag, 206), ("W/" + etag, 200), ('"other"', 200), (modified, 206),
                               ("Thu, 01 Jan 1970 00:00:00 GMT", 200), ("garbage", 200)]:
            status, _, body = self.get(Range="bytes=0-9", If_Range=if_range)
            self.assertEqual(status, want, if_range)
            self.assertEqual(body, DATA[:10] if want == 206 else DATA)


class LargeFileRanges(ServerTest):
    """64-bit offsets end to end: ranges of a sparse file past 4 GiB."""
    SIZE = 5 * (1 << 30) + 11
    MARK_AT = (1 << 32) - 4

    def populate(self, root):
        with open(os.path.join(root, "huge.img"), "wb") as f:
            f.truncate(self.SIZE)
            f.seek(self.MARK_AT)
            f.write(b"ACROSS4GiB")
            f.seek(self.SIZE - 3)
            f.write(b"END")

    def test_ranges_past_4gib(self):
        status, h, body = self.server.get("/huge.img", headers={"Range": "bytes=%d-%d" % (self.MARK_AT, self.MARK_AT + 9)})
        self.assertEqual((status, body), (206, b"ACROSS4GiB"))
        self.assertEqual(h["content-range"], "bytes %d-%d/%d" % (self.MARK_AT, self.MARK_AT + 9, self.SIZE))
        status, h, body = self.server.get("/huge.img", headers={"Range": "bytes=-3"})
        self.assertEqual((status, body), (206, b"END"))
        status, h, body = self.server.get("/huge.img", headers={"Range": "bytes=%d-%d,%d-" % (self.MARK_AT, self.MARK_AT + 5, self.SIZE - 3)})
        parts = parse_multipart(h["content-type"], body)
        self.assertEqual([d for _, d in parts], [b"ACROSS", b"END"])
        self.assertEqual(parts[1][0]["content-range"], "bytes %d-%d/%d" % (self.SIZE - 3, self.SIZE - 1, self.SIZE))
        status, h, _ = self.server.get("/huge.img", headers={"Range": "bytes=%d-" % self.SIZE})
        self.assertEqual((status, h["content-range"]), (416, "bytes */%d" % self.SIZE))


class Conditionals(ServerTest):
    def populate(self, root):
        self.write("off.txt", DATA)

    def get(self, path="/off.txt", method="GET", **headers):
        return self.server.get(path, method=method, headers={k.replace("_", "-"): v for k, v in headers.items()})

    def test_conditionals(self):
        _, h, _ = self.get()
        etag, modified = h["etag"], h["last-modified"]
        cases = [
            ({"If-None-Match": etag}, 304), ({"If-None-Match": "W/" + etag}, 304),
            ({"If-None-Match": '"a", ' + etag}, 304), ({"If-None-Match": "*"}, 304),
            ({"If-None-Match": '"other"'}, 200),
            ({"If-Modified-Since": modified}, 304),
            ({"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 200),
            ({"If-Modified-Since": "not a date"}, 200),
            ({"If-None-Match": '"other"', "If-Modified-Since": modified}, 200),  # INM wins
            ({"If-Match": etag}, 200), ({"If-Match": "*"}, 200),
            ({"If-Match": '"other"'}, 412), ({"If-Match": "W/" + etag}, 412),
            ({"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 412),
            ({"If-Unmodified-Since": modified}, 200),
            ({"If-Match": '"other"', "If-None-Match": etag}, 412),  # 412 is decided first
        ]
        for headers, want in cases:
            status, got, body = self.server.get("/off.txt", headers=headers)
            self.assertEqual(status, want, headers)
            if want == 304:
                self.assertEqual(body, b"")
                self.assertEqual(got["etag"], etag)
                self.assertEqual(got["last-modified"], modified)
                self.assertNotIn("content-type", got)
            if want == 200:
                self.assertEqual(body, DATA)

    def test_precondition_on_missing_file_is_404(self):
        self.assertEqual(self.server.get("/missing", headers={"If-Match": "*"})[0], 404)
        self.assertEqual(self.server.get("/missing", headers={"If-None-Match": "*"})[0], 404)

    def test_304_keeps_the_connection(self):
        _, h, _ = self.get()
        c = self.server.http()
        for _ in range(3):
            c.request("GET", "/off.txt", headers={"If-None-Match": h["etag"]})
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (304, b""))
        c.request("GET", "/off.txt")
        self.assertEqual(c.getresponse().read(), DATA)
        c.close()


class Resume(ServerTest):
    """Real download clients resuming a partial file byte-exactly."""

    def populate(self, root):
        self.data = os.urandom(3 << 20)
        self.write("blob.bin", self.data)

    def test_curl_resume(self):
        if not shutil.which("curl"):
            self.skipTest("curl not installed")
        out = os.path.join(self.root, "partial.bin")
        with open(out, "wb") as f:
            f.write(self.data[:1234567])
        subprocess.run(["curl", "-sS", "-f", "-C", "-", "-o", out,
                        "http://127.0.0.1:%d/blob.bin" % self.server.port], check=True, timeout=60)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.data)

    def test_wget_resume(self):
        if not shutil.which("wget"):
            self.skipTest("wget not installed")
        out = os.path.join(self.root, "partial-wget.bin")
        with open(out, "wb") as f:
            f.write(self.data[:777777])
        subprocess.run(["wget", "-q", "-c", "-O", out, "http://127.0.0.1:%d/blob.bin" % self.server.port],
                       check=True, timeout=60)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.data)

    def test_aria2c_segmented(self):
        if not shutil.which("aria2c"):
            self.skipTest("aria2c not installed")
        subprocess.run(["aria2c", "-q", "-x16", "-s16", "-k1M", "--allow-overwrite=true", "-d", self.root,
                        "-o", "aria.bin", "http://127.0.0.1:%d/blob.bin" % self.server.port],
                       check=True, timeout=60)
        with open(os.path.join(self.root, "aria.bin"), "rb") as f:
            self.assertEqual(f.read(), self.data)


if __name__ == "__main__":
    main()
