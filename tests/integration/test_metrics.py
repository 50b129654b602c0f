"""The Prometheus exporter (DESIGN.md "Contracts"): a real scrape passes `promtool check metrics`,
histograms and counters behave, byte counts are exact, and a real Prometheus server scraping spliced
reads the same numbers back."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import json

from harness import TRANSFER, ServerTest, main, offset_pattern, paused_download, parse_prometheus


def tool(name):
    path = shutil.which(name)
    if path is None:
        raise AssertionError("%s is missing: ./dev test installs Debian's prometheus package" % name)
    return path


def raw_scrape(server):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % server.metrics_port, timeout=10) as r:
        return r.headers.get("Content-Type"), r.read().decode()


def download(sock, path):
    """One keep-alive GET on `sock`; returns (head bytes, body)."""
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
    while len(body) < length:
        body += sock.recv(1 << 20)
    return len(head) + 4, body


def total_sent(m):
    return sum(v for k, v in m.items() if k.startswith("spliced_sent_bytes_total{"))


class Exporter(ServerTest):
    SIZE = 300_000  # above the small tier: the body goes by this suite's tier

    def populate(self, root):
        self.data = offset_pattern(self.SIZE)
        self.write("f.bin", self.data)
        self.write("big.bin", offset_pattern(32 << 20))

    def body_tier(self):
        return "copy" if TRANSFER == "copy" else "splice"

    def test_promtool_accepts_a_real_scrape(self):
        s = self.server.connect()
        download(s, "/f.bin")
        s.close()
        self.server.get("/nope")
        content_type, text = raw_scrape(self.server)
        self.assertEqual(content_type, "text/plain; version=0.0.4; charset=utf-8")
        r = subprocess.run([tool("promtool"), "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_histograms_are_cumulative_and_complete(self):
        self.server.get("/f.bin")
        m = self.server.metrics_when(lambda m: m.get("spliced_request_duration_seconds_count", 0) >= 1)
        histograms = {k.split("_bucket{")[0] + "{" + re.sub(r',?le="[^"]*"', "", k.split("_bucket{")[1])
                      for k in m if "_bucket{" in k}
        self.assertGreater(len(histograms), 10)
        for h in histograms:
            name, labels = h.split("{", 1)
            labels = labels.rstrip("}")
            prefix = name + "_bucket{" + (labels + "," if labels else "")
            buckets = sorted(((float(k[len(prefix):].split('le="')[1].rstrip('"}')), v)
                              for k, v in m.items() if k.startswith(prefix)))
            self.assertEqual(buckets[-1][0], float("inf"), h)
            counts = [v for _, v in buckets]
            self.assertEqual(counts, sorted(counts), h)  # cumulative: never decreasing
            count_key = name + "_count" + ("{" + labels + "}" if labels else "")
            self.assertEqual(m[count_key], buckets[-1][1], h)

    def test_counters_never_decrease_between_scrapes(self):
        first = self.server.metrics()
        for _ in range(3):
            self.server.get("/f.bin")
            self.server.get("/missing")
        second = self.server.metrics_when(lambda m: total_sent(m) > total_sent(first) + 3 * self.SIZE)
        for key, value in first.items():
            if re.match(r"spliced_\w+(_total|_bucket|_count|_sum)\b", key):
                self.assertGreaterEqual(second[key], value, key)

    def test_sent_bytes_are_exact(self):
        before = self.server.metrics()
        s = self.server.connect()
        heads = 0
        for _ in range(5):
            head, body = download(s, "/f.bin")
            self.assertEqual(body, self.data)
            heads += head
        s.close()
        want = total_sent(before) + 5 * self.SIZE + heads
        m = self.server.metrics_when(lambda m: total_sent(m) >= want)
        self.assertEqual(total_sent(m), want)
        tier = 'spliced_sent_bytes_total{tier="%s"}' % self.body_tier()
        self.assertEqual(m[tier] - before.get(tier, 0), 5 * self.SIZE)
        head = 'spliced_sent_bytes_total{tier="head"}'
        self.assertEqual(m[head] - before.get(head, 0), heads)

    def test_requests_by_code_and_latency_by_op(self):
        self.assertEqual(self.server.get("/nope")[0], 404)
        self.assertEqual(self.server.get("/f.bin")[0], 200)
        m = self.server.metrics_when(
            lambda m: m.get('spliced_requests_total{code="200",method="GET"}', 0) >= 1
            and m.get('spliced_requests_total{code="404",method="GET"}', 0) >= 1)
        self.assertEqual(m['spliced_requests_total{code="404",method="GET"}'], 1)
        self.assertEqual(m['spliced_requests_total{code="200",method="GET"}'], 1)
        ops = ["accept", "recv", "send", "openat", "statx"]
        ops += ["read"] if self.body_tier() == "copy" else ["splice"]
        for op in ops:
            self.assertGreater(m['spliced_completion_latency_seconds_count{op="%s"}' % op], 0, op)

    def test_client_gone_mid_body_counts_as_aborted(self):
        s, f, _ = paused_download(self.server, "/big.bin")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        f.close()
        s.close()  # the last reference: the kernel sends a reset
        key = 'spliced_responses_aborted_total{reason="client_gone"}'
        m = self.server.metrics_when(lambda m: m.get(key, 0) >= 1)
        self.assertEqual(m[key], 1)
        self.assertEqual(m['spliced_responses_aborted_total{reason="timeout"}'], 0)

    def test_throughput_gauge_follows_traffic(self):
        s = self.server.connect()
        sent = 0
        for _ in range(3):
            head, body = download(s, "/big.bin")
            sent += head + len(body)
        s.close()
        m = self.server.metrics_when(
            lambda m: m["spliced_send_throughput_bytes_per_second"] > 0, timeout=5)
        rate = m["spliced_send_throughput_bytes_per_second"]
        self.assertGreater(rate, 0)
        # Samples are at least a second apart, so the rate cannot exceed what was sent.
        self.assertLessEqual(rate, sent)

    def test_build_info_and_ring_gauges(self):
        self.assertEqual(self.server.get("/f.bin")[0], 200)
        m = self.server.metrics_when(lambda m: m["spliced_submit_calls_total"] > 0)
        info = [k for k in m if k.startswith("spliced_build_info{")]
        self.assertEqual(len(info), 1)
        self.assertEqual(m[info[0]], 1)
        labels = dict(re.findall(r'(\w+)="([^"]*)"', info[0]))
        self.assertEqual(labels["kernel"], os.uname().release)
        self.assertRegex(labels["liburing"], r"^2\.\d+")
        self.assertRegex(labels["version"], r"^\d+\.\d+")
        self.assertTrue(labels["setup_flags"])
        self.assertEqual(m["spliced_queue_depth"], 4096)
        self.assertEqual(m["spliced_cq_depth"], 16384)
        self.assertEqual(m["spliced_cq_overflows_total"], 0)
        self.assertGreater(m["spliced_submit_calls_total"], 0)


class PerWorker(ServerTest):
    server_args = ("--metrics-per-worker",)
    threads = 2

    def populate(self, root):
        self.write("a.txt", b"hello")

    def test_each_worker_has_its_series(self):
        for _ in range(20):  # new connections spread over both workers' listeners
            self.assertEqual(self.server.get("/a.txt")[0], 200)
        m = self.server.metrics_when(lambda m: sum(
            v for k, v in m.items() if k.startswith('spliced_requests_total{code="200"')) >= 20)
        per_worker = {k: v for k, v in m.items() if k.startswith('spliced_requests_total{code="200"')}
        self.assertEqual(sum(per_worker.values()), 20)
        self.assertTrue(all('worker="' in k for k in per_worker), per_worker)
        workers = {re.search(r'worker="(\d+)"', k).group(1)
                   for k in m if k.startswith("spliced_connections_accepted_total")}
        self.assertEqual(workers, {"0", "1"})


def proc_stat(path):
    """Fields of a /proc/.../stat line after the command name: proc(5)'s field N is [N - 3]."""
    with open(path) as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds_of(fields):
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ProcessMetrics(ServerTest):
    """process_* as Prometheus' client libraries export them, and CPU per worker thread, checked
    against /proc of the running server."""
    threads = 2

    def populate(self, root):
        self.write("a.txt", b"hello")

    def proc(self, *parts):
        return os.path.join("/proc/%d" % self.server.pid, *parts)

    def test_values_match_proc(self):
        before = cpu_seconds_of(proc_stat(self.proc("stat")))
        m = self.server.metrics()
        after_fields = proc_stat(self.proc("stat"))
        tick = 1 / os.sysconf("SC_CLK_TCK")
        self.assertGreaterEqual(m["process_cpu_seconds_total"], before)
        self.assertLessEqual(m["process_cpu_seconds_total"], cpu_seconds_of(after_fields) + tick)
        with open(self.proc("limits")) as f:
            soft = next(line for line in f if line.startswith("Max open files")).split()[3]
        self.assertEqual(m["process_max_fds"], float(soft))
        # The scrape's own connection may or may not be counted: within two of the listing.
        self.assertLessEqual(abs(m["process_open_fds"] - len(os.listdir(self.proc("fd")))), 2)
        with open("/proc/stat") as f:
            btime = int(next(line for line in f if line.startswith("btime")).split()[1])
        start = btime + int(after_fields[19]) / os.sysconf("SC_CLK_TCK")
        self.assertAlmostEqual(m["process_start_time_seconds"], start, delta=0.011)
        self.assertLess(abs(m["process_start_time_seconds"] - time.time()), 600)
        status = dict(line.split(":", 1) for line in open(self.proc("status")))
        vm_size = int(status["VmSize"].split()[0]) * 1024
        vm_rss = int(status["VmRSS"].split()[0]) * 1024
        self.assertAlmostEqual(m["process_virtual_memory_bytes"], vm_size, delta=vm_size * 0.1)
        self.assertAlmostEqual(m["process_resident_memory_bytes"], vm_rss, delta=vm_rss * 0.25)

    def test_each_worker_thread_has_its_cpu_seconds(self):
        def worker_cpu():
            out = {}
            for tid in os.listdir(self.proc("task")):
                try:
                    with open(self.proc("task", tid, "comm")) as f:
                        name = f.read().strip()
                    if name.startswith("spliced-w"):
                        out[name[len("spliced-w"):]] = cpu_seconds_of(
                            proc_stat(self.proc("task", tid, "stat")))
                except FileNotFoundError:
                    pass  # an io-wq thread that just exited
            return out

        # Work that runs on the worker threads themselves (large bodies mostly move in io-wq):
        # 20,000 pipelined requests over four connections, which land on both workers.
        for _ in range(4):
            with self.server.connect(timeout=30) as s:
                s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 4999 +
                          b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                got = b"".join(iter(lambda: s.recv(1 << 20), b""))
                self.assertEqual(got.count(b"HTTP/1.1 200 OK\r\n"), 5000)
        before = worker_cpu()
        m = self.server.metrics()
        after = worker_cpu()
        self.assertEqual(sorted(before), ["0", "1"])
        tick = 1 / os.sysconf("SC_CLK_TCK")
        series = {}
        for w in ("0", "1"):
            value = m['spliced_worker_cpu_seconds_total{worker="%s"}' % w]
            self.assertGreaterEqual(value, before[w])
            self.assertLessEqual(value, after[w] + tick)
            series[w] = value
        self.assertLessEqual(sum(series.values()), m["process_cpu_seconds_total"] + tick)
        self.assertGreater(sum(series.values()), 0)


