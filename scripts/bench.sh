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
#   join-redis the join storm with the server's state on Redis (a redis-server of its own per run, on a free
#             port in a temporary directory, not pinned)
#   votes     vote storm: --vote-viewers viewers vote at once on a 4-option poll; the time from the first vote
#             to the last ack, and whether the final tally equals the acked votes
#   twonode   two servers on one Redis (both pinned to CPU 0, each GOMAXPROCS=1), --twonode-viewers viewers
#             spread over them, 40 posting users on the first, 20 comments/s
#   overload  fan-out past capacity, 40 posting users, at each VIEWERSxRATE of --overload (default 2× and 4×
#             the 160,000 deliveries/s of 8,000 viewers × 20/s): how much chat a viewer still gets (the server
#             skips only chat, telling each viewer how many in chat.skipped frames), how late what arrives
#             is, and who was dropped. Past 20 comments/s a viewer's sampling (20/s) skips the rest by design.
#             A step over 18,000 viewers needs a higher open-files limit (the server holds every socket)
#   kafka     events to Kafka with acks=all: --kafka-events like.sent events through the server's sink (durable
#             spool, group commit, kafka-go) from 256 publishers, then the same number of records of the same
#             size (value, key, headers) through kcat (librdkafka), on a broker of its own (scripts/kafka.sh
#             with its own state dir, removed after); no compression, not pinned (broker, sink and kcat share
#             the CPUs), after one warm-up run that is not recorded. Each run records both rates and sink ÷
#             kcat. apt-get installs kcat, Java and Maven when missing
# Every set is run --runs times, each on a fresh server; the load average is recorded before and after each
# run. Results go to DIR/results.jsonl (one kudos-bench JSON line per run); the markdown tables to
# DIR/tables.md and stdout; the curve to DIR/capacity.svg.
#
# Options (defaults are the full method):
#   --sets LIST        comma-separated subset of capacity,small,idle,join,join-redis,votes,twonode,overload,kafka (default all)
#   --from N --to N --step N   capacity viewer steps (default 1000..20000 by 1000)
#   --runs N           runs per figure, the median is reported (default 3)
#   --duration D       posting time per fan-out run, after all sockets are open (default 20s)
#   --idle-viewers N   (default 15000)   --join-viewers N (default 15000)
#   --vote-viewers N   (default 15000)   --twonode-viewers N (default 15000)
#   --kafka-events N   events per kafka run (default 200000)
#   --overload LIST    comma-separated VIEWERSxRATE steps of the overload set (default 16000x20,16000x40)
#   --stop-after N     stop the capacity sweep after N consecutive steps that miss the SLO (default 2)
#   --out DIR          where results go (default a new temporary directory)
# Quick look: bash scripts/bench.sh --from 1000 --to 3000 --runs 1 --duration 5s --sets capacity,small
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

sets=capacity,small,idle,join,join-redis,votes,twonode,overload,kafka
kafka_events=200000
from=1000 to=20000 step=1000 runs=3 duration=20s
idle_viewers=15000 join_viewers=15000 stop_after=2 out=""
vote_viewers=15000 twonode_viewers=15000
overload=16000x20,16000x40
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
	--vote-viewers) vote_viewers=$2 ;;
	--twonode-viewers) twonode_viewers=$2 ;;
	--overload) overload=$2 ;;
	--kafka-events) kafka_events=$2 ;;
	--stop-after) stop_after=$2 ;;
	--out) out=$2 ;;
	-h | --help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown option $1 (--help)" >&2; exit 2 ;;
	esac
	shift 2
