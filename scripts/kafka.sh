#!/usr/bin/env bash
# scripts/kafka.sh — a real single-node Apache Kafka broker (KRaft, combined
# broker+controller) for local development, tests and CI.
#
#   scripts/kafka.sh up       start it (idempotent) and wait until it answers
#   scripts/kafka.sh down     stop the broker started by `up`
#   scripts/kafka.sh status   print "up" / "down", exit 0 / 1
#
# Everything comes from Maven Central by artifact name (no tarball download,
# which this project's machines cannot fetch): the broker jar
# org.apache.kafka:kafka_2.13 and its runtime dependency tree, plus a log4j2
# SLF4J binding. The jars land in the git-ignored cache
# .cache/kafka/<version>/libs and are fetched only once.
#
# Which class lives where (Kafka 4.x):
#   kafka.Kafka (main class), kafka.tools.StorageTool (storage format tool),
#   kafka.server.KafkaRaftServer ............... kafka_2.13 ("core")
#   log/segment storage ........................ kafka-storage, kafka-storage-api
#   broker/controller plumbing ................. kafka-server, kafka-server-common,
#                                                kafka-metadata, kafka-raft,
#                                                kafka-*-coordinator
#   all of the above arrive as runtime dependencies of kafka_2.13.
#   kafka-tools (TopicCommand & co, the kafka-topics.sh CLI) is NOT needed:
#   the format tool is in core, and kafka-tools would drag in connect-runtime
#   (Jetty, Jersey, ...) for nothing.
#   log4j-api/log4j-core come transitively; Kafka 4.x logs through slf4j-api
#   1.7.x, so the binding is log4j-slf4j-impl (not log4j-slf4j2-impl): without
#   it the broker would log nothing at all.
#
# Environment:
#   KAFKA_BROKERS          if set, `up` only waits for that broker (first of a
#                          comma separated list) and starts nothing.
#   KAFKA_PORT             client listener port (default 9092)
#   KAFKA_SECURE_PORT      SASL_SSL listener port (default 9094): TLS with a
#                          certificate from the local CA in .cache/kafka/tls
#                          (ca.pem), SCRAM-SHA-512 logins. No user exists until
#                          one is created (kafka-go AlterUserScramCredentials on
#                          the plaintext port); the tests create their own.
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default 9093)
#   KAFKA_VERSION          broker version (default below)
#   KAFKA_UP_TIMEOUT       seconds `up` waits for the broker (default 90)
#   KAFKA_HEAP_OPTS        JVM heap flags (default -Xmx512m -Xms256m)
set -euo pipefail

# Version: 4.4.0, the newest release on Maven Central whose runtime tree
# resolves. Kafka 4.x removed the protocol versions very old clients used
# (KIP-896); segmentio/kafka-go v0.4.51 negotiates versions 4.x still serves
# (Produce v7, Fetch v10, Metadata v1/v6, JoinGroup v2, OffsetCommit v2,
# CreateTopics v2, classic consumer-group protocol). Verified with
# platform/kafkabus's tests (acks=all produce, CreateTopics, metadata,
# consumer-group FetchMessage + CommitMessages, redelivery) against 4.4.0,
# and also 4.3.1 and 4.1.1 (KAFKA_VERSION=... to pick one of those).
# Kafka 4.x brokers need Java 17+.
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
# Same log4j2 line as the version Kafka itself resolves to.
LOG4J_VERSION="${LOG4J_VERSION:-2.25.5}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_SECURE_PORT="${KAFKA_SECURE_PORT:-9094}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_UP_TIMEOUT="${KAFKA_UP_TIMEOUT:-90}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/kafka"
VERSION_DIR="$CACHE/$KAFKA_VERSION"
LIBS="$VERSION_DIR/libs"
DATA="$CACHE/data"
CONF="$CACHE/server.properties"
LOG4J_CONF="$CACHE/log4j2.properties"
LOG="$CACHE/broker.log"
PIDFILE="$CACHE/broker.pid"
TLS_DIR="$CACHE/tls"
# The local broker's keystore password: it guards a certificate for 127.0.0.1 made on
# this machine, nothing else.
TLS_PASS="wallet-local-kafka"

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------- probing --

