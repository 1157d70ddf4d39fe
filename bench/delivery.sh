#!/usr/bin/env bash
# bench/delivery.sh - how fast the delivery runner hands a post to the MTA
# (a benchmark: it prints figures and never fails on them).
#
# The MTA is Postfix's smtp-sink on loopback, which accepts everything and
# counts messages; Postfix's smtp-source against the same sink, in the same
# run, is the ceiling each figure is quoted against.  A fresh sink on a
# fresh port for every measurement.
#
#   1. One post (a 4 KiB plain-text post, as bench/pipeline.sh) to N
#      members spread over 100 domains, put through the pipeline once
#      (`herald runner in --once`), then delivered by one
#      `herald runner out --once` timed with /usr/bin/time: wall time
#      (recipients/s), CPU seconds (user + sys) and peak RSS of the runner.
#      Three modes:
#        bulk 100   delivery.max_recipients 100, against
#                   smtp-source -d -r 100 -m N/100 -s K (K =
#                   delivery.connections, 4)
#        bulk 500   the default max_recipients, against the same
#        VERP       delivery.verp_interval 1 (one transaction a recipient),
#                   against smtp-source -d -r 1 -m N -s 4
#      smtp-source is given the very message herald sends (-F, the out
#      queue entry's message), and -d: it keeps its connection for the next
#      message, as herald's workers do.  The sink counts messages
#      (transactions); herald's deliver log counts accepted recipients.
#   2. 200 small posts to a 10-member list, injected one by one with
#      `herald mta post` while a master runs its default runners (in, out,
#      retry, virgin): posts/s from the first injection until the sink has
#      counted all 200 copies (one transaction per post).
#
#   bench/delivery.sh [-n RUNS] [PART...]
#     PART: a member count (one post to that many members) or "posts";
#     default: 1000 10000 100000 posts.  -n 2 runs each measurement twice
#     (the machine is shared: quote the range).
# Scratch under $HERALD_BENCH_DIR (default /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=1
if [ "${1:-}" = "-n" ]; then
	runs=${2:?"-n needs a count"}
	shift 2
fi
parts=${*:-1000 10000 100000 posts}
H=$PWD/build/herald
SINK=/usr/sbin/smtp-sink
SOURCE=/usr/sbin/smtp-source
TIME=/usr/bin/time
for p in "$SINK" "$SOURCE" "$TIME"; do
	[ -x "$p" ] || { echo "bench/delivery.sh: $p is missing" >&2; exit 1; }
done
make -j2 >/dev/null
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-delivery.XXXXXX")
SINK_PID=
cleanup() {
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
	[ -d "$D/posts-var" ] && "$H" --var "$D/posts-var" stop >/dev/null 2>&1
	rm -rf "$D"
}
trap cleanup EXIT
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
	"$(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)," \
	"scratch on $(df -T "$D" | awk 'NR == 2 { print $2 " on " $1 }')"

now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
calc() { python3 -c "print($1)"; }

# sink_start: a fresh smtp-sink on 127.0.0.1:$SINK_PORT.  -c prints its
# counters (sessions, QUITs, messages) after every message, so a script can
# see when it has received all.
sink_start() {
	SINK_PORT=$(free_port)
	SINK_OUT=$D/sink.out
	"$SINK" -u nobody -c ${SINK_DUMP:+-D "$SINK_DUMP"} "127.0.0.1:$SINK_PORT" 1000 >"$SINK_OUT" 2>&1 &
	SINK_PID=$!
	for _ in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $SINK_PORT), 1)" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "smtp-sink did not start" >&2
	exit 1
}
# sink_count: the messages the sink has received so far.
sink_count() { tr '\r' '\n' <"$SINK_OUT" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2 || echo 0; }
sink_stop() {
	kill "$SINK_PID" 2>/dev/null || true
	wait "$SINK_PID" 2>/dev/null || true
	SINK_PID=
}

# plain I: a 4 KiB plain-text post from member I of a 10-member list.
plain() {
	printf 'From: Member %d <member%d@example.net>\nTo: bench@lists.test\nSubject: bench post %d\nMessage-ID: <bench-%d@example.net>\nDate: Sat, 28 Nov 2026 12:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n' \
		$(( $1 % 10 + 1 )) $(( $1 % 10 + 1 )) "$1" "$1"
	head -c 3000 /dev/urandom | base64 -w 72
}

# --- 1. one post to N members -------------------------------------------

