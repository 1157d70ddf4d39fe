#!/usr/bin/env bash
# bench/bench-smallposts.sh - small posts per second, herald against mlmmj,
# in one run (a benchmark: it prints figures and never fails on them).
#
# A 10-member list in each, delivering to Postfix's smtp-sink on loopback
# (a fresh sink for every measurement).  N small posts (default 200, about
# 700 bytes each) are handed over as fast as the entry accepts them, one
# after the other, and the clock runs until the sink has seen all N * 10
# recipients:
#   mlmmj        `mlmmj-receive -L LISTDIR < post` for each post (Debian's
#                mlmmj package as it ships: it forks into the background at
#                once, writes without fsync, and mlmmj-send sends one
#                transaction per recipient, its own VERP)
#   herald-pipe  `herald mta post LIST < post` for each post, a master
#                running its default runners (exit 0 only once the post is
#                on stable storage)
#   herald-mta   the pipe's own program as `herald mta-config` puts it in
#                master.cf: `herald-mta auto --sender S --recipient LIST
#                < post`, which hands the post to the master's LMTP
#                server over its pipe socket
#   herald-lmtp  the master's LMTP server on a unix socket, one session,
#                one transaction per post (250 only once stored), as
#                Postfix's lmtp client does with a cached connection
# Each run takes the three in turn (the order rotates from run to run, so
# the machine's drift falls on all of them); the summary gives posts/s as
# min / median / max over the runs.
#
#   bench/bench-smallposts.sh [-n RUNS] [-p POSTS] [-c K] [WHICH...]
#     -c K: K posts handed over at a time (default 1), as an MTA runs K
#     deliveries to one transport at once: K pipe commands, K LMTP
#     sessions
#     WHICH: mlmmj, herald-pipe, herald-mta, herald-lmtp (default: all
#     four), and
#     old-pipe, old-mta, old-lmtp: the same with the herald of
#     HERALD_BENCH_OLD (old-mta: the herald-mta beside it)
#   HERALD_BENCH_BUILD=build-x  the build whose herald is measured
#                               (default build; it is made first)
#   HERALD_BENCH_OLD=PATH       another herald binary (an earlier commit's
#                               build), for before/after in one run
# Scratch under $HERALD_BENCH_DIR (default /var/tmp); mlmmj is installed
# with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
n=200
while [ $# -gt 0 ]; do
	case $1 in
	-n) runs=${2:?"-n needs a count"}; shift 2 ;;
	-p) n=${2:?"-p needs a count"}; shift 2 ;;
	-c) export SMALLPOSTS_CONCURRENCY=${2:?"-c needs a count"}; shift 2 ;;
	*) break ;;
	esac
done
which=${*:-mlmmj herald-pipe herald-mta herald-lmtp}
BUILD=${HERALD_BENCH_BUILD:-build}
H=$PWD/$BUILD/herald
SINK=/usr/sbin/smtp-sink
MEMBERS=10
if [ ! -x /usr/bin/mlmmj-receive ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y mlmmj >/dev/null
fi
[ -x "$SINK" ] || { echo "bench-smallposts: $SINK is missing (package postfix)" >&2; exit 1; }
make BUILD="$BUILD" -j2 "$BUILD/herald" "$BUILD/herald-mta" >/dev/null
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-smallposts.XXXXXX")
chmod 755 "$D"
SINK_PID=
. bench/discard.sh
cleanup() {
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
	"$H" --var "$D/var" stop >/dev/null 2>&1 || true
	[ -n "${HERALD_BENCH_OLD:-}" ] && "$HERALD_BENCH_OLD" --var "$D/var-old" stop >/dev/null 2>&1
	bench_discard "$D"
}
trap cleanup EXIT
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
	"$(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)," \
	"scratch on $(df -T "$D" | awk 'NR == 2 { print $2 " on " $1 }')," \
	"mlmmj $(dpkg-query -W -f '${Version}' mlmmj), posts handed over ${SMALLPOSTS_CONCURRENCY:-1} at a time"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

sink_start() {
	SINK_PORT=$(free_port)
	SINK_LOG=$D/sink.$1.log
	"$SINK" -u nobody -c -v "127.0.0.1:$SINK_PORT" 1000 >"$SINK_LOG" 2>&1 &
	SINK_PID=$!
	for _ in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $SINK_PORT), 1)" 2>/dev/null && break
		sleep 0.05
	done
	# The probe's session is in the log; the counter must start at 0.
	sleep 0.1
	: >"$SINK_LOG"
}
sink_stop() {
	kill "$SINK_PID" 2>/dev/null || true
	wait "$SINK_PID" 2>/dev/null || true
	SINK_PID=
}

# post I: a small plain-text post from member I % 10 + 1 (about 800 bytes),
# with the lines Postfix's pipe(8) and local(8) put on top (mlmmj needs
# Return-Path; all three get the same bytes).
post() {
	local m=$(( $1 % MEMBERS + 1 ))
	printf 'Return-Path: <member%d@example.net>\nX-Original-To: bench@lists.test\nDelivered-To: bench@lists.test\n' "$m"
	printf 'From: Member %d <member%d@example.net>\nTo: bench@lists.test\nSubject: small post %d\nMessage-ID: <small-%d-%d@example.net>\nDate: Sat, 28 Nov 2026 12:00:00 +0000\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n' \
		"$m" "$m" "$1" "$1" "$$"
	printf 'Line %d of a short post to the list, as most posts are.\n' $(seq 1 8)
}

