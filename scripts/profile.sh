#!/usr/bin/env bash
# The profiles behind BENCHMARKS.md's "what bounds it": bash scripts/profile.sh [--out DIR]
#
# Runs the server as scripts/bench.sh does (pinned to CPU 0, GOMAXPROCS=1, memory state, no Kafka), with Go's
# profiles on its private metrics listener (KUDOS_METRICS_ADDR, KUDOS_PPROF=1), and the generator on CPU 1:
#   fanout  8,000 viewers × 20 comments/s: a 10 s CPU profile in the middle of the posting
#   idle    15,000 idle sockets: heap and goroutine profiles, and the Go runtime's memory split (/metrics)
#   join    15,000 viewers dialled 64 at a time: a CPU profile of the storm
#   votes   15,000 viewers vote at once: a CPU profile of the server from the first dial to the last ack
#   overload 14,000 viewers × 20/s (2× capacity): the server's and the generator's CPU profiles, side by side
# Writes DIR/<name>.pprof and DIR/<name>.top.txt (`go tool pprof -top`), on 127.0.0.1 only. --only LIST runs
# a subset (comma-separated names).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="" only=fanout,idle,join,votes,overload
while (($#)); do
	case "$1" in
	--out) out=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	-h | --help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "profile.sh: unknown option $1 (--help)" >&2; exit 2 ;;
	esac
done
[[ -n $out ]] || out=$(mktemp -d -t kudos-profile.XXXXXX)
mkdir -p "$out"
command -v taskset >/dev/null || { echo "profile.sh: taskset (util-linux) is required" >&2; exit 1; }
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d -t kudos-profile-work.XXXXXX)
go build -o "$work/kudos" ./cmd/kudos
go build -o "$work/kudos-bench" ./cmd/kudos-bench
secret=profile-secret-0123456789abcdef
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
spid=""
cleanup() { [[ -z $spid ]] || { kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; }; rm -rf "$work"; }
trap cleanup EXIT

start() {
	port=$(free_port) mport=$(free_port)
	KUDOS_TOKEN_SECRET=$secret KUDOS_ADDR=127.0.0.1:$port KUDOS_METRICS_ADDR=127.0.0.1:$mport KUDOS_PPROF=1 \
		KUDOS_KAFKA_BROKERS=none KUDOS_SPOOL_DIR="$work/spool-$port" KUDOS_MAX_CONNS_PER_IP=-1 KUDOS_LOG_LEVEL=warn \
		GOMAXPROCS=1 taskset -c 0 "$work/kudos" >"$work/server-$port.log" 2>&1 &
	spid=$!
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "profile.sh: the server did not start" >&2
	cat "$work/server-$port.log" >&2
	exit 1
}
stop() { kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; spid=""; }
pprof_url() { echo "http://127.0.0.1:$mport/debug/pprof/$1"; }
top() { go tool pprof -top -nodecount=40 "$1" >"${1%.pprof}.top.txt" 2>/dev/null || true; }
gen() { taskset -c 1 "$work/kudos-bench" -url "http://127.0.0.1:$port" -secret "$secret" -source-addrs 32 "$@"; }

want() { [[ ,$only, == *,$1,* ]]; }

if want fanout; then
echo "profile.sh: fanout, 8,000 viewers × 20/s (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
start
gen -scenario fanout -viewers 8000 -posters 40 -rate 20 -duration 25s >"$out/fanout.txt" 2>&1 &
gpid=$!
# the sockets open in a few seconds; the profile covers the middle of the posting
sleep 12
curl -fsS -o "$out/fanout.cpu.pprof" "$(pprof_url 'profile?seconds=10')"
wait "$gpid" || true
stop
top "$out/fanout.cpu.pprof"
fi

if want idle; then
echo "profile.sh: idle, 15,000 sockets (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
start
gen -scenario idle -viewers 15000 -procs 1 -settle 30s >"$out/idle.txt" 2>&1 &
gpid=$!
sleep 20 # every socket open and settled
curl -fsS -o "$out/idle.heap.pprof" "$(pprof_url heap)"
curl -fsS -o "$out/idle.goroutine.txt" "$(pprof_url 'goroutine?debug=1')"
curl -fsS "http://127.0.0.1:$mport/metrics" | grep -E '^go_(memstats_(heap_inuse|stack_inuse|sys|heap_sys|mspan_inuse|next_gc)_bytes|goroutines) ' >"$out/idle.memory.txt"
grep -E '^[0-9]+ @' "$out/idle.goroutine.txt" | sort -rn | head -5 >"$out/idle.goroutines-top.txt" || true
wait "$gpid" || true
stop
go tool pprof -top -sample_index=inuse_space -nodecount=30 "$out/idle.heap.pprof" >"$out/idle.heap.top.txt" 2>/dev/null || true
fi

if want join; then
echo "profile.sh: join storm, 15,000 viewers (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
start
curl -fsS -o "$out/join.cpu.pprof" "$(pprof_url 'profile?seconds=6')" &
cpid=$!
sleep 0.5
gen -scenario idle -viewers 15000 -procs 1 -settle 1s -dial-concurrency 64 >"$out/join.txt" 2>&1 || true
wait "$cpid" || true
stop
top "$out/join.cpu.pprof"
fi

if want votes; then
echo "profile.sh: vote storm, 15,000 viewers (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
start
curl -fsS -o "$out/votes.cpu.pprof" "$(pprof_url 'profile?seconds=12')" &
cpid=$!
sleep 0.5
gen -scenario votes -viewers 15000 -procs 1 >"$out/votes.txt" 2>&1 || true
wait "$cpid" || true
stop
top "$out/votes.cpu.pprof"
fi

if want overload; then
echo "profile.sh: overload, 14,000 viewers × 20/s (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
start
gen -scenario fanout -viewers 14000 -posters 40 -rate 20 -duration 25s -cpuprofile "$out/overload.generator.cpu.pprof" >"$out/overload.txt" 2>&1 &
gpid=$!
sleep 15
curl -fsS -o "$out/overload.server.cpu.pprof" "$(pprof_url 'profile?seconds=10')"
wait "$gpid" || true
stop
top "$out/overload.server.cpu.pprof"
top "$out/overload.generator.cpu.pprof"
fi

echo "profile.sh: done; profiles and their tops in $out" >&2
ls "$out"