def listening_port(pid):
    """The TCP port process `pid` listens on (it was told to bind port 0)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                return int(fields[1].split(":")[1], 16)
    return None


class RealPrometheus(ServerTest):
    """A real Prometheus server on loopback scrapes spliced every second; its HTTP API then returns
    the byte count spliced itself reports."""

    def populate(self, root):
        self.write("f.bin", offset_pattern(1 << 20))

    def start_prometheus(self):
        self.prom_dir = tempfile.mkdtemp(prefix="spliced-prometheus-")
        config = os.path.join(self.prom_dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: spliced\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % self.server.metrics_port)
        self.prom = subprocess.Popen(
            [tool("prometheus"), "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.prom_dir, "data"),
             "--web.listen-address=127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        port = None
        while port is None and time.time() < deadline and self.prom.poll() is None:
            time.sleep(0.1)
            port = listening_port(self.prom.pid)
        self.assertIsNotNone(port, "prometheus did not start")
        # Its API answers 503 until the TSDB has opened: wait for /-/ready, as its docs say.
        while time.time() < deadline and not self.prometheus_ready(port):
            time.sleep(0.1)
        self.assertTrue(self.prometheus_ready(port), "prometheus did not become ready in 30 s")
        return port

    @staticmethod
    def prometheus_ready(port):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def tearDown(self):
        if getattr(self, "prom", None):
            self.prom.terminate()
            try:
                self.prom.wait(30)
            except subprocess.TimeoutExpired:
                self.prom.kill()
                self.prom.wait()
            shutil.rmtree(self.prom_dir, ignore_errors=True)
        super().tearDown()

    def query(self, port, expr):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=10) as r:
            reply = json.load(r)
        result = reply["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def test_prometheus_reads_the_byte_count(self):
        port = self.start_prometheus()
        for _ in range(4):
            self.assertEqual(len(self.server.get("/f.bin")[2]), 1 << 20)
        want = total_sent(self.server.metrics_when(lambda m: total_sent(m) >= 4 << 20))
        got = None
        deadline = time.time() + 30
        while time.time() < deadline:
            got = self.query(port, "sum(spliced_sent_bytes_total)")
            if got == want:
                break
            time.sleep(0.5)
        self.assertEqual(got, want)
        self.assertEqual(self.query(port, 'up{job="spliced"}'), 1)


if __name__ == "__main__":
    main()