# fanout_setup N: a var dir with a list of N members over 100 domains and
# its one post in the out queue, saved as $D/N.entry (the queue file) and
# $D/N.eml (the message herald sends).
fanout_setup() {
	local n=$1 v=$D/var-$1 f t0 t1
	"$H" --var "$v" init >/dev/null
	"$H" --var "$v" lists create bench@lists.test --owner owner@example.org >/dev/null
	"$H" --var "$v" config set bench@lists.test max_message_size 0 >/dev/null
	# A numbered prefix: delivery.verp_interval picks posts by their
	# number ("post-id"), and the pipeline numbers a post only when its
	# subject prefix has a %d; without one, no post is ever VERP'd.
	"$H" --var "$v" config set bench@lists.test subject_prefix '[bench %d] ' >/dev/null
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "member%d@d%d.example\n", i, i % 100 }' >"$D/members"
	t0=$(now)
	"$H" --var "$v" members add bench@lists.test <"$D/members" >/dev/null
	t1=$(now)
	echo "# setup: $n members added in $(calc "round($t1 - $t0, 2)") s"
	# The poster is a member: no hold.
	{ printf 'From: member0@d0.example\nTo: bench@lists.test\nSubject: fan-out to %d\nMessage-ID: <fanout-%d@d0.example>\nDate: Sat, 28 Nov 2026 12:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n' "$n" "$n"
	  head -c 3000 /dev/urandom | base64 -w 72; } >"$D/post.eml"
	"$H" --var "$v" mta post bench@lists.test <"$D/post.eml"
	t0=$(now)
	"$H" --var "$v" runner in --once >/dev/null 2>&1
	t1=$(now)
	f=$(find "$v/queue/out" -name '*.msg' | head -1)
	[ -n "$f" ] || { echo "the post did not reach the out queue" >&2; exit 1; }
	echo "# setup: the pipeline put the post in the out queue in $(calc "round($t1 - $t0, 2)") s" \
		"($(grep -c '^rcpt: ' "$f") recipients)"
	cp "$f" "$D/$n.entry"
	echo "$(basename "$f")" >"$D/$n.name"
	rm -f "$f"
	# The message after the entry's metadata, without the end marker.
	python3 - "$D/$n.entry" "$D/$n.eml" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
head, _, rest = data.partition(b"\n\n")
size = [int(l.split(b":")[1]) for l in head.split(b"\n") if l.startswith(b"size:")][0]
open(sys.argv[2], "wb").write(rest[:size])
PY
	echo "# the message herald sends (and smtp-source -F sends): $(wc -c <"$D/$n.eml") bytes"
}

# herald_run N MODE: delivers the saved post once; sets WALL CPU RSS
# ACCEPTED DSECS MSGS.
herald_run() {
	local n=$1 mode=$2 v=$D/var-$1 tf=$D/time t0 t1
	case $mode in
	bulk100) "$H" --var "$v" site set delivery.max_recipients 100
		"$H" --var "$v" site set delivery.verp_interval 0 ;;
	bulk500) "$H" --var "$v" site set delivery.max_recipients 500
		"$H" --var "$v" site set delivery.verp_interval 0 ;;
	verp) "$H" --var "$v" site set delivery.max_recipients 500
		"$H" --var "$v" site set delivery.verp_interval 1 ;;
	esac
	sink_start
	"$H" --var "$v" site set mta.smtp_port "$SINK_PORT"
	cp "$D/$n.entry" "$v/queue/out/$(cat "$D/$n.name")"
	: >"$v/logs/$(hostname -s)/deliver" 2>/dev/null || true
	CMD="$TIME -f '%e %U %S %M' $H --var \$V runner out --once"
	t0=$(now)
	"$TIME" -f '%e %U %S %M' -o "$tf" "$H" --var "$v" runner out --once >/dev/null 2>&1
	t1=$(now)
	read -r _ U S RSS <"$tf"
	WALL=$(calc "round($t1 - $t0, 3)")
	CPU=$(calc "round($U + $S, 2)")
	# The runner returns once every reply is in: the sink has counted all.
	MSGS=$(sink_count)
	sink_stop
	local line
	line=$(grep -h 'deliver info: list bench@lists.test' "$v"/logs/*/deliver | tail -1)
	# From the runner's start to the end of its delivery (the deliver
	# line's time stamp): no process start-up or exit.
	INRUN=$(python3 - "$(grep -h 'runner info: runner out slice' "$v"/logs/*/runner | tail -1)" "$line" <<'PY'