# kafka_probe HOST PORT: succeed iff a Kafka broker at HOST:PORT answers a
# Metadata request (v4, all topics) with at least one broker in the response.
# A bare TCP connect is not enough: the socket opens before the broker has
# registered with the controller and can serve clients. Pure bash (/dev/tcp)
# so it costs milliseconds, not a JVM start.
kafka_probe() {
	local host="$1" port="$2"
	host="${host#[}" host="${host%]}" # [::1] -> ::1 for /dev/tcp
	# shellcheck disable=SC2016 # expanded by the inner bash, on purpose
	with_timeout 5 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		# size=23 | api_key=3 (Metadata) | api_version=4 | correlation_id=0x12345678
		# | client_id="kafka.sh" | topics=null(-1) | allow_auto_topic_creation=false
		printf "\x00\x00\x00\x17\x00\x03\x00\x04\x12\x34\x56\x78\x00\x08kafka.sh\xff\xff\xff\xff\x00" >&3
		# size(4) correlation_id(4) throttle_time_ms(4) brokers_count(4)
		hex=$(head -c 16 <&3 | od -An -tx1 | tr -d " \n")
		exec 3<&-
		[[ ${#hex} -eq 32 && ${hex:8:8} == 12345678 ]] || exit 1
		(( 16#${hex:24:8} >= 1 && 16#${hex:24:8} < 1000 ))
	' _ "$host" "$port" 2>/dev/null
}

# with_timeout SECONDS CMD...: coreutils timeout where present (Linux); a
# watchdog subshell elsewhere (stock macOS has no `timeout`).
with_timeout() {
	local secs="$1"
	shift
	if command -v timeout >/dev/null 2>&1; then
		timeout "$secs" "$@"
		return
	fi
	"$@" &
	local cmd=$!
	(sleep "$secs" && kill -TERM "$cmd" 2>/dev/null) &
	local dog=$!
	local rc=0
	wait "$cmd" || rc=$?
	kill "$dog" 2>/dev/null || true
	wait "$dog" 2>/dev/null || true
	return "$rc"
}

# wait_for HOST PORT SECONDS [PID]: poll kafka_probe; give up after SECONDS,
# or as soon as PID (the broker we started) dies.
wait_for() {
	local host="$1" port="$2" secs="$3" pid="${4:-}"
	local deadline=$((SECONDS + secs))
	while ((SECONDS < deadline)); do
		if kafka_probe "$host" "$port"; then
			return 0
		fi
		if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
			log "broker process $pid exited"
			return 1
		fi
		sleep 0.5
	done
	return 1
}

# broker_pid: print the pid from the pid file if that process is alive and
# is our java broker (guards against a recycled pid).
broker_pid() {
	[[ -f "$PIDFILE" ]] || return 1
	local pid
	pid="$(cat "$PIDFILE" 2>/dev/null || true)"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	local cmdline
	if [[ -r "/proc/$pid/cmdline" ]]; then
		cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
	else
		cmdline="$(ps -p "$pid" -o args= 2>/dev/null || true)"
	fi
	[[ "$cmdline" == *kafka.Kafka* ]] || return 1
	echo "$pid"
}

# ---------------------------------------------------------- prerequisites --

ensure_tools() {
	local missing=()
	command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
	command -v mvn >/dev/null 2>&1 || missing+=(maven)
	if ((${#missing[@]})); then
		[[ $(id -u) -eq 0 ]] || die "need ${missing[*]} (run as root or install them)"
		log "installing ${missing[*]} with apt-get"
		DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
	fi
	for t in od head; do
		command -v "$t" >/dev/null 2>&1 || die "missing $t (coreutils)"
	done
	# Kafka 4.x brokers need Java 17+ ("1.8.0_x" parses as 1 -> too old).
	local jv
	jv="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
	if [[ -z "$jv" || "$jv" -lt 17 ]]; then
		die "Kafka $KAFKA_VERSION needs Java 17+, found: $(java -version 2>&1 | head -n1)"
	fi
}

# fetch_jars: resolve kafka_2.13:<version> + runtime deps from Maven Central
# into $LIBS. Done in a temp dir and renamed at the end, so an interrupted
# fetch never leaves a half-filled libs/ that later runs would trust.
fetch_jars() {
	if [[ -f "$LIBS/.complete" ]]; then
		return 0
	fi
	command -v mvn >/dev/null 2>&1 || ensure_tools
	mkdir -p "$VERSION_DIR"
	local tmp="$VERSION_DIR/libs.tmp.$$"
	rm -rf "$tmp"
	cat >"$VERSION_DIR/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka.sh: only used to fetch the broker's jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.wallet</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-api</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
	log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies from Maven Central"
	local t0=$SECONDS
	# Output goes to a file and is shown only on failure (mvn -q still
	# prints ANSI resets and warnings that would only clutter CI logs).
	if ! mvn -B -q -Dstyle.color=never -f "$VERSION_DIR/pom.xml" \
		org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$tmp" >"$VERSION_DIR/mvn.log" 2>&1; then
		tail -n 40 "$VERSION_DIR/mvn.log" >&2
		rm -rf "$tmp"
		die "maven fetch of kafka_2.13:$KAFKA_VERSION failed (full output: ${VERSION_DIR#"$ROOT"/}/mvn.log)"
	fi
	compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null || die "fetch produced no kafka_2.13 jar"
	touch "$tmp/.complete"
	rm -rf "$LIBS"
	mv "$tmp" "$LIBS"
	log "fetched $(find "$LIBS" -name '*.jar' | wc -l | tr -d ' ') jars in $((SECONDS - t0))s into ${LIBS#"$ROOT"/}"
}

# -------------------------------------------------------------------- tls --

# ensure_tls: a local CA (ca.pem) and a broker certificate it signed for 127.0.0.1 and
# localhost, in a PKCS#12 keystore. Made once with keytool (it comes with Java).
ensure_tls() {
	if [[ -f "$TLS_DIR/broker.p12" && -f "$TLS_DIR/ca.pem" ]]; then
		return 0
	fi
	local tmp="$TLS_DIR.tmp"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	local kt=(keytool -storetype PKCS12 -storepass "$TLS_PASS" -keypass "$TLS_PASS" -noprompt)
	local san="SAN=ip:127.0.0.1,dns:localhost"
	"${kt[@]}" -genkeypair -alias ca -keyalg RSA -keysize 2048 -validity 3650 \
		-dname "CN=wallet local Kafka CA" -ext bc:c -keystore "$tmp/ca.p12" >/dev/null 2>&1 ||
		die "keytool could not make the local CA"
	"${kt[@]}" -exportcert -rfc -alias ca -keystore "$tmp/ca.p12" -file "$tmp/ca.pem" >/dev/null 2>&1
	"${kt[@]}" -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 \
		-dname "CN=localhost" -ext "$san" -keystore "$tmp/broker.p12" >/dev/null 2>&1
	"${kt[@]}" -certreq -alias broker -keystore "$tmp/broker.p12" -file "$tmp/broker.csr" >/dev/null 2>&1
	"${kt[@]}" -gencert -alias ca -keystore "$tmp/ca.p12" -infile "$tmp/broker.csr" -outfile "$tmp/broker.crt" \
		-rfc -validity 3650 -ext "$san" -ext ku:c=digitalSignature,keyEncipherment -ext eku=serverAuth >/dev/null 2>&1
	"${kt[@]}" -importcert -alias ca -file "$tmp/ca.pem" -keystore "$tmp/broker.p12" >/dev/null 2>&1
	"${kt[@]}" -importcert -alias broker -file "$tmp/broker.crt" -keystore "$tmp/broker.p12" >/dev/null 2>&1 ||
		die "keytool could not make the broker's keystore"
	rm -rf "$TLS_DIR"
	mv "$tmp" "$TLS_DIR"
	log "made a local CA and broker certificate in ${TLS_DIR#"$ROOT"/}"
}

# ----------------------------------------------------------------- config --

write_config() {
	mkdir -p "$CACHE"
	# Regenerated on every start so port changes take effect. The quorum is
	# static (controller.quorum.voters) rather than dynamic, so the formatted
	# storage does not pin the controller port.
	cat >"$CONF" <<EOF
# Generated by scripts/kafka.sh — edits are overwritten on the next 'up'.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SECURE_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SECURE_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
# The secure listener: TLS and SCRAM, as a production cluster would ask of the wallet.
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$TLS_DIR/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$TLS_PASS
listener.name.sasl_ssl.ssl.key.password=$TLS_PASS
log.dirs=$DATA
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Dev broker: keep a week of data, small segments so disk use stays modest.
log.retention.hours=168
log.segment.bytes=104857600
EOF
	cat >"$LOG4J_CONF" <<'EOF'
# Generated by scripts/kafka.sh. Everything goes to stdout = .cache/kafka/broker.log.
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
# Per-request and state-change chatter is useless for a dev broker.
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
EOF
}

format_storage() {
	# Formatting is done once: later starts must keep the data (topics,
	# committed offsets) so that `down` + `up` behaves like a broker restart.
	if [[ -f "$DATA/meta.properties" ]]; then
		return 0
	fi
	mkdir -p "$DATA"
	local cid
	cid="$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
	[[ -n "$cid" ]] || die "could not generate a cluster id"
	log "formatting storage in ${DATA#"$ROOT"/} (cluster id $cid)"
	# The tool prints the whole broker config; keep that in the log only.
	if ! java -Dlog4j2.configurationFile="$LOG4J_CONF" -cp "$LIBS/*" kafka.tools.StorageTool \
		format -t "$cid" -c "$CONF" --ignore-formatted >>"$LOG" 2>&1; then
		tail -n 40 "$LOG" >&2
		die "storage format failed"
	fi
	echo "$KAFKA_VERSION" >"$CACHE/data.kafka-version"
}

# --------------------------------------------------------------- commands --

cmd_up() {
	if [[ -n "${KAFKA_BROKERS:-}" ]]; then
		local first="${KAFKA_BROKERS%%,*}"
		local host="${first%:*}" port="${first##*:}"
		if [[ "$host" == "$first" || "$port" == *]* ]]; then
			host="$first" port=9092 # no port given
		fi
		log "KAFKA_BROKERS is set: waiting for $host:$port"
		wait_for "$host" "$port" "$KAFKA_UP_TIMEOUT" || die "no Kafka broker answering at $host:$port after ${KAFKA_UP_TIMEOUT}s"
		log "broker at $host:$port is up"
		return 0
	fi

	mkdir -p "$CACHE"
	# Serialize concurrent `up`s (parallel CI steps) so only one starts a
	# broker; flock is util-linux, so this is skipped where it is missing.
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$CACHE/.lock"
		flock -w "$((KAFKA_UP_TIMEOUT + 120))" 9 || die "timed out waiting for another kafka.sh up"
	fi

	local pid
	if pid="$(broker_pid)"; then
		if wait_for 127.0.0.1 "$KAFKA_PORT" "$KAFKA_UP_TIMEOUT" "$pid"; then
			log "already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
			return 0
		fi
		log "broker pid $pid is alive but not answering; last 40 log lines:"
		tail -n 40 "$LOG" >&2 || true
		exit 1
	fi
	rm -f "$PIDFILE"
	if kafka_probe 127.0.0.1 "$KAFKA_PORT"; then
		# Not ours (no live pid file): use it, but say so, since `down`
		# will not be able to stop it.
		log "WARNING: a Kafka broker not started by this script already answers on 127.0.0.1:$KAFKA_PORT; using it"
		return 0
	fi

	ensure_tools
	fetch_jars
	ensure_tls
	write_config
	format_storage
	local formatted
	formatted="$(cat "$CACHE/data.kafka-version" 2>/dev/null || true)"
	if [[ -n "$formatted" && "$formatted" != "$KAFKA_VERSION" ]]; then
		# Upgrading is fine; an older broker refuses newer metadata. Then
		# `rm -rf .cache/kafka/data` (losing the dev data) is the way out.
		log "note: data was formatted by Kafka $formatted, starting $KAFKA_VERSION"
	fi

	log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT), log ${LOG#"$ROOT"/}"
	local t0=$SECONDS
	# No log rotation inside the broker (stdout appender): rotate here, once
	# per start, so a long-lived dev checkout does not grow the log forever.
	if [[ -f "$LOG" ]] && (($(wc -c <"$LOG") > 20 * 1024 * 1024)); then
		mv -f "$LOG" "$LOG.1"
	fi
	{
		echo
		echo "===== kafka.sh up $(date -u +%FT%TZ) version $KAFKA_VERSION ====="
	} >>"$LOG"
	# setsid + nohup: the broker outlives this shell and its terminal, and
	# does not inherit the lock fd 9.
	local detach=()
	command -v setsid >/dev/null 2>&1 && detach=(setsid)
	# shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of flags
	${detach[@]+"${detach[@]}"} nohup java $KAFKA_HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$LOG4J_CONF" \
		-Dkafka.logs.dir="$CACHE" \
		-cp "$LIBS/*" kafka.Kafka "$CONF" >>"$LOG" 2>&1 </dev/null 9>&- &
	pid=$!
	echo "$pid" >"$PIDFILE"
	echo "$KAFKA_VERSION" >"$CACHE/broker.version"

	if wait_for 127.0.0.1 "$KAFKA_PORT" "$KAFKA_UP_TIMEOUT" "$pid"; then
		log "up (pid $pid) in $((SECONDS - t0))s"
		return 0
	fi
	log "broker did not answer within ${KAFKA_UP_TIMEOUT}s; last 40 lines of ${LOG#"$ROOT"/}:"
	tail -n 40 "$LOG" >&2 || true
	# Do not leave a half-started broker holding the ports for the next try.
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		local stop=$((SECONDS + 15))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < stop)); do sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$PIDFILE"
	exit 1
}

cmd_down() {
	local pid
	if ! pid="$(broker_pid)"; then
		rm -f "$PIDFILE"
		log "not running"
		return 0
	fi
	log "stopping broker (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	# A controlled shutdown of a single node takes a few seconds; give it 30
	# before SIGKILL (which is still safe: the log is recovered on start).
	local deadline=$((SECONDS + 30))
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "still alive after 30s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		deadline=$((SECONDS + 10))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.2
		done
	fi
	rm -f "$PIDFILE"
	log "stopped"
}

cmd_status() {
	local pid
	if pid="$(broker_pid)" && kafka_probe 127.0.0.1 "$KAFKA_PORT"; then
		echo "up (pid $pid, 127.0.0.1:$KAFKA_PORT, Kafka $(cat "$CACHE/broker.version" 2>/dev/null || echo "?"))"
		return 0
	fi
	if [[ -n "${pid:-}" ]]; then
		echo "down (pid $pid alive but not answering on 127.0.0.1:$KAFKA_PORT)"
	else
		echo "down"
	fi
	return 1
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*)
	echo "usage: $0 up|down|status" >&2
	exit 2
	;;
esac
