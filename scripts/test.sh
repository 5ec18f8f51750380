#!/usr/bin/env bash
# The test command: bash scripts/test.sh [go test args...]
#
# Starts what the tests need on 127.0.0.1 (redis-server from Debian, installed when missing; a single-node
# Apache Kafka 4.x broker via scripts/kafka.sh), exports where they are, checks gofmt and go vet, then runs
# `go test -race -count=1` on ./... or on the given arguments (bash scripts/test.sh -run Foo ./stream/), and
# on the full run a few seconds of each fuzz target.
# Both servers are stopped on exit, whatever happens.
#
# Exported for the tests:
#   KUDOS_TEST_REDIS_URL        redis://127.0.0.1:PORT/0
#   KUDOS_TEST_REDIS_SERVER_BIN path of redis-server, for tests that start their own instances
#   KUDOS_TEST_REDIS_CLUSTER    127.0.0.1:PORT,... the six nodes of a 3-primary Redis Cluster (one replica each)
#   KUDOS_TEST_REDIS_SENTINEL   kudostest@127.0.0.1:PORT,... three sentinels watching a primary with one replica
#   KUDOS_TEST_REDIS_SENTINEL_PRIMARY, KUDOS_TEST_REDIS_SENTINEL_REPLICA   127.0.0.1:PORT of that primary, replica
#   KUDOS_TEST_KAFKA_BROKERS    127.0.0.1:PORT
#   KUDOS_TEST_KAFKA_CTL        command taking stop|start|kill|restart for that broker (same port and data)
#   KUDOS_KAFKA_STATE           the broker's state dir, read by KUDOS_TEST_KAFKA_CTL
#   KUDOS_TEST_DUCKDB_PYTHON    a Python with the duckdb package (a virtualenv under .cache/), for docs/sql.md
#   KUDOS_TEST_KAFKA_SECURE_BROKERS, _CA, _CERT, _KEY, _USER, _PASSWORD
#                               the same broker's SASL_SSL listener (TLS, client certificates, SCRAM-SHA-512,
#                               SCRAM-SHA-256 and PLAIN): scripts/kafka.sh's secure mode
#
# KUDOS_TEST_NO_KAFKA=1 or KUDOS_TEST_NO_REDIS=1 skip starting that server (its tests then skip, or fail
# under CI=true).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

section() { printf '\n===== %s =====\n' "$*"; }

as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

