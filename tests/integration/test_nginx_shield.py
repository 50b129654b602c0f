"""deploy/nginx/shield.conf: nginx as a cache shield in front of spliced, the file as shipped
with this machine's addresses. nginx -t accepts it; 20 clients asking at once for one cold object
cost spliced one request (proxy_cache_lock); with the origin down the cached copy is served stale;
range requests through the slice module are byte-exact and reach spliced as 16 MiB slices."""
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import unittest
import urllib.request

import nginx_origin
from fault_proxy import FaultProxy
from harness import Server, main, wait_for

SHIELD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "nginx",
                      "shield.conf")
SLICE = 16 << 20


def shield_body(origin_port):
    """shield.conf for this machine: its cache in nginx's directory, one origin, the test port."""
    with open(SHIELD) as f:
        text = f.read()
    text = text.replace("/var/cache/nginx/spliced", "%(work)s/cache")
    text = re.sub(r"(?m)^    server 10\.0\.0\.1[23]:8080.*\n", "", text)
    text = text.replace("server 10.0.0.11:8080", "server 127.0.0.1:%d" % origin_port)
    text = text.replace("listen 80;", "listen 127.0.0.1:%(port)d;")
    assert "10.0.0." not in text and "listen 80" not in text
    return text


def fetch(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()


def origin_requests(server):
    m = server.metrics()
    return sum(v for k, v in m.items() if k.startswith("spliced_requests_total{"))


class Shield(unittest.TestCase):
    def setUp(self):
        if not nginx_origin.available():
            self.skipTest("needs nginx (./dev test installs Debian's nginx-light)")
        self.root = tempfile.mkdtemp(prefix="spliced-test-")
        self.cleanups = []

    def tearDown(self):
        for f in reversed(self.cleanups):
            f()
        shutil.rmtree(self.root, ignore_errors=True)

    def put(self, name, data):
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)
        return data

    def start(self, *origin_args, rate=None):
        self.server = Server(self.root, *origin_args, threads=1)
        self.cleanups.append(lambda: self.server.stop())
        port = self.server.port
        if rate:
            proxy = FaultProxy(port, rate=rate)  # a slow link to the origin
            self.cleanups.append(proxy.close)
            port = proxy.port
        self.nginx = nginx_origin.Nginx(self.root, body=shield_body(port))
        self.cleanups.append(self.nginx.close)

    def test_nginx_t_accepts_it(self):
        work = tempfile.mkdtemp(prefix="spliced-nginx-t-")
        self.cleanups.append(lambda: shutil.rmtree(work, ignore_errors=True))
        body = shield_body(8080) % {"work": work, "port": 8081, "root": self.root}
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_origin.CONF % {"work": work, "body": body})
        r = subprocess.run(["nginx", "-t", "-p", work, "-c", conf, "-e",
                            os.path.join(work, "error.log")], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("test is successful", r.stderr)

    def test_twenty_clients_for_a_cold_object_cost_the_origin_one_request(self):
        data = self.put("cold.bin", os.urandom(4 << 20))
        self.start(rate=4 << 20)  # about a second on the wire: the 20 overlap
        before = origin_requests(self.server)
        results = []

        def client():
            code, headers, body = fetch(self.nginx.url("/cold.bin"))
            results.append((code, hashlib.sha256(body).digest(), headers["x-cache-status"]))

        threads = [threading.Thread(target=client) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        digest = hashlib.sha256(data).digest()
        self.assertEqual([r[:2] for r in results], [(200, digest)] * 20)
        self.assertEqual(sum(r[2] == "MISS" for r in results), 1)  # the others waited on the lock
        self.server.metrics_when(lambda m: origin_requests(self.server) - before >= 1)
        self.assertEqual(origin_requests(self.server) - before, 1)

    def test_stale_is_served_while_the_origin_is_down(self):
        data = self.put("hot.bin", os.urandom(1 << 20))
        self.start("--cache-control", "max-age=1")  # fresh for a second
        self.assertEqual(fetch(self.nginx.url("/hot.bin"))[0], 200)
        code, err = self.server.stop()
        self.assertEqual(code, 0, err)

        def stale():
            code, headers, body = fetch(self.nginx.url("/hot.bin"))
            self.assertEqual((code, body == data), (200, True))
            return headers["x-cache-status"] == "STALE"

        wait_for(stale, 10, "the cached copy served STALE with the origin down")

    def test_ranges_through_slices_are_byte_exact(self):
        data = self.put("big.bin", os.urandom(2 * SLICE + 12345))
        self.start()
        for first, last in ((0, 99), (SLICE - 10, SLICE + 10), (SLICE + 5, 2 * SLICE + 12344),
                            (2 * SLICE, 2 * SLICE + 12344), (123, 2 * SLICE + 100)):
            code, headers, body = fetch(self.nginx.url("/big.bin"),
                                        {"Range": "bytes=%d-%d" % (first, last)})
            self.assertEqual((code, headers["content-range"]),
                             (206, "bytes %d-%d/%d" % (first, last, len(data))))
            self.assertEqual(body, data[first:last + 1])
        code, _, body = fetch(self.nginx.url("/big.bin"))
        self.assertEqual((code, hashlib.sha256(body).digest()),
                         (200, hashlib.sha256(data).digest()))
        # The origin saw each of the three slices once, as a range (206), and nothing else.
        m = self.server.metrics_when(lambda m: origin_requests(self.server) >= 3)
        self.assertEqual(origin_requests(self.server), 3)
        self.assertEqual(m['spliced_requests_total{code="206",method="GET"}'], 3)

if __name__ == "__main__":
    main()
