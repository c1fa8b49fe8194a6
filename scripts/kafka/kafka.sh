#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker (KRaft) on loopback for the
# integration suite, with jars fetched through Maven and the machine's Java.
#
#   scripts/kafka/kafka.sh fetch    download the jars (once) into .cache/kafka/lib
#   scripts/kafka/kafka.sh start    start a broker; prints FL_KAFKA_BROKERS=host:port and, on the
#                                   same line, the SASL_SSL listener's FL_KAFKA_SASL_BROKERS,
#                                   FL_KAFKA_SASL_CA, FL_KAFKA_SASL_USER, FL_KAFKA_SASL_PASSWORD_FILE
#   scripts/kafka/kafka.sh stop     stop it (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka/kafka.sh kill     SIGKILL it (fault tests)
#   scripts/kafka/kafka.sh restart  start it again on the same ports and data
#   scripts/kafka/kafka.sh status   exit 0 when it answers
#
# State lives in $FL_KAFKA_DIR (default .cache/kafka/run): ports, data, log.
#
# Besides PLAINTEXT the broker has a SASL_SSL listener: TLS with a
# self-signed certificate for 127.0.0.1 made by keytool (the JDK's), and
# SCRAM-SHA-512 with the user fieldline, whose credentials are written
# into the metadata when the storage is formatted (--add-scram).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib=${FL_KAFKA_LIB:-$root/.cache/kafka/lib}
dir=${FL_KAFKA_DIR:-$root/.cache/kafka/run}

die() { echo "kafka.sh: $*" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

fetch() {
	if [ -f "$lib/.complete" ]; then return; fi
	command -v mvn >/dev/null || die "mvn not found: install Maven (Debian package maven)"
	mkdir -p "$lib"
	echo "kafka.sh: fetching Kafka jars with Maven into $lib" >&2
	mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" >&2
	touch "$lib/.complete"
}

answers() { # port
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_ready() {
	local port=$1 deadline=$((SECONDS + 120))
	while ! answers "$port"; do
		if [ -f "$dir/pid" ] && ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
			tail -50 "$dir/logs/server.log" "$dir/stdout.log" >&2 || true
			die "broker exited during start (logs above)"
		fi
		[ $SECONDS -lt $deadline ] || die "broker not answering on $port after 120 s"
		sleep 0.2
	done
	# A listening socket is not yet a ready broker: ask for metadata.
	if command -v kcat >/dev/null; then
		while ! kcat -b "127.0.0.1:$port" -L -m 5 >/dev/null 2>&1; do
			[ $SECONDS -lt $deadline ] || die "broker on $port not serving metadata after 120 s"
			sleep 0.2
		done
	fi
}

# print_env is the line the callers export: every address and file a test needs.
print_env() {
	echo "FL_KAFKA_BROKERS=127.0.0.1:$(cat "$dir/broker.port") FL_KAFKA_SASL_BROKERS=127.0.0.1:$(cat "$dir/sasl.port")" \
		"FL_KAFKA_SASL_CA=$dir/tls/ca.pem FL_KAFKA_SASL_USER=fieldline FL_KAFKA_SASL_PASSWORD_FILE=$dir/tls/fieldline.pw"
}

# tls makes the broker's key store and the CA file clients trust (the
# self-signed certificate itself), and the SCRAM user's password.
tls() {
	command -v keytool >/dev/null || die "keytool not found (it comes with the JDK)"
	mkdir -p "$dir/tls"
	chmod 700 "$dir/tls"
	local pass
	pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	echo "$pass" >"$dir/tls/store.pass"
	keytool -genkeypair -alias broker -keyalg EC -groupname secp256r1 -dname CN=127.0.0.1 \
		-ext SAN=ip:127.0.0.1,dns:localhost -ext BC:c=ca:true -validity 30 \
		-keystore "$dir/tls/broker.p12" -storetype PKCS12 -storepass "$pass" -keypass "$pass" >/dev/null 2>&1 ||
		die "keytool could not make the broker's key"
	keytool -exportcert -rfc -alias broker -keystore "$dir/tls/broker.p12" -storepass "$pass" -file "$dir/tls/ca.pem" >/dev/null 2>&1 ||
		die "keytool could not export the broker's certificate"
	head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/tls/fieldline.pw"
	chmod 600 "$dir/tls/fieldline.pw" "$dir/tls/store.pass"
}

launch() {
	local bport cport
	bport=$(cat "$dir/broker.port")
	cport=$(cat "$dir/controller.port")
	mkdir -p "$dir/logs"
	nohup java -Xms256m -Xmx768m -XX:+UseG1GC \
		-Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$dir/logs" \
		-cp "$lib/*" kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 &
	echo $! >"$dir/pid"
	wait_ready "$bport"
	print_env
}

start() {
	fetch
	command -v java >/dev/null || die "java not found (Kafka 4 needs Java 17 or newer)"
	if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
		print_env
		return
	fi
	rm -rf "$dir"
	mkdir -p "$dir/data"
	local bport cport sport id
	bport=$(free_port)
	cport=$(free_port)
	sport=$(free_port)
	echo "$bport" >"$dir/broker.port"
	echo "$cport" >"$dir/controller.port"
	echo "$sport" >"$dir/sasl.port"
	tls
	cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport,SASL_SSL://127.0.0.1:$sport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport,SASL_SSL://127.0.0.1:$sport
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$dir/tls/broker.p12
ssl.keystore.password=$(cat "$dir/tls/store.pass")
ssl.key.password=$(cat "$dir/tls/store.pass")
log.dirs=$dir/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.flush.interval.messages=9223372036854775807
PROPS
	id=$(java -cp "$lib/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
	java -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$dir/logs" \
		-cp "$lib/*" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" \
		--add-scram "SCRAM-SHA-512=[name=fieldline,password=$(cat "$dir/tls/fieldline.pw")]" >"$dir/format.log" 2>&1 ||
		{ cat "$dir/format.log" >&2; die "formatting storage failed"; }
	launch
}

stop() { # signal
	local sig=${1:-TERM}
	[ -f "$dir/pid" ] || return 0
	local pid deadline=$((SECONDS + 30))
	pid=$(cat "$dir/pid")
	kill "-$sig" "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; fi
		sleep 0.1
	done
	rm -f "$dir/pid"
}

case "${1:-}" in
fetch) fetch ;;
start) start ;;
stop) stop TERM ;;
kill) stop KILL ;;
restart)
	[ -f "$dir/server.properties" ] || die "no broker was started in $dir"
	if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
		print_env
	else
		launch
	fi
	;;
status) [ -f "$dir/broker.port" ] && answers "$(cat "$dir/broker.port")" ;;
*) die "usage: kafka.sh fetch|start|stop|kill|restart|status" ;;
esac
