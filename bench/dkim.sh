#!/usr/bin/env bash
# bench/dkim.sh - what DKIM signing costs (a benchmark: it prints figures
# and never fails on them).
#
#   1. bench-dkim: microseconds per signature of one copy, rsa-2048 and
#      ed25519, with the body hashed per copy and with it shared.
#   2. One personalised post (personalize 1: a transaction, a List-Unsubscribe
#      and a footer per member) to N members over 100 domains, delivered by
#      one `herald runner out --once` into Postfix's smtp-sink, timed with
#      /usr/bin/time: unsigned, signed ed25519, signed rsa-2048, against
#      smtp-source sending the same message one recipient a transaction on
#      4 connections (-d -r 1 -s 4), all in one run; and rsa-2048 with ARC
#      sealing as well (arc.enabled: two more RSA signatures a copy).
#
#   bench/dkim.sh [BUILD] [N...]     BUILD default build, N 10000 100000
#   DKIM_BENCH_MODES="none ed rsa rsa+arc" (the default: all four) picks the
#   herald runs; DKIM_BENCH_MICRO=0 skips bench-dkim; DKIM_BENCH_BASELINE=
#   PATH also runs each mode with the herald binary at PATH (an older
#   build: before and after in one run, on the same var dir and sink).
# Scratch under $HERALD_BENCH_DIR (default /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
sizes=${*:-10000 100000}
H=$PWD/$BUILD/herald
SINK=/usr/sbin/smtp-sink
SOURCE=/usr/sbin/smtp-source
TIME=/usr/bin/time
make BUILD="$BUILD" -j2 >/dev/null
make BUILD="$BUILD" -j2 "$BUILD/bench/bench-dkim" >/dev/null
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-dkim.XXXXXX")
SINK_PID=
trap '[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null; rm -rf "$D"' EXIT
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(nproc) cores"
[ "${DKIM_BENCH_MICRO:-1}" = 0 ] || "$BUILD/bench/bench-dkim" 2000

now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sink_start() {
	SINK_PORT=$(free_port)
	"$SINK" -u nobody -c "127.0.0.1:$SINK_PORT" 1000 >"$D/sink.out" 2>&1 &
	SINK_PID=$!
	for _ in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $SINK_PORT), 1)" 2>/dev/null && return 0
		sleep 0.05
	done
	exit 1
}
sink_count() { tr '\r' '\n' <"$D/sink.out" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2 || echo 0; }
sink_stop() { kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true; SINK_PID=; }
row() { printf '%-16s %8s %8s %6s %7s %9s\n' "$@"; }

# setup N: a personalised list of N members with its post in the out queue
# (saved as $D/N.entry, the message as $D/N.eml).
setup() {
	local n=$1 v=$D/var f
	rm -rf "$v"
	"$H" --var "$v" init >/dev/null
	"$H" --var "$v" site set web.base_url https://lists.test/
	"$H" --var "$v" lists create bench@lists.test --owner owner@example.org >/dev/null
	"$H" --var "$v" config set bench@lists.test max_message_size 0 >/dev/null
	"$H" --var "$v" config set bench@lists.test personalize 1 >/dev/null
	"$H" --var "$v" dkim keygen lists.test --type ed25519 --selector ed >/dev/null 2>&1
	"$H" --var "$v" dkim keygen lists.test --selector rsa >/dev/null 2>&1
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "member%d@d%d.example\n", i, i % 100 }' |
		"$H" --var "$v" members add bench@lists.test >/dev/null
	{ printf 'From: member0@d0.example\nTo: bench@lists.test\nSubject: fan-out to %d\nMessage-ID: <fanout-%d@d0.example>\nDate: Sat, 28 Nov 2026 12:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n' "$n" "$n"
	  head -c 3000 /dev/urandom | base64 -w 72; } | "$H" --var "$v" mta post bench@lists.test
	"$H" --var "$v" runner in --once >/dev/null 2>&1
	f=$(find "$v/queue/out" -name '*.msg' | head -1)
	cp "$f" "$D/$n.entry"
	basename "$f" >"$D/$n.name"
	rm -f "$f"
	python3 - "$D/$n.entry" "$D/$n.eml" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
head, _, rest = data.partition(b"\n\n")
size = [int(l.split(b":")[1]) for l in head.split(b"\n") if l.startswith(b"size:")][0]
open(sys.argv[2], "wb").write(rest[:size])
PY
}

# run N SELECTOR [HERALD]: one delivery (SELECTOR "none": unsigned) by
# HERALD (default $H).
run() {
	local n=$1 sel=$2 v=$D/var t0 t1 exe=${3:-$H} tag=${4:-}
	# rsa+arc: the same key also seals each copy with ARC (two more
	# RSA signatures a copy); the other runs do not seal.
	"$H" --var "$v" site set arc.enabled "$([ "$sel" = rsa+arc ] && echo true || echo false)"
	if [ "$sel" = none ]; then
		"$H" --var "$v" site set dkim.enabled false
	else
		"$H" --var "$v" site set dkim.enabled true
		"$H" --var "$v" site set dkim.domains "lists.test=${sel%+arc}"
	fi
	sink_start
	"$H" --var "$v" site set mta.smtp_port "$SINK_PORT"
	cp "$D/$n.entry" "$v/queue/out/$(cat "$D/$n.name")"
	t0=$(now)
	"$TIME" -f '%e %U %S %M' -o "$D/time" "$exe" --var "$v" runner out --once >/dev/null 2>&1
	t1=$(now)
	read -r _ U S RSS <"$D/time"
	MSGS=$(sink_count)
	sink_stop
	WALL=$(calc "round($t1 - $t0, 2)")
	row "herald$tag-$sel" "$WALL" "$(calc "round($n / ($t1 - $t0))")" "$(calc "round($U + $S, 1)")" \
		"$(calc "round($RSS / 1024, 1)")" "$MSGS"
}

source_run() {
	local n=$1 t0 t1
	sink_start
	t0=$(now)
	"$TIME" -f '%e %U %S %M' -o "$D/time" "$SOURCE" -d -r 1 -m "$n" -s 4 \
		-f bench-bounces@lists.test -F "$D/$n.eml" "127.0.0.1:$SINK_PORT"
	t1=$(now)
	read -r _ U S RSS <"$D/time"
	for _ in $(seq 50); do [ "$(sink_count)" -ge "$n" ] && break; sleep 0.05; done
	MSGS=$(sink_count)
	sink_stop
	row smtp-source-r1 "$(calc "round($t1 - $t0, 2)")" "$(calc "round($n / ($t1 - $t0))")" \
		"$(calc "round($U + $S, 1)")" "$(calc "round($RSS / 1024, 1)")" "$MSGS"
}

for n in $sizes; do
	echo
	echo "## one personalised post to $n members (one transaction each) into smtp-sink"
	setup "$n"
	row what wall_s rcpt/s cpu_s rss_MB sink_msgs
	source_run "$n"
	for mode in ${DKIM_BENCH_MODES:-none ed rsa rsa+arc}; do
		[ -z "${DKIM_BENCH_BASELINE:-}" ] || run "$n" "$mode" "$DKIM_BENCH_BASELINE" -base
		run "$n" "$mode"
	done
done
