#!/usr/bin/env python3
"""Side-by-side comparison of spliced's transfer tiers, the measurement behind `--transfer auto`.

    perf/tiers.py BINARY [--seconds 4] [--rounds 2] [--sizes 1k,4k,...]

Three servers run at once, one per tier, each with one worker pinned to CPU 0; wrk (one thread)
is pinned to CPU 1. For every file size the tiers take turns (A B C, A B C, ...) so that drift in
the machine's speed hits all of them alike:

  small   --transfer auto with the small tier allowed up to one buffer (256 KiB): head and body in
          one SEND; bodies that do not fit splice
  copy    --transfer copy: READ_FIXED + SEND through registered buffers
  splice  --transfer splice: file -> pipe -> socket

Per run: requests/s, GiB/s, and the server's CPU seconds (utime + stime from /proc) turned into
CPU-ms per 1,000 requests and CPU-s per GiB. Prints a Markdown table of the medians (with each
round's value) for perf/RESULTS.md.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
HZ = os.sysconf("SC_CLK_TCK")


def size_of(text):
    text = text.strip().lower()
    return int(text[:-1]) * UNITS[text[-1]] if text[-1] in UNITS else int(text)


def connections_for(size):
    if size <= 256 << 10:
        return 64
    if size <= 1 << 20:
        return 32
    if size <= 16 << 20:
        return 16
    return 8 if size <= 100 << 20 else 4


TIERS = {
    "small": ["--transfer", "auto", "--auto-small-max", "16M", "--auto-copy-max", "0"],
    "copy": ["--transfer", "copy"],
    "splice": ["--transfer", "splice"],
}


class Server:
    def __init__(self, binary, root, flags):
        if "--metrics-listen" not in flags:
            flags = ["--metrics-listen", "off"] + flags
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", binary, "--root", root, "--listen", "127.0.0.1:0",
             "--threads", "1"] + flags,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if not m:
            raise SystemExit("tiers: spliced did not start: %r" % line)
        self.port = int(m.group(1))

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ

    def stop(self):
        self.proc.send_signal(signal.SIGINT)  # SIGTERM would wait out --drain-delay
        self.proc.wait(30)


def stop_all(servers, root):
    """Stops every server by its PID and removes the fixture directory."""
    for s in servers.values():
        s.stop()
    shutil.rmtree(root, ignore_errors=True)


def wrk(port, name, conns, seconds):
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", "-c", str(conns), "-d", "%ds" % seconds,
         "http://127.0.0.1:%d/%s" % (port, name)],
        capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    elapsed = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    transfer = re.search(r"([\d.]+)(B|KB|MB|GB) read", out)
    scale = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[transfer.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    return requests, float(transfer.group(1)) * scale, elapsed, errors.group(0) if errors else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sizes", default="1k,4k,16k,64k,128k,240k,1m,16m,100m,1g")
    args = ap.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("tiers: needs wrk and taskset (apt-get install wrk util-linux)")

    sizes = [size_of(s) for s in args.sizes.split(",")]
    root = tempfile.mkdtemp(prefix="spliced-tiers-")
    servers = {}
    try:
        for size in sizes:
            with open(os.path.join(root, "%d.bin" % size), "wb") as f:
                left = size
                while left:
                    chunk = os.urandom(min(left, 1 << 24))
                    f.write(chunk)
                    left -= len(chunk)
            with open(os.path.join(root, "%d.bin" % size), "rb") as f:  # warm the page cache
                while f.read(1 << 24):
                    pass
        servers = {tier: Server(args.binary, root, flags) for tier, flags in TIERS.items()}
        results = {}  # (size, tier) -> list of (rps, GiB/s, cpu-ms/1k req, cpu-s/GiB)
        for size in sizes:
            conns = connections_for(size)
            # The small tier only exists for bodies that fit a buffer beside the head.
            tiers = [t for t in TIERS if t != "small" or size <= (240 << 10)]
            for _ in range(args.rounds):
                for tier in tiers:
                    s = servers[tier]
                    before = s.cpu_seconds()
                    requests, read, elapsed, errors = wrk(s.port, "%d.bin" % size, conns,
                                                          args.seconds)
                    cpu = s.cpu_seconds() - before
                    if errors:
                        print("tiers: %s %d: %s" % (tier, size, errors), file=sys.stderr)
                    gib = read / (1 << 30)
                    results.setdefault((size, tier), []).append(
                        (requests / elapsed, gib / elapsed, 1000 * cpu / requests * 1000,
                         cpu / gib))
                    time.sleep(0.5)

        print("| size | conns | tier | requests/s | GiB/s | CPU-ms per 1k req | CPU-s per GiB |")
        print("|---|---|---|---|---|---|---|")
        for size in sizes:
            for tier in TIERS:
                runs = results.get((size, tier))
                if not runs:
                    continue

                def col(i, fmt):
                    med = statistics.median(r[i] for r in runs)
                    each = " / ".join(fmt % r[i] for r in runs)
                    return "%s (%s)" % (fmt % med, each)

                label = "%d %s" % ((size >> 30, "GiB") if size >= 1 << 30 else (size >> 20, "MiB")
                                   if size >= 1 << 20 else (size >> 10, "KiB"))
                print("| %s | %d | %s | %s | %s | %s | %s |" % (
                    label, connections_for(size), tier, col(0, "%.0f"), col(1, "%.2f"),
                    col(2, "%.1f"), col(3, "%.3f")))
    finally:
        stop_all(servers, root)


if __name__ == "__main__":
    main()