done
for v in from to step runs idle_viewers join_viewers vote_viewers twonode_viewers stop_after kafka_events; do
	[[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { echo "bench.sh: --${v//_/-} must be a positive integer" >&2; exit 2; }
done
[[ $overload =~ ^[1-9][0-9]*x[1-9][0-9]*(,[1-9][0-9]*x[1-9][0-9]*)*$ ]] ||
	{ echo "bench.sh: --overload must be VIEWERSxRATE steps separated by commas (16000x20,16000x40)" >&2; exit 2; }
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
# With redis=1 each server runs on a redis-server of its own (started and stopped with it); with second=1 a
# second server (spid2, port2) shares it.
redis=0 second=0 spid2="" rpid="" redis_url=""
cleanup() {
	for p in $spid $spid2 $rpid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/kudos" ./cmd/kudos
go build -o "$work/kudos-bench" ./cmd/kudos-bench
secret=bench-secret-$RANDOM$RANDOM-0123456789
port=$((20000 + RANDOM % 20000))
url=http://127.0.0.1:$port
port2=$((port + 1))
url2=http://127.0.0.1:$port2

# start_redis: a redis-server on a free loopback port, in a new temporary directory, nothing saved.
start_redis() {
	command -v redis-server >/dev/null || { echo "bench.sh: the Redis sets need redis-server" >&2; exit 1; }
	local rport rdir
	rdir=$(mktemp -d "$work/redis.XXXXXX")
	for _ in $(seq 20); do
		rport=$((40000 + RANDOM % 20000))
		(exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null || break # nothing listens there
	done
	redis-server --port "$rport" --bind 127.0.0.1 --dir "$rdir" --save '' --appendonly no \
		--maxclients 1000 >"$rdir/redis.log" 2>&1 &
	rpid=$!
	redis_url=redis://127.0.0.1:$rport/0
	for _ in $(seq 100); do
		[[ $(redis-cli -p "$rport" ping 2>/dev/null) == PONG ]] && return 0
		kill -0 "$rpid" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench.sh: redis-server did not start:" >&2
	cat "$rdir/redis.log" >&2
	exit 1
}

# start_node PORT NAME: a server on 127.0.0.1:PORT (KUDOS_NODE NAME; on redis_url when set), its pid in npid.
start_node() {
	local spool
	spool=$(mktemp -d "$work/spool.XXXXXX")
	KUDOS_TOKEN_SECRET=$secret KUDOS_ADDR=127.0.0.1:$1 KUDOS_NODE=$2 KUDOS_REDIS_URL=$redis_url \
		KUDOS_KAFKA_BROKERS=none KUDOS_SPOOL_DIR=$spool KUDOS_MAX_CONNS_PER_IP=-1 KUDOS_LOG_LEVEL=warn GOMAXPROCS=1 \
		taskset -c 0 "$work/kudos" >"$work/server-$2.log" 2>&1 &
	npid=$!
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$1/healthz" 2>/dev/null && return 0
		kill -0 "$npid" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench.sh: the server did not start:" >&2
	cat "$work/server-$2.log" >&2
	exit 1
}

start_server() {
	if ((redis)); then start_redis; else redis_url=""; fi
	start_node "$port" bench-a
	spid=$npid
	if ((second)); then
		start_node "$port2" bench-b
		spid2=$npid
	fi
}

stop_server() {
	for p in $spid $spid2 $rpid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	spid="" spid2="" rpid=""
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

if has join-redis; then
	p=$(procs_for "$join_viewers")
	redis=1
	for r in $(seq "$runs"); do
		run join-redis "$r" "$join_viewers" -scenario idle -settle 1s -dial-concurrency $((64 / p))
	done
	redis=0
fi
if has votes; then
	# The vote storm of issue 7 (< 2 s, tally exact): every viewer votes at once, 32 senders per process.
	for r in $(seq "$runs"); do run votes "$r" "$vote_viewers" -scenario votes -options 4; done
fi
if has twonode; then
	redis=1 second=1
	for r in $(seq "$runs"); do run twonode "$r" "$twonode_viewers" -scenario twonode -url2 "$url2" "${fanout[@]:2}"; done
	redis=0 second=0
fi
if has overload; then
	for s in ${overload//,/ }; do
		v=${s%x*} rate=${s#*x}
		# The server holds every socket: past the open-files limit of the other sets, try to raise it.
		if ((v + 2000 > $(ulimit -n))) && ! ulimit -n $((v + 2000)) 2>/dev/null; then
			echo "bench.sh: overload at $v viewers needs $((v + 2000)) open files a process; the limit is $(ulimit -n): skipped" >&2
			continue
		fi
		for r in $(seq "$runs"); do run overload "$r" "$v" -scenario fanout -posters 40 -rate "$rate" -duration "$duration"; done
	done
fi

if has kafka; then
	# kcat, and Java and Maven for the broker (scripts/kafka.sh), from Debian when missing.
	need=()
	command -v kcat >/dev/null || need+=(kcat)
	command -v java >/dev/null || need+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null || need+=(maven)
	if ((${#need[@]})); then
		sudo=""
		((EUID == 0)) || sudo=sudo
		echo "bench.sh: installing from Debian: ${need[*]}" >&2
		{ $sudo apt-get update -q && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"; } >&2 ||
			{ echo "bench.sh: the kafka set needs ${need[*]} (apt-get install)" >&2; exit 1; }
	fi
	kstate=$(mktemp -d "$work/kafka.XXXXXX")
	trap 'KUDOS_KAFKA_STATE=$kstate bash scripts/kafka.sh clean >/dev/null 2>&1 || true; cleanup' EXIT
	KUDOS_KAFKA_STATE=$kstate bash scripts/kafka.sh start
	kbroker=$(KUDOS_KAFKA_STATE=$kstate bash scripts/kafka.sh brokers)
	# A warm-up run, not recorded: a fresh broker's JVM is several times slower until it has compiled its
	# hot paths, which would favour whichever producer comes second.
	timeout 600 "$work/kudos-bench" -scenario kafka -brokers "$kbroker" -events "$kafka_events" -posters 256 \
		-kcat "$(command -v kcat)" -json >/dev/null 2>"$work/bench.err" || { tail -n 5 "$work/bench.err" >&2; exit 1; }
	for r in $(seq "$runs"); do
		echo "bench.sh: kafka run $r, $kafka_events events (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
		line=$(timeout 600 "$work/kudos-bench" -scenario kafka -brokers "$kbroker" -events "$kafka_events" \
			-posters 256 -kcat "$(command -v kcat)" -json 2>"$work/bench.err" | tail -n 1) || true
		[[ -n $line ]] || { tail -n 5 "$work/bench.err" >&2; line='{"scenario":"failed","viewers":0}'; }
		jq -c --arg set kafka --argjson run "$r" '. + {set: $set, run: $run}' <<<"$line" >>"$results"
		sleep 2
	done
	KUDOS_KAFKA_STATE=$kstate bash scripts/kafka.sh clean
	trap cleanup EXIT
fi

"$work/kudos-bench" -results "$results" -tables | tee "$out/tables.md"
"$work/kudos-bench" -results "$results" -svg "$out/capacity.svg"
{
	echo
	echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load now $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "open files: $(ulimit -n) per process (server and each generator process)"
	echo "results: $results, tables: $out/tables.md, curve: $out/capacity.svg"
} | tee -a "$out/tables.md"
