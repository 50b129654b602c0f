#!/usr/bin/env bash
# Load spliced with wrk and report requests/s, bytes/s and server CPU time per run.
#
#   perf/bench.sh BINARY [DURATION_S] [THREADS] [SERVER FLAGS...]
#
# e.g. perf/bench.sh build-release/src/spliced 10 2 --transfer copy
#
# Runs on loopback: wrk and spliced share the machine, so compare numbers only within one run.
# Prints a Markdown table (append it to perf/RESULTS.md with the machine and date).
set -euo pipefail

bin=${1:?usage: perf/bench.sh BINARY [DURATION_S] [THREADS] [SERVER FLAGS...]}
duration=${2:-10}
threads=${3:-$(nproc)}
shift $(($# < 3 ? $# : 3))
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)" >&2; exit 2; }

root=$(mktemp -d)
out=$(mktemp)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$root" "$out"' EXIT
head -c 4096 /dev/urandom >"$root/4k.bin"
head -c $((1 << 20)) /dev/urandom >"$root/1m.bin"
head -c $((100 << 20)) /dev/urandom >"$root/100m.bin"

"$bin" --root "$root" --listen 127.0.0.1:0 --metrics-listen off --threads "$threads" "$@" >"$out" 2>/dev/null &
pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$out" && break; sleep 0.05; done
port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$out")
[ -n "$port" ] || { echo "bench: spliced did not start" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)

# Warm the page cache so that both runs measure the network path, not the disk.
cat "$root/4k.bin" "$root/1m.bin" "$root/100m.bin" >/dev/null

echo "| file | connections | requests/s | bytes/s | server CPU s (user+sys) | CPU s per GiB |"
echo "|---|---|---|---|---|---|"
run() { # run NAME CONNECTIONS
    local name=$1 conns=$2 before after report rps bytes cpu
    before=$(cpu_ticks)
    report=$(wrk -t "$(nproc)" -c "$conns" -d "${duration}s" --latency "http://127.0.0.1:$port/$name")
    after=$(cpu_ticks)
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$report")
    bytes=$(awk '/^Transfer\/sec:/ {v=$2; u=substr(v, length(v)-1); n=v+0;
        m = (u=="GB") ? 2^30 : (u=="MB") ? 2^20 : (u=="KB") ? 2^10 : 1; printf "%.0f", n*m}' <<<"$report")
    cpu=$(awk -v t=$((after - before)) -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}')
    per_gib=$(awk -v c="$cpu" -v b="$bytes" -v d="$duration" 'BEGIN {printf "%.3f", c / (b * d / 2^30)}')
    printf '| %s | %s | %s | %s (%.2f GiB/s) | %s | %s |\n' "$name" "$conns" "$rps" "$bytes" \
        "$(awk -v b="$bytes" 'BEGIN {print b / 2^30}')" "$cpu" "$per_gib"
    if grep -q "Non-2xx\|Socket errors" <<<"$report"; then
        grep "Non-2xx\|Socket errors" <<<"$report" | sed 's/^/    wrk: /' >&2
    fi
}
run 4k.bin 256
run 1m.bin 32
run 100m.bin 8
