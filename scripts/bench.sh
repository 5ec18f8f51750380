#!/usr/bin/env bash
# The benchmark method of BENCHMARKS.md ("The #18 method"): bash scripts/bench.sh [options]
#
# Each run starts a fresh server pinned to CPU 0 (taskset -c 0, GOMAXPROCS=1; memory state, no Kafka, a
# temporary spool) and the load generator pinned to CPU 1, on 127.0.0.1 only. Every viewer is its own socket,
# spread over 127.0.0.2… source addresses. Sets:
#   capacity  fan-out at each viewer step, 40 posting users, 20 comments/s: the curve and the capacity at SLO
#             (largest step where every comment reached every viewer and p99 ≤ 250 ms, in the median run)
#   small     fan-out 2,000 viewers × 20 comments/s (small rooms)
#   idle      idle memory: server RSS growth ÷ sockets at --idle-viewers idle sockets (settle 5 s)
#   join      join storm: --join-viewers viewers, 64 dials at once, joins/s until every welcome arrived
# Every set is run --runs times, each on a fresh server; the load average is recorded before and after each
# run. Results go to DIR/results.jsonl (one kudos-bench JSON line per run); the markdown tables to
# DIR/tables.md and stdout; the curve to DIR/capacity.svg.
#
# Options (defaults are the full method):
#   --sets LIST        comma-separated subset of capacity,small,idle,join (default all)
#   --from N --to N --step N   capacity viewer steps (default 1000..20000 by 1000)
#   --runs N           runs per figure, the median is reported (default 3)
#   --duration D       posting time per fan-out run, after all sockets are open (default 20s)
#   --idle-viewers N   (default 15000)   --join-viewers N (default 15000)
#   --stop-after N     stop the capacity sweep after N consecutive steps that miss the SLO (default 2)
#   --out DIR          where results go (default a new temporary directory)
# Quick look: bash scripts/bench.sh --from 1000 --to 3000 --runs 1 --duration 5s --sets capacity,small
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

sets=capacity,small,idle,join
from=1000 to=20000 step=1000 runs=3 duration=20s
idle_viewers=15000 join_viewers=15000 stop_after=2 out=""
while (($#)); do
	case "$1" in
	--sets) sets=$2 ;;
	--from) from=$2 ;;
	--to) to=$2 ;;
	--step) step=$2 ;;
	--runs) runs=$2 ;;
	--duration) duration=$2 ;;
	--idle-viewers) idle_viewers=$2 ;;
	--join-viewers) join_viewers=$2 ;;
	--stop-after) stop_after=$2 ;;
	--out) out=$2 ;;
	-h | --help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown option $1 (--help)" >&2; exit 2 ;;
	esac
	shift 2