# What the tests need from Debian, installed when missing (so this one command works on a fresh machine):
# redis-server for the stores, chromium for the page tests, Java, Maven and openssl for the Kafka broker
# (scripts/kafka.sh), kcat for the SQL quick start, python3 for free ports and DuckDB, Node.js for the client
# SDK's tests, nginx for the load-balancer config test. KUDOS_TEST_NO_APT=1 only reports what is missing.
section "system packages"
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
if (( ${#need[@]} == 0 )); then
  echo "all present"
elif [[ "${KUDOS_TEST_NO_APT:-}" == 1 ]]; then
  echo "missing (not installed: KUDOS_TEST_NO_APT=1): ${need[*]}"
else
  echo "installing from Debian: ${need[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/kudos-test.XXXXXX")"
redis_pidfile="$tmp/redis/redis.pid"
export KUDOS_KAFKA_STATE="$tmp/kafka"

cleanup() {
  local rc=$?
  set +e
  section "stopping servers"
  if [[ -f "$redis_pidfile" ]]; then
    local pid
    pid="$(cat "$redis_pidfile")"
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    echo "redis-server stopped"
  fi
  local f cpids=()
  for f in "$tmp"/redis-cluster/*/redis.pid; do
    [[ -f "$f" ]] && cpids+=("$(cat "$f")")
  done
  if (( ${#cpids[@]} > 0 )); then
    kill "${cpids[@]}" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "${cpids[@]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${cpids[@]}" 2>/dev/null
    echo "redis cluster stopped"
  fi
  local spids=()
  for f in "$tmp"/redis-sentinel/*/redis.pid; do
    [[ -f "$f" ]] && spids+=("$(cat "$f")")
  done
  if (( ${#spids[@]} > 0 )); then
    kill "${spids[@]}" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "${spids[@]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${spids[@]}" 2>/dev/null
    echo "redis sentinel group stopped"
  fi
  if [[ -d "$KUDOS_KAFKA_STATE" ]]; then
    bash "$root/scripts/kafka.sh" stop
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null && return
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port" >&2
  return 1
}

if [[ "${KUDOS_TEST_NO_REDIS:-}" != 1 ]]; then
  section "redis"
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis-server missing: installing it from Debian"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server
  fi
  redis_bin="$(command -v redis-server)"
  redis_port="$(free_port)"
  mkdir -p "$tmp/redis"
  "$redis_bin" --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$tmp/redis" \
    --daemonize yes --pidfile "$redis_pidfile" --logfile "$tmp/redis/redis.log"
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then break; fi
    if (( i == 100 )); then cat "$tmp/redis/redis.log"; echo "redis-server did not start" >&2; exit 1; fi
    sleep 0.1
  done
  export KUDOS_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
  export KUDOS_TEST_REDIS_SERVER_BIN="$redis_bin"
  echo "redis-server $("$redis_bin" --version | awk '{print $3}' | sed 's/^v=//') on 127.0.0.1:$redis_port"

  # A Redis Cluster of three primaries, each with one replica: six redis-server processes and
  # redis-cli --cluster create (the engagement store, the fan-out and presence run on it too).
  section "redis cluster"
  cluster_started=$SECONDS
  cluster_nodes=()
  for _ in 1 2 3 4 5 6; do
    p="$(free_port)"
    bus="$(free_port)" # the cluster bus, given its own port: the default (port + 10000) may be taken or too high
    mkdir -p "$tmp/redis-cluster/$p"
    "$redis_bin" --bind 127.0.0.1 --port "$p" --cluster-enabled yes --cluster-port "$bus" --cluster-config-file nodes.conf \
      --cluster-node-timeout 2000 --save '' --appendonly no --dir "$tmp/redis-cluster/$p" --daemonize yes \
      --pidfile "$tmp/redis-cluster/$p/redis.pid" --logfile "$tmp/redis-cluster/$p/redis.log"
    cluster_nodes+=("127.0.0.1:$p")
  done
  for node in "${cluster_nodes[@]}"; do
    for i in $(seq 1 100); do
      if redis-cli -h 127.0.0.1 -p "${node##*:}" ping >/dev/null 2>&1; then break; fi
      if (( i == 100 )); then echo "cluster node $node did not start" >&2; exit 1; fi
      sleep 0.05
    done
  done
  redis-cli --cluster create "${cluster_nodes[@]}" --cluster-replicas 1 --cluster-yes >"$tmp/redis-cluster/create.log" 2>&1 \
    || { cat "$tmp/redis-cluster/create.log"; echo "redis-cli --cluster create failed" >&2; exit 1; }
  for i in $(seq 1 200); do
    ok=1
    for node in "${cluster_nodes[@]}"; do
      redis-cli -h 127.0.0.1 -p "${node##*:}" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || { ok=0; break; }
    done
    if (( ok == 1 )); then break; fi
    if (( i == 200 )); then redis-cli -p "${cluster_nodes[0]##*:}" cluster info; echo "the Redis Cluster did not reach cluster_state:ok" >&2; exit 1; fi
    sleep 0.05
  done
  export KUDOS_TEST_REDIS_CLUSTER="$(IFS=,; echo "${cluster_nodes[*]}")"
  echo "redis cluster of 3 primaries and 3 replicas on $KUDOS_TEST_REDIS_CLUSTER (took $((SECONDS - cluster_started)) s)"

  # A Sentinel group: a primary, one replica and three sentinels (redis-server --sentinel), quorum 2. Tests
  # that kill a primary start a group of their own (testenv.StartSentinelGroup); this one is never failed over.
  section "redis sentinel"
  sentinel_started=$SECONDS
  start_node() { # dir port [args...]
    local d="$1" p="$2"; shift 2
    mkdir -p "$d"
    "$redis_bin" "$@" --bind 127.0.0.1 --port "$p" --save '' --appendonly no --dir "$d" --daemonize yes \
      --pidfile "$d/redis.pid" --logfile "$d/redis.log"
  }
  wait_ping() { # port
    for i in $(seq 1 100); do
      if redis-cli -h 127.0.0.1 -p "$1" ping >/dev/null 2>&1; then return 0; fi
      sleep 0.05
    done
    echo "redis on 127.0.0.1:$1 did not start" >&2
    return 1
  }
  sentinel_primary="$(free_port)"
  sentinel_replica="$(free_port)"
  start_node "$tmp/redis-sentinel/$sentinel_primary" "$sentinel_primary" --repl-diskless-sync yes --repl-diskless-sync-delay 0
  wait_ping "$sentinel_primary"
  start_node "$tmp/redis-sentinel/$sentinel_replica" "$sentinel_replica" --replicaof 127.0.0.1 "$sentinel_primary"
  sentinels=()
  for _ in 1 2 3; do
    p="$(free_port)"
    mkdir -p "$tmp/redis-sentinel/$p"
    printf 'sentinel monitor kudostest 127.0.0.1 %s 2\nsentinel down-after-milliseconds kudostest 5000\n' "$sentinel_primary" \
      >"$tmp/redis-sentinel/$p/sentinel.conf"
    start_node "$tmp/redis-sentinel/$p" "$p" "$tmp/redis-sentinel/$p/sentinel.conf" --sentinel
    sentinels+=("127.0.0.1:$p")
  done
  for s in "${sentinels[@]}"; do wait_ping "${s##*:}"; done
  for i in $(seq 1 200); do
    if redis-cli -h 127.0.0.1 -p "$sentinel_primary" info replication | grep -q 'state=online'; then break; fi
    if (( i == 200 )); then echo "the Sentinel group's replica did not sync" >&2; exit 1; fi
    sleep 0.05
  done
  export KUDOS_TEST_REDIS_SENTINEL="kudostest@$(IFS=,; echo "${sentinels[*]}")"
  export KUDOS_TEST_REDIS_SENTINEL_PRIMARY="127.0.0.1:$sentinel_primary"
  export KUDOS_TEST_REDIS_SENTINEL_REPLICA="127.0.0.1:$sentinel_replica"
  echo "redis sentinel group: primary $KUDOS_TEST_REDIS_SENTINEL_PRIMARY, replica $KUDOS_TEST_REDIS_SENTINEL_REPLICA, $KUDOS_TEST_REDIS_SENTINEL (took $((SECONDS - sentinel_started)) s)"
fi

section "nginx"
# deploy/nginx_test.go runs the shipped load-balancer config for real; nginx-light is enough.
if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
  echo "nginx missing: installing nginx-light from Debian"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light
fi
export PATH="$PATH:/usr/sbin"
echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///')"

if [[ "${KUDOS_TEST_NO_KAFKA:-}" != 1 ]]; then
  section "kafka"
  if ! command -v openssl >/dev/null 2>&1; then
    echo "openssl missing (the secure listener's certificates): installing it from Debian"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssl
  fi
  kafka_started=$SECONDS
  KUDOS_KAFKA_SECURE=1 bash "$root/scripts/kafka.sh" start
  export KUDOS_TEST_KAFKA_BROKERS="$(bash "$root/scripts/kafka.sh" brokers)"
  while IFS='=' read -r name value; do
    export "$name=$value"
  done < <(bash "$root/scripts/kafka.sh" secure-env)
  export KUDOS_TEST_KAFKA_CTL="bash $root/scripts/kafka.sh"
  echo "kafka on $KUDOS_TEST_KAFKA_BROKERS, SASL_SSL on $KUDOS_TEST_KAFKA_SECURE_BROKERS (took $((SECONDS - kafka_started)) s)"
fi

section "duckdb"
# TestSQLQuickStartDuckDB (cmd/kudos) runs the DuckDB queries of docs/sql.md with DuckDB's Python package,
# kept in a virtualenv under .cache/ (Debian's Python is externally managed) and installed when missing.
duckdb_version=2.0.0
duckdb_venv="$root/.cache/duckdb-venv"
install_duckdb() {
  if ! python3 -m venv --clear "$duckdb_venv" >/dev/null 2>&1; then
    echo "python3-venv missing: installing it from Debian"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
    python3 -m venv --clear "$duckdb_venv"
  fi
  "$duckdb_venv/bin/pip" install -q --disable-pip-version-check "duckdb==$duckdb_version"
}
if ! "$duckdb_venv/bin/python" -c "import sys, duckdb; sys.exit(duckdb.__version__ != '$duckdb_version')" 2>/dev/null; then
  echo "installing duckdb $duckdb_version into .cache/duckdb-venv"
  if ! install_duckdb; then
    # Under CI the test then fails; elsewhere it skips.
    echo "could not install duckdb: TestSQLQuickStartDuckDB will fail under CI=true, skip otherwise" >&2
  fi
fi
if "$duckdb_venv/bin/python" -c "import duckdb" 2>/dev/null; then
  export KUDOS_TEST_DUCKDB_PYTHON="$duckdb_venv/bin/python"
  echo "duckdb $("$KUDOS_TEST_DUCKDB_PYTHON" -c 'import duckdb; print(duckdb.__version__)')"
fi

section "gofmt"
# The Go files git would see (tracked or not ignored); never .cache/.
mapfile -t go_files < <(git ls-files --cached --others --exclude-standard -- '*.go' 2>/dev/null \
  || find . -name '*.go' -not -path './.cache/*')
unformatted=""
if (( ${#go_files[@]} > 0 )); then
  unformatted="$(gofmt -l "${go_files[@]}")"
fi
if [[ -n "$unformatted" ]]; then
  echo "not gofmt-ed:"
  echo "$unformatted"
  exit 1
fi
echo "ok"

section "go vet"
go vet ./...
echo "ok"

section "go test"
if (( $# > 0 )); then
  go test -race -count=1 "$@"
else
  go test -race -count=1 ./...
fi

# A short run of each fuzz target beyond its seed corpus (the seeds already ran above as plain tests), on the
# full run only. KUDOS_TEST_FUZZTIME sets each run's length (default 8s; 0 skips). New findings land in the
# package's testdata/fuzz/<Target>/ and fail the run.
fuzz_targets=(
  "FuzzDecodeClient ./stream/"
  "FuzzHandleFrame ./engagement/"
  "FuzzAPIBodies ./cmd/internal/httpapi/"
)
fuzztime="${KUDOS_TEST_FUZZTIME:-8s}"
if (( $# == 0 )) && [[ "$fuzztime" != 0 ]]; then
  section "fuzz smoke ($fuzztime each)"
  for target in "${fuzz_targets[@]}"; do
    read -r name pkg <<<"$target"
    out="$(go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" 2>&1)" || { echo "$out"; exit 1; }
    echo "$out" | tail -3
    # A renamed or deleted target must not pass silently.
    if grep -q "no fuzz tests to fuzz" <<<"$out"; then echo "fuzz target $name not found in $pkg" >&2; exit 1; fi
  done
fi
