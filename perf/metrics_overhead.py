#!/usr/bin/env python3
"""Does publishing metrics cost the data path anything? (issue 5)

    perf/metrics_overhead.py BINARY [--seconds 5] [--rounds 3]

Two servers serve a 4 KiB file, each one worker pinned to CPU 0: one with --metrics-listen off,
one with the metrics endpoint on and scraped every 100 ms (ten to fifty times more often than a
Prometheus would) by this script. wrk -t1 -c64 (pinned to CPU 1) loads them in turns. Workers
record every metric either way (the shards are always written); what differs is the scraping.
Prints requests/s and server CPU-ms per 1,000 requests per round, and the medians.
"""
import argparse
import os
import statistics
import tempfile
import threading
import time
import urllib.request

from tiers import Server, stop_all, wrk


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="spliced-metrics-")
    with open(os.path.join(root, "4k.bin"), "wb") as f:
        f.write(os.urandom(4096))
    servers = {}
    try:
        servers["metrics off"] = Server(args.binary, root, ["--metrics-listen", "off"])
        servers["scraped every 100 ms"] = Server(args.binary, root, ["--metrics-listen", "127.0.0.1:0"])
        metrics_port = None
        for line in servers["scraped every 100 ms"].proc.stdout:
            if line.startswith("metrics on http://127.0.0.1:"):
                metrics_port = int(line.rsplit(":", 1)[1].split("/")[0])
                break
        stop = threading.Event()
        scrapes = [0]

        def scrape():
            while not stop.is_set():
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port) as r:
                    r.read()
                scrapes[0] += 1
                time.sleep(0.1)

        scraper = threading.Thread(target=scrape)
        scraper.start()
        results = {name: [] for name in servers}
        print("| round | server | requests/s | CPU-ms per 1k requests |\n|---|---|---|---|")
        for rnd in range(1, args.rounds + 1):
            for name, s in servers.items():
                before = s.cpu_seconds()
                requests, _, elapsed, errors = wrk(s.port, "4k.bin", 64, args.seconds)
                cpu = s.cpu_seconds() - before
                rps, ms = requests / elapsed, cpu * 1e6 / requests
                results[name].append((rps, ms))
                print("| %d | %s | %.0f | %.2f |%s" % (rnd, name, rps, ms, " " + errors if errors else ""))
                time.sleep(0.5)
        stop.set()
        scraper.join()
        for name, runs in results.items():
            print("| median | %s | %.0f | %.2f |" % (name, statistics.median(r[0] for r in runs),
                                                    statistics.median(r[1] for r in runs)))
        print("\n%d scrapes during the run" % scrapes[0])
    finally:
        stop_all(servers, root)


if __name__ == "__main__":
    main()
