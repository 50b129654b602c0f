#!/usr/bin/env python3
"""Memory per idle keep-alive connection: opens N connections to a running spliced, makes one
request on each (so each has parsed a request and holds its keep-alive state), then reports the
growth of the server's resident set (VmRSS, user-space memory only; kernel socket buffers are not
in it) divided by N.

    perf/idle_connections.py BINARY [N]
"""
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    root = tempfile.mkdtemp()
    with open(os.path.join(root, "a.txt"), "wb") as f:
        f.write(b"x" * 100)
    proc = subprocess.Popen([binary, "--root", root, "--listen", "127.0.0.1:0", "--metrics-listen", "off",
                             "--threads", "1", "--idle-timeout", "10m"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(proc.stdout.readline().rsplit(":", 1)[1])
    warm = socket.create_connection(("127.0.0.1", port))
    warm.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    warm.recv(4096)
    time.sleep(0.2)
    before = rss_kib(proc.pid)
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: idle-bench\r\n\r\n")
        conns.append(s)
    for s in conns:
        got = b""
        while b"xxxxxxxxxx" not in got:
            got += s.recv(4096)
    # Requests that arrive in one burst are served side by side, each with an exchange; spares
    # left unused for a second are freed (and malloc trimmed) within two.
    time.sleep(2.5)
    after = rss_kib(proc.pid)
    print("%d idle keep-alive connections: RSS %d KiB -> %d KiB, %.2f KiB per connection"
          % (n, before, after, (after - before) / n))
    for s in conns:
        s.close()
    warm.close()
    proc.send_signal(signal.SIGINT)  # SIGTERM would wait out --drain-delay
    proc.wait()


if __name__ == "__main__":
    main()
