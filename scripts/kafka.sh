#!/usr/bin/env bash
# A single-node Apache Kafka 4.x broker (KRaft, broker+controller in one JVM) on 127.0.0.1, for tests and CI.
#
# Usage: bash scripts/kafka.sh fetch|start|stop|kill|restart|status|brokers|brokers-secure|secure-env|clean
#
#   fetch    download the broker jars with Maven into .cache/kafka/jars (skipped when already there)
#   start    start the broker; the first start in a state dir picks free ports and formats the log dir,
#            later starts reuse the same ports and data (so a test can stop the broker and bring it back)
#   stop     stop it gracefully (SIGTERM, then SIGKILL after 30 s); ports and data stay in the state dir
#   kill     stop it with SIGKILL at once (a crash); ports and data stay
#   restart  stop then start
#   status   exit 0 when the broker answers on its port
#   brokers  print host:port of the broker (the plaintext listener)
#   brokers-secure  print host:port of the SASL_SSL listener and, on a second line, the CA file its
#            certificate chains to (secure mode only)
#   secure-env  print the secure listener's settings as KUDOS_TEST_KAFKA_SECURE_*=value lines (secure mode only)
#   clean    stop it and delete the state dir
#
# State dir: $KUDOS_KAFKA_STATE, default .cache/kafka/state. It holds server.properties, the data dir, the
# ports, the pid file and server.log. scripts/test.sh uses a fresh temporary one per run and exports
# KUDOS_KAFKA_STATE and KUDOS_TEST_KAFKA_CTL ("bash <repo>/scripts/kafka.sh"), so a test can run
# `$KUDOS_TEST_KAFKA_CTL stop` and `$KUDOS_TEST_KAFKA_CTL start` and get the same broker back on the same port.
#
# Other settings: KUDOS_KAFKA_PORT / KUDOS_KAFKA_CONTROLLER_PORT (fixed ports for the first start),
# KUDOS_KAFKA_HEAP (default 512m), KUDOS_KAFKA_START_TIMEOUT (seconds, default 90).
#
# Secure mode: KUDOS_KAFKA_SECURE=1 at the first start in a state dir also opens a SASL_SSL listener on
# another port (KUDOS_KAFKA_SECURE_PORT, default a free one): TLS with a certificate for 127.0.0.1 and
# localhost signed by a CA made for this state dir, client certificates required (signed by the same CA),
# and SASL SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN for the user "kudos" with a random password. openssl
# writes the CA, the broker's and the client's keys and certificates (PEM) into <state>/secure, with the
# password; the SCRAM credentials are stored when the log dir is formatted. The plaintext listener stays as
# it is. The mode sticks to the state dir: later starts reuse it whatever KUDOS_KAFKA_SECURE says.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jars="$root/.cache/kafka/jars"
m2="$root/.cache/m2"
state="${KUDOS_KAFKA_STATE:-$root/.cache/kafka/state}"
heap="${KUDOS_KAFKA_HEAP:-512m}"
start_timeout="${KUDOS_KAFKA_START_TIMEOUT:-90}"

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a port on 127.0.0.1 that nothing listens on now.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! port_open "$p"; then echo "$p"; return; fi
  done
  die "no free port found"
}

