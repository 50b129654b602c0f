#!/usr/bin/env python3
"""CPU per GiB of large splice transfers under flag variants, side by side.

    perf/splice_variants.py ROOT /file.bin NAME="--flags ..." [NAME="--flags ..." ...]

Each variant is a fresh `spliced --threads 1` pinned to CPU 0 serving ROOT, read by perf/sink
(8 connections, 256 KiB reads) pinned to CPU 1: 1 s warm-up, then 4 s measured. Variants are
interleaved over three rounds; medians of CPU-s per GiB (utime+stime of every thread of the
server, io-wq workers included) and GiB/s are printed. Run from the repository with
build-release built.
"""
import os
import re
import signal
import statistics
import subprocess
import sys

BIN = os.path.join("build-release", "src", "spliced")
SINK = os.path.join("build-release", "perf", "sink")


def start(root, flags):
    p = subprocess.Popen(["taskset", "-c", "0", BIN, root, "--threads", "1", "--listen", "127.0.0.1:0",
                          "--metrics-listen", "off"] + flags,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p, int(re.search(r":(\d+)", p.stdout.readline()).group(1))


def cpu_seconds(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def sink(port, path, seconds):
    out = subprocess.run(["taskset", "-c", "1", SINK, "127.0.0.1", str(port), path, "8", str(seconds)],
                         capture_output=True, text=True, check=True).stdout
    return dict(kv.split("=") for kv in out.split())


def main():
    root, path = sys.argv[1], sys.argv[2]
    variants = dict(arg.split("=", 1) for arg in sys.argv[3:])
    results = {name: [] for name in variants}
    for _ in range(3):
        for name, flags in variants.items():
            proc, port = start(root, flags.split())
            try:
                sink(port, path, 1)
                before = cpu_seconds(proc.pid)
                v = sink(port, path, 4)
                used = cpu_seconds(proc.pid) - before
            finally:
                proc.send_signal(signal.SIGINT)  # SIGTERM would wait out --drain-delay
                proc.wait()
            gib = float(v["bytes"]) / 2**30
            results[name].append((used / gib, gib / float(v["seconds"])))
    for name, runs in results.items():
        print("%-12s CPU-s/GiB %.3f  GiB/s %.2f  rounds %s" % (
            name, statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            " ".join("%.3f" % r[0] for r in runs)))


if __name__ == "__main__":
    main()