import datetime, sys
t = [datetime.datetime.strptime(a.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ") for a in sys.argv[1:]]
print("%.3f" % (t[1] - t[0]).total_seconds())
PY
)
	ACCEPTED=$(sed -n 's/.*: \([0-9]*\) accepted,.*/\1/p' <<<"$line")
	DSECS=$(sed -n 's/.*; \([0-9.]*\) s$/\1/p' <<<"$line")
	case $line in
	*"(VERP)"*) [ "$mode" = verp ] || echo "# warning: $mode went out VERP'd" ;;
	*) [ "$mode" != verp ] || echo "# warning: the VERP run was not VERP'd: $line" ;;
	esac
	[ "${ACCEPTED:-0}" -eq "$n" ] || echo "# warning: $ACCEPTED of $n accepted: $line"
	[ -z "$(find "$v/queue/out" "$v/queue/retry" -name '*.msg' 2>/dev/null)" ] ||
		echo "# warning: entries left in out/ or retry/"
}

# source_run N RCPTS: smtp-source sends the same message to N recipients,
# RCPTS a transaction, over 4 sessions; sets WALL CPU RSS MSGS.
source_run() {
	local n=$1 r=$2 m=$(( $1 / $2 )) tf=$D/time t0 t1
	sink_start
	CMD="$SOURCE -d -r $r -m $m -s 4 -f bench-bounces@lists.test -F MSG 127.0.0.1:SINK"
	t0=$(now)
	"$TIME" -f '%e %U %S %M' -o "$tf" "$SOURCE" -d -r "$r" -m "$m" -s 4 \
		-f bench-bounces@lists.test -F "$D/$n.eml" "127.0.0.1:$SINK_PORT"
	t1=$(now)
	read -r _ U S RSS <"$tf"
	WALL=$(calc "round($t1 - $t0, 3)")
	CPU=$(calc "round($U + $S, 2)")
	for _ in $(seq 50); do [ "$(sink_count)" -ge "$m" ] && break; sleep 0.05; done
	MSGS=$(sink_count)
	sink_stop
	[ "$MSGS" -eq "$m" ] || echo "# warning: the sink counted $MSGS of $m messages"
}

rate() { calc "round($1 / $2)"; }

# check_run N MODE: one untimed delivery to a sink that writes down every
# transaction (-D, much slower), to check what the timed runs cannot see:
# every member got the post exactly once, from the right envelope sender.
check_run() {
	local n=$1 mode=$2
	mkdir -p "$D/dump" && chown nobody "$D/dump" && chmod o+x "$D"
	rm -f "$D/dump/all"
	SINK_DUMP=$D/dump/all herald_run "$n" "$mode"
	python3 - "$D/dump/all" "$D/members" "$mode" <<'PY'
import collections, sys
dump, members, mode = sys.argv[1:]
want = set(l.strip().lower() for l in open(members) if l.strip())
got = collections.Counter()
bad_sender = 0
txns = 0
rcpts = []
sender = None
def close():
    global bad_sender, txns
    if sender is None:
        return
    txns += 1
    for r in rcpts:
        got[r] += 1
    if mode == "verp":
        ok = len(rcpts) == 1 and sender == "bench-bounces+%s=%s@lists.test" % tuple(rcpts[0].split("@"))
    else:
        ok = sender == "bench-bounces@lists.test"
    bad_sender += 0 if ok else 1
for line in open(dump, errors="replace"):
    if line.startswith("X-Mail-Args: "):
        close()
        sender = line.split()[1].split(">")[0].lstrip("<").lower()
        rcpts = []
    elif line.startswith("X-Rcpt-Args: "):
        rcpts.append(line.split()[1].split(">")[0].lstrip("<").lower())
close()
missing = len(want - set(got))
extra = len(set(got) - want)
twice = sum(1 for c in got.values() if c > 1)
print("# check (%s, %d members, a sink that writes every transaction down): %d transactions, "
      "%d recipients, %d members missing, %d got it twice, %d not members, %d wrong envelope senders: %s"
      % (mode, len(want), txns, sum(got.values()), missing, twice, extra, bad_sender,
         "ok" if missing == twice == extra == bad_sender == 0 else "WRONG"))
PY
}

# inrun REF: the same run without the process's start and exit (a runner
# under the master pays neither for each post).
inrun() {
	local r
	r=$(rate "$n" "$INRUN")
	printf '%-14s %8s %8s %6s %7s %9s %6s%% %s\n' "  in-runner" "$INRUN" "$r" - - - \
		"$(calc "round(100 * $r / $1)")" "runner log's start to deliver log's line (deliver log: $DSECS s)"
}