running_pid() {
  local pid
  [[ -f "$state/kafka.pid" ]] || return 1
  pid="$(cat "$state/kafka.pid")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

cmd_fetch() {
  if [[ -f "$jars/.complete" ]]; then
    return
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found (apt-get install -y maven)"
  mkdir -p "$(dirname "$jars")" "$m2"
  # Several test runs may start at once: one fetches, the others wait, and the jars appear in one rename.
  exec 9>"$(dirname "$jars")/.fetch.lock"
  flock 9
  if [[ ! -f "$jars/.complete" ]]; then
    log "fetching Kafka jars with Maven into $jars (once; cached afterwards)"
    local tmp
    tmp="$(mktemp -d "$jars.tmp.XXXXXX")"
    if ! mvn -B -q -f "$root/scripts/kafka/pom.xml" -Dmaven.repo.local="$m2" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
      cat "$tmp.log" >&2
      rm -rf "$tmp" "$tmp.log"
      exec 9>&-
      die "maven could not fetch the Kafka jars"
    fi
    touch "$tmp/.complete"
    rm -rf "$jars" "$tmp.log"
    mv "$tmp" "$jars"
  fi
  exec 9>&- # the broker started later must not hold the lock
}

java_cmd() {
  local java="java"
  if [[ -n "${JAVA_HOME:-}" ]]; then java="$JAVA_HOME/bin/java"; fi
  echo "$java"
}

# make_certs DIR: a CA, the broker's certificate (127.0.0.1 and localhost) and a client certificate, all
# EC P-256 keys in PKCS#8 PEM (what Kafka's PEM key store reads), and a random password.
make_certs() {
  local dir="$1"
  command -v openssl >/dev/null 2>&1 || die "openssl not found (apt-get install -y openssl)"
  mkdir -p "$dir"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc)
  openssl req -x509 "${ec[@]}" -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 3650 -subj "/CN=Kudos test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  local name eku
  for name in broker client; do
    eku=serverAuth
    [[ "$name" == client ]] && eku=clientAuth
    openssl req "${ec[@]}" -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=kudos-$name" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=%s\n' "$eku" > "$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
      -days 3650 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
    rm -f "$dir/$name.csr" "$dir/$name.ext"
  done
  # Kafka's PEM key store: the private key, then the certificate chain.
  cat "$dir/broker.key" "$dir/broker.pem" "$dir/ca.pem" > "$dir/broker-keystore.pem"
  echo kudos > "$dir/user"
  openssl rand -hex 16 > "$dir/password"
  chmod 600 "$dir"/*.key "$dir/broker-keystore.pem" "$dir/password"
}

configure() {
  local port cport sport="" secure_listener="" secure_map="" user="" pw=""
  port="${KUDOS_KAFKA_PORT:-$(free_port)}"
  cport="${KUDOS_KAFKA_CONTROLLER_PORT:-$(free_port)}"
  [[ "$port" != "$cport" ]] || cport="$(free_port)"
  mkdir -p "$state/data"
  echo "$port" > "$state/port"
  echo "$cport" > "$state/controller-port"
  local format_args=()
  rm -f "$state/secure-port"
  if [[ "${KUDOS_KAFKA_SECURE:-}" == 1 ]]; then
    sport="${KUDOS_KAFKA_SECURE_PORT:-$(free_port)}"
    while [[ "$sport" == "$port" || "$sport" == "$cport" ]]; do sport="$(free_port)"; done
    rm -rf "$state/secure"
    make_certs "$state/secure"
    echo "$sport" > "$state/secure-port"
    secure_listener=",SASL_SSL://127.0.0.1:$sport"
    secure_map=",SASL_SSL:SASL_SSL"
    user="$(cat "$state/secure/user")"
    pw="$(cat "$state/secure/password")"
    format_args=(--add-scram "SCRAM-SHA-512=[name=$user,password=$pw]" --add-scram "SCRAM-SHA-256=[name=$user,password=$pw]")
  fi
  cat > "$state/server.properties" <<EOF
# Written by scripts/kafka.sh: one node that is both broker and controller, for tests only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport$secure_listener
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport$secure_listener
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT$secure_map
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$state/data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# A small machine: few threads.
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
EOF
  if [[ -n "$sport" ]]; then
    cat >> "$state/server.properties" <<EOF
# Secure mode (KUDOS_KAFKA_SECURE=1): TLS with client certificates and SASL on the SASL_SSL listener.
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$user="$pw";
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$state/secure/broker-keystore.pem
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location=$state/secure/ca.pem
listener.name.sasl_ssl.ssl.client.auth=required
EOF
    chmod 600 "$state/server.properties"
  fi
  cat > "$state/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $state/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = org.apache.kafka
logger.kafka.level = info
EOF
  local cluster_id
  cluster_id="$("$(java_cmd)" -cp "$jars/*" kafka.tools.StorageTool random-uuid)"
  log "formatting $state/data (cluster $cluster_id)"
  "$(java_cmd)" -Xmx256m -Dlog4j2.configurationFile="$state/log4j2.properties" -cp "$jars/*" \
    kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$state/server.properties" "${format_args[@]}" >"$state/format.log" 2>&1 \
    || { cat "$state/format.log" >&2; die "format failed"; }
}

cmd_start() {
  cmd_fetch
  mkdir -p "$state"
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on 127.0.0.1:$(cat "$state/port")"
    return
  fi
  [[ -f "$state/server.properties" && -f "$state/data/meta.properties" ]] || configure
  local port
  port="$(cat "$state/port")"
  port_open "$port" && die "port $port is taken by another process"
  local started=$SECONDS
  # setsid: the broker must not get the terminal's signals; the pid file is how it is stopped.
  setsid "$(java_cmd)" -Xms256m -Xmx"$heap" -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$state/log4j2.properties" -cp "$jars/*" \
    kafka.Kafka "$state/server.properties" >>"$state/stdout.log" 2>&1 </dev/null &
  echo $! > "$state/kafka.pid"
  log "starting broker (pid $!) on 127.0.0.1:$port, log $state/server.log"
  # Ready means the port answers and the server logged that it started (the listener opens a bit earlier).
  while (( SECONDS - started < start_timeout )); do
    if ! running_pid >/dev/null; then
      tail -n 40 "$state/server.log" "$state/stdout.log" >&2 2>/dev/null || true
      die "broker exited during start"
    fi
    if port_open "$port" && grep -q "Kafka Server started" "$state/server.log" 2>/dev/null; then
      log "ready on 127.0.0.1:$port after $((SECONDS - started)) s"
      return
    fi
    sleep 0.5
  done
  tail -n 40 "$state/server.log" >&2 2>/dev/null || true
  cmd_stop
  die "broker not ready after $start_timeout s"
}

# stop_with SIGNAL GRACE_SECONDS
stop_with() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$state/kafka.pid"
    return
  fi
  kill "-$1" "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if (( waited >= $2 * 10 )); then
      log "broker (pid $pid) still running after $2 s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$state/kafka.pid"
  # The grep in cmd_start must see the next start's line, not this one's.
  if [[ -f "$state/server.log" ]]; then mv "$state/server.log" "$state/server.log.prev"; fi
  log "stopped (pid $pid)"
}

cmd_stop() { stop_with TERM 30; }
cmd_kill() { stop_with KILL 5; }

cmd_status() {
  running_pid >/dev/null && port_open "$(cat "$state/port")"
}

cmd_brokers() {
  [[ -f "$state/port" ]] || die "no broker configured in $state"
  echo "127.0.0.1:$(cat "$state/port")"
}

cmd_brokers_secure() {
  [[ -f "$state/secure-port" ]] || die "no secure listener in $state (start the first time with KUDOS_KAFKA_SECURE=1)"
  echo "127.0.0.1:$(cat "$state/secure-port")"
  echo "$state/secure/ca.pem"
}

cmd_secure_env() {
  [[ -f "$state/secure-port" ]] || die "no secure listener in $state (start the first time with KUDOS_KAFKA_SECURE=1)"
  echo "KUDOS_TEST_KAFKA_SECURE_BROKERS=127.0.0.1:$(cat "$state/secure-port")"
  echo "KUDOS_TEST_KAFKA_SECURE_CA=$state/secure/ca.pem"
  echo "KUDOS_TEST_KAFKA_SECURE_CERT=$state/secure/client.pem"
  echo "KUDOS_TEST_KAFKA_SECURE_KEY=$state/secure/client.key"
  echo "KUDOS_TEST_KAFKA_SECURE_USER=$(cat "$state/secure/user")"
  echo "KUDOS_TEST_KAFKA_SECURE_PASSWORD=$(cat "$state/secure/password")"
}

cmd_clean() {
  cmd_stop
  rm -rf "$state"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  kill) cmd_kill ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  brokers) cmd_brokers ;;
  brokers-secure) cmd_brokers_secure ;;
  secure-env) cmd_secure_env ;;
  clean) cmd_clean ;;
  *) echo "usage: $0 fetch|start|stop|kill|restart|status|brokers|brokers-secure|secure-env|clean" >&2; exit 2 ;;
esac