# --- herald: a var dir, one list, 10 members ------------------------------
# herald_setup BIN V: the site and list in var dir V.
herald_setup() {
	"$1" --var "$2" init >/dev/null
	"$1" --var "$2" lists create bench@lists.test --owner owner@example.org >/dev/null
	for i in $(seq 1 $MEMBERS); do echo "member$i@example.net"; done |
		"$1" --var "$2" members add bench@lists.test >/dev/null
	"$1" --var "$2" site set lmtp.listen "unix:$2/run/lmtp.sock"
}
herald_setup "$H" "$D/var"
if [ -n "${HERALD_BENCH_OLD:-}" ]; then
	herald_setup "$HERALD_BENCH_OLD" "$D/var-old"
	echo "# old-*: $HERALD_BENCH_OLD"
fi

# --- mlmmj: the same list (mlmmj-make-ml is interactive: its steps) -------
L=$D/mlmmj/bench
mkdir -p "$L"
for sub in incoming queue queue/discarded archive text subconf unsubconf \
	bounce control moderation subscribers.d digesters.d requeue nomailsubs.d; do
	mkdir -p "$L/$sub"
done
touch "$L/index"
cp /usr/share/mlmmj/text.skel/en/* "$L/text/"
echo bench@lists.test >"$L/control/listaddress"
echo owner@example.org >"$L/control/owner"
echo 127.0.0.1 >"$L/control/relayhost"
for i in $(seq 1 $MEMBERS); do echo "member$i@example.net"; done >"$L/subscribers.d/m"

mkdir -p "$D/msgs"

# measure WHAT RUN: one measurement; appends "WHAT posts/s" to $D/results.
measure() {
	local what=$1 run=$2 out
	sink_start "$what.$run"
	case $what in
	mlmmj)
		echo "$SINK_PORT" >"$L/control/smtpport"
		CMD="/usr/bin/mlmmj-receive -L $L < post (${SMALLPOSTS_CONCURRENCY:-1} at a time)"
		out=$(python3 bench/smallposts.py "$SINK_LOG" $(( n * MEMBERS )) "$D/msgs" "$n" \
			pipe /usr/bin/mlmmj-receive -L "$L")
		;;
	herald-pipe | herald-mta | herald-lmtp | old-pipe | old-mta | old-lmtp)
		local h=$H v=$D/var bin=$BUILD/herald
		case $what in old-*) h=$HERALD_BENCH_OLD v=$D/var-old bin=$h ;; esac
		"$h" --var "$v" site set mta.smtp_port "$SINK_PORT"
		"$h" --var "$v" start >/dev/null
		for _ in $(seq 100); do [ -S "$v/run/lmtp.sock" ] && break; sleep 0.05; done
		sleep 1	# the runners are up and idle
		case $what in
		*-pipe)
			CMD="$bin --var \$V mta post bench@lists.test < post (${SMALLPOSTS_CONCURRENCY:-1} at a time)"
			out=$(python3 bench/smallposts.py "$SINK_LOG" $(( n * MEMBERS )) "$D/msgs" "$n" \
				pipe "$h" --var "$v" mta post bench@lists.test) ;;
		herald-mta | old-mta)
			# As master.cf runs it (docs/postfix.md): the envelope
			# given, so the post is handed to the master's LMTP
			# server over its pipe socket.
			CMD="$bin-mta --var \$V auto --sender member1@example.net --recipient bench@lists.test < post (${SMALLPOSTS_CONCURRENCY:-1} at a time)"
			out=$(python3 bench/smallposts.py "$SINK_LOG" $(( n * MEMBERS )) "$D/msgs" "$n" \
				pipe "$h-mta" --var "$v" auto --sender member1@example.net \
				--recipient bench@lists.test) ;;
		*)
			CMD="${SMALLPOSTS_CONCURRENCY:-1} LMTP session(s) to unix:\$V/run/lmtp.sock (bench/smallposts.py), MAIL/RCPT/DATA per post"
			out=$(python3 bench/smallposts.py "$SINK_LOG" $(( n * MEMBERS )) "$D/msgs" "$n" \
				lmtp "$v/run/lmtp.sock") ;;
		esac
		"$h" --var "$v" stop >/dev/null
		;;
	esac
	sink_stop
	local accept total rate
	accept=$(sed -n 's/.*accept_s=\([0-9.]*\).*/\1/p' <<<"$out")
	total=$(sed -n 's/.*total_s=\([0-9.]*\).*/\1/p' <<<"$out")
	rate=$(python3 -c "print(round($n / $total))")
	printf '%-12s run %d: %4d posts/s  (%d recipients at the sink after %s s; the entry accepted all %d in %s s: %d posts/s)\n' \
		"$what" "$run" "$rate" $(( n * MEMBERS )) "$total" "$n" "$accept" \
		"$(python3 -c "print(round($n / $accept))")"
	echo "#   command: $CMD"
	echo "$what $rate" >>"$D/results"
}

: >"$D/results"
set -- $which
for ((run = 1; run <= runs; run++)); do
	for i in $(seq 1 "$n"); do post $(( run * 10000 + i )) >"$D/msgs/$i"; done
	# Rotate the order: each entry goes first, second and third in turn.
	order=("$@")
	k=$(( (run - 1) % $# ))
	order=("${order[@]:k}" "${order[@]:0:k}")
	for what in "${order[@]}"; do measure "$what" "$run"; done
done
echo
echo "# posts/s over $runs runs of $n posts to $MEMBERS members (min / median / max):"
python3 - "$D/results" <<'PY'
import collections, statistics, sys
r = collections.OrderedDict()
for line in open(sys.argv[1]):
    what, rate = line.split()
    r.setdefault(what, []).append(int(rate))
for what, v in r.items():
    print("%-12s %5d / %5d / %5d" % (what, min(v), statistics.median(v), max(v)))
PY