fanout() {
	local n=$1 run ref100 ref1 hr
	echo
	echo "## one post to $n members over 100 domains"
	fanout_setup "$n"
	if [ "$n" -le 10000 ] && [ -z "${CHECKED:-}" ]; then
		for mode in bulk100 bulk500 verp; do check_run "$n" "$mode"; done
		CHECKED=1
	fi
	for ((run = 1; run <= runs; run++)); do
		echo "# run $run of $runs"
		printf '%-14s %8s %8s %6s %7s %9s %7s %s\n' what wall_s rcpt/s cpu_s rss_MB sink_msgs ratio command
		source_run "$n" 100
		ref100=$(rate "$n" "$WALL")
		printf '%-14s %8s %8s %6s %7s %9s %7s %s\n' smtp-src100 "$WALL" "$ref100" "$CPU" \
			"$(calc "round($RSS / 1024, 1)")" "$MSGS" - "$CMD"
		for mode in bulk100 bulk500; do
			herald_run "$n" "$mode"
			hr=$(rate "$n" "$WALL")
			printf '%-14s %8s %8s %6s %7s %9s %6s%% %s\n' "herald-$mode" "$WALL" "$hr" "$CPU" \
				"$(calc "round($RSS / 1024, 1)")" "$MSGS" "$(calc "round(100 * $hr / $ref100)")" \
				"${CMD/\$V/var-$n} [max_recipients ${mode#bulk}]"
			inrun "$ref100"
		done
		source_run "$n" 1
		ref1=$(rate "$n" "$WALL")
		printf '%-14s %8s %8s %6s %7s %9s %7s %s\n' smtp-src1 "$WALL" "$ref1" "$CPU" \
			"$(calc "round($RSS / 1024, 1)")" "$MSGS" - "$CMD"
		herald_run "$n" verp
		hr=$(rate "$n" "$WALL")
		printf '%-14s %8s %8s %6s %7s %9s %6s%% %s\n' herald-verp "$WALL" "$hr" "$CPU" \
			"$(calc "round($RSS / 1024, 1)")" "$MSGS" "$(calc "round(100 * $hr / $ref1)")" \
			"${CMD/\$V/var-$n} [verp_interval 1]"
		inrun "$ref1"
	done
	rm -rf "$D/var-$n" "$D/$n.entry" "$D/$n.eml"
}

# --- 2. 200 small posts, the whole way ------------------------------------

posts() {
	local v=$D/posts-var n=200 run t0 t1 t2 got
	echo
	echo "## $n posts (4 KiB) to a 10-member list: herald mta post -> pipeline -> delivery -> smtp-sink"
	"$H" --var "$v" init >/dev/null
	"$H" --var "$v" lists create bench@lists.test --owner owner@example.org >/dev/null
	for i in $(seq 1 10); do echo "member$i@example.net"; done |
		"$H" --var "$v" members add bench@lists.test >/dev/null
	"$H" --var "$v" config set bench@lists.test max_message_size 0 >/dev/null
	mkdir -p "$D/msgs"
	for ((run = 1; run <= runs; run++)); do
		for i in $(seq 1 "$n"); do plain $(( run * 1000 + i )) >"$D/msgs/$i"; done
		sink_start
		"$H" --var "$v" site set mta.smtp_port "$SINK_PORT"
		"$H" --var "$v" start >/dev/null
		sleep 1	# the runners are up and idle
		t0=$(now)
		for i in $(seq 1 "$n"); do "$H" --var "$v" mta post bench@lists.test <"$D/msgs/$i"; done
		t1=$(now)
		for _ in $(seq 1200); do [ "$(sink_count)" -ge "$n" ] && break; sleep 0.05; done
		t2=$(now)
		got=$(sink_count)
		"$H" --var "$v" stop >/dev/null
		sink_stop
		echo "# run $run of $runs: injected $n in $(calc "round($t1 - $t0, 2)") s" \
			"($(rate "$n" "$(calc "$t1 - $t0")") posts/s, one herald mta post each);" \
			"the sink had all $got after $(calc "round($t2 - $t0, 2)") s:" \
			"$(rate "$got" "$(calc "$t2 - $t0")") posts/s end to end" \
			"($(( got * 10 )) recipients)"
		echo "#   command: for each post: $H --var \$V mta post bench@lists.test < post (master running: herald start)"
	done
}

for p in $parts; do
	case $p in
	posts) posts ;;
	*[!0-9]*) echo "bench/delivery.sh: unknown part $p" >&2; exit 2 ;;
	*) fanout "$p" ;;
	esac
done