done
for v in from to step runs idle_viewers join_viewers stop_after; do
	[[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { echo "bench.sh: --${v//_/-} must be a positive integer" >&2; exit 2; }
done
if (($(nproc) < 2)); then
	echo "bench.sh: the method pins the server and the generator to two different CPUs; this machine has $(nproc)" >&2
	exit 1
fi
command -v taskset >/dev/null || { echo "bench.sh: taskset (util-linux) is required" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench.sh: jq is required" >&2; exit 1; }

[[ -n $out ]] || out=$(mktemp -d -t kudos-bench.XXXXXX)
mkdir -p "$out"
results=$out/results.jsonl
: >"$results"
work=$(mktemp -d -t kudos-bench-work.XXXXXX)
spid=""
cleanup() {
	if [[ -n $spid ]]; then kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/kudos" ./cmd/kudos
go build -o "$work/kudos-bench" ./cmd/kudos-bench
secret=bench-secret-$RANDOM$RANDOM-0123456789
port=$((20000 + RANDOM % 20000))
url=http://127.0.0.1:$port

start_server() {
	local spool
	spool=$(mktemp -d "$work/spool.XXXXXX")
	KUDOS_TOKEN_SECRET=$secret KUDOS_ADDR=127.0.0.1:$port KUDOS_KAFKA_BROKERS=none KUDOS_SPOOL_DIR=$spool \
		KUDOS_MAX_CONNS_PER_IP=-1 KUDOS_LOG_LEVEL=warn GOMAXPROCS=1 \
		taskset -c 0 "$work/kudos" >"$work/server.log" 2>&1 &
	spid=$!
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "$url/healthz" 2>/dev/null && return 0
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench.sh: the server did not start:" >&2
	cat "$work/server.log" >&2
	exit 1
}

stop_server() {
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	spid=""
}

# procs: one generator process holds at most 18,000 sockets (the open-files limit is 20,000 a process).
procs_for() { echo $((($1 + 17999) / 18000)); }

# run SET RUN VIEWERS ARGS...: one run on a fresh server; appends its JSON line, labelled, to results.
run() {
	local set=$1 n=$2 viewers=$3 procs line
	shift 3
	procs=$(procs_for "$viewers")
	start_server
	echo "bench.sh: $set run $n, $viewers viewers (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
	if line=$(timeout 600 taskset -c 1 "$work/kudos-bench" -url "$url" -secret "$secret" -viewers "$viewers" \
		-procs "$procs" -source-addrs 32 -json "$@" 2>"$work/bench.err" | tail -n 1) && [[ -n $line ]]; then
		:
	else
		echo "bench.sh: $set run $n failed:" >&2
		tail -n 5 "$work/bench.err" >&2
		[[ -n $line ]] || line='{"scenario":"failed","viewers":'"$viewers"'}'
	fi
	stop_server
	jq -c --arg set "$set" --argjson run "$n" '. + {set: $set, run: $run}' <<<"$line" >>"$results"
	sleep 2 # let the closed sockets leave TIME_WAIT's busiest moment and the load settle a little
}

has() { [[ ,$sets, == *,$1,* ]]; }

fanout=(-scenario fanout -posters 40 -rate 20 -duration "$duration")
if has small; then
	for r in $(seq "$runs"); do run small "$r" 2000 "${fanout[@]}"; done
fi
if has capacity; then
	misses=0
	for ((v = from; v <= to; v += step)); do
		for r in $(seq "$runs"); do run capacity "$r" "$v" "${fanout[@]}"; done
		# The SLO in the median run of this step: every comment to every viewer, p99 ≤ 250 ms.
		if jq -s --argjson v "$v" -e '[.[] | select(.set == "capacity" and .viewers == $v)
			| (.scenario == "fanout" and .connected == .viewers and (.missing // 0) == 0 and (.dropped // 0) == 0
			   and (.comments_acked // 0) > 0 and .p99_ms <= 250)] | (map(select(.)) | length) * 2 > length' \
			"$results" >/dev/null; then
			misses=0
		else
			misses=$((misses + 1))
			if ((misses >= stop_after)); then
				echo "bench.sh: $misses steps in a row missed the SLO; the sweep stops at $v viewers" >&2
				break
			fi
		fi
	done
fi
if has idle; then
	for r in $(seq "$runs"); do
		procs=$(procs_for "$idle_viewers")
		start_server
		pid=$spid
		echo "bench.sh: idle run $r, $idle_viewers viewers" >&2
		line=$(timeout 600 taskset -c 1 "$work/kudos-bench" -url "$url" -secret "$secret" -scenario idle \
			-viewers "$idle_viewers" -procs "$procs" -source-addrs 32 -settle 5s -server-pid "$pid" -json \
			2>"$work/bench.err" | tail -n 1) || true
		[[ -n $line ]] || { tail -n 5 "$work/bench.err" >&2; line='{"scenario":"failed","viewers":'"$idle_viewers"'}'; }
		stop_server
		jq -c --arg set idle --argjson run "$r" '. + {set: $set, run: $run}' <<<"$line" >>"$results"
		sleep 2
	done
fi
if has join; then
	# 64 dials at once over all generator processes.
	p=$(procs_for "$join_viewers")
	for r in $(seq "$runs"); do
		run join "$r" "$join_viewers" -scenario idle -settle 1s -dial-concurrency $((64 / p))
	done
fi

"$work/kudos-bench" -results "$results" -tables | tee "$out/tables.md"
"$work/kudos-bench" -results "$results" -svg "$out/capacity.svg"
{
	echo
	echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load now $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "open files: $(ulimit -n) per process (server and each generator process)"
	echo "results: $results, tables: $out/tables.md, curve: $out/capacity.svg"
} | tee -a "$out/tables.md"
