#!/usr/bin/env bash
# Delivery survives SIGKILL: a post to 10,000 members goes out through
# smtpfault (tests/tools/smtpfault.c), which waits 50 ms before it answers
# each final dot, in batches of delivery.max_recipients 50 over
# delivery.connections 2, so the fan-out takes a few seconds.  The out
# runner is SIGKILLed three times, each time once the progress record holds
# more batches, then finishes.  Every member gets the post at least once;
# the duplicates are at most the batches in flight at each kill:
#     kills x delivery.connections x delivery.max_recipients
# (each worker has at most one batch sent but not yet in the record); the
# claimed entry is recovered each time and never sent to bad/ (its record
# grew, so no strike counts); no progress record is left at the end.
#
# Then the progress record itself: a record cut short (its last line
# without a newline, as a crash or a full disk leaves it) is resumed from
# its whole lines, and a later crash still loses no recipient.
# sanitizer build: skip (SIGKILL timing loops; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
SF=$TOOLS/smtpfault
N=${DELIVERY_KILL_MEMBERS:-10000}
MAXR=50
CONNS=2
KILL_AT="30 90 150"	# batches recorded (of N / MAXR) before each kill
LIST=big@lists.test

V=$(new_var v)
SP=$T_DIR/spool
h() { "$HERALD" --var "$V" "$@"; }
RLOG=$T_DIR/runner.log
h site set runner.in.handler incoming
h site set runner.out.handler outgoing
h site set runner.retry.handler retry
h site set delivery.max_recipients "$MAXR"
h site set delivery.connections "$CONNS"
h lists create "$LIST" --owner owner@example.org >/dev/null
python3 -c "
for i in range($N): print('m%05d@d%02d.example' % (i, i % 20))" >"$T_DIR/members"
check "$N members added in bulk" \
	bash -c '"$1" --var "$2" members add "$3" <"$4" | grep -q "added $5 members"' _ "$HERALD" "$V" "$LIST" "$T_DIR/members" "$N"
printf 'From: m00001@d01.example\nTo: %s\nSubject: to everyone\nMessage-ID: <big.1@d01.example>\n\nbody\n' "$LIST" |
	h mta post "$LIST" --sender m00001@d01.example
h runner in --once >>"$RLOG" 2>&1
OUT=$(ls "$V"/queue/out/*.msg 2>/dev/null | head -1)
check "the post is in the out queue for the $N members" \
	test "$(grep -c '^rcpt: ' "${OUT:-/dev/null}")" -eq "$N"
BASE=$(basename "${OUT%.msg}")
PROGRESS=$V/queue/out/$BASE.progress

# smtpfault with a script; prints nothing, sets SF_PID and PORT.
sf_start() {
	local out=$T_DIR/sf.$RANDOM
	printf '%s\n' "$1" >"$out.script"
	"$SF" --port "${PORT:-0}" --spool "$SP" --script "$out.script" >"$out" 2>"$out.err" &
	SF_PID=$!
	wait_for 10 grep -q '^port ' "$out" || return 1
	PORT=$(awk '/^port /{print $2}' "$out")
	h site set mta.smtp_port "$PORT"
}
sf_stop() { kill "$SF_PID" 2>/dev/null; wait "$SF_PID" 2>/dev/null; }
batches() { local n; n=$(grep -c '^B ' "$PROGRESS" 2>/dev/null); echo "${n:-0}"; }
at_least() { [ "$(batches)" -ge "$1" ]; }

# Fractional stalls: smtpfault reads SECONDS with g_ascii_strtod.
sf_start "stall dot 0.05"
kills=0
t0=$(date +%s%N)
for point in $KILL_AT; do
	"$HERALD" --var "$V" runner out >>"$RLOG" 2>&1 &
	pid=$!
	if wait_for 60 at_least "$point"; then
		kill -9 "$pid"
		wait "$pid" 2>/dev/null
		kills=$((kills + 1))
		diag "kill $kills: SIGKILL with $(batches) of $((N / MAXR)) batches recorded"
		check "kill $kills: the claimed entry is left behind (.bak)" test -f "$V/queue/out/$BASE.bak"
	else
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		not_ok "kill at $point batches: the record never got there ($(batches))"
	fi
done
check "the last runner finishes the post" h runner out --once 2>>"$RLOG"
diag "the fan-out with $kills kills took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
# The server stores a message before it answers its dot: those of the
# killed runners' last transactions too, once their stall is over.
sleep 0.3
sf_stop

out=$(python3 - "$SP" "$T_DIR/members" <<'PY'
import glob, os, sys
spool, members_file = sys.argv[1:3]
members = set(l.strip() for l in open(members_file) if l.strip())
copies = {}
n = 0
for env in glob.glob(os.path.join(spool, "*.env")):
    n += 1
    for line in open(env):
        if line.startswith("rcpt "):
            a = line[5:].rstrip("\n")
            copies[a] = copies.get(a, 0) + 1
got = set(copies)
print("transactions %d copies %d unique %d duplicates %d missing %d strangers %d"
      % (n, sum(copies.values()), len(got), sum(copies.values()) - len(got),
         len(members - got), len(got - members)))
PY
)
diag "$out"
read -r _ ntx _ copies _ unique _ dups _ missing _ strangers <<<"$out"
bound=$((kills * CONNS * MAXR))
check "$kills kills at different points" test "$kills" -ge 2
check "every member got the post at least once ($unique of $N)" test "$unique" -eq "$N" -a "$missing" -eq 0
check "nobody else got it" test "$strangers" -eq 0
check "duplicates ($dups) at most kills x connections x max_recipients = $kills x $CONNS x $MAXR = $bound" \
	test "$dups" -le "$bound"
check "the runners recovered the entry after each kill" \
	test "$(grep -c "out/$BASE recovered after a crash" "$V"/logs/*/queue)" -eq "$kills"
check "no strike was counted (its record grew each time)" \
	bash -c '! grep "out/$1 recovered after a crash" "$2"/logs/*/queue | grep -qv "(strike 0)"' _ "$BASE" "$V"
check "nothing went to bad/" test -z "$(ls "$V/queue/bad" 2>/dev/null)"
check "the last run resumed: recipients done before are not sent again" \
	grep -qE "message <big.1@d01.example> to $N recipients: [0-9]+ accepted, 0 deferred, 0 failed, 0 refused, [1-9][0-9]* done before" "$V"/logs/*/deliver
check "the out queue is empty" test -z "$(ls "$V/queue/out")"
check "the progress record is gone" test ! -e "$PROGRESS"
check "nothing was retried or bounced" \
	test -z "$(ls "$V/queue/retry" "$V/queue/bounces" 2>/dev/null)"

# --- a record cut short ------------------------------------------------------
# 20 members of one domain: index i (the sorted order) is m(i+1).
V=$(new_var torn)
SP=$T_DIR/torn.spool
PORT=
h site set runner.out.handler outgoing
h site set runner.retry.handler retry
h site set delivery.max_recipients 5
h site set delivery.connections 1
h lists create small@lists.test --owner owner@example.org >/dev/null
seq -f 'm%02g@a.example' 1 20 >"$T_DIR/small"
h members add small@lists.test <"$T_DIR/small" >/dev/null
# claimed_post ID: a post in the out queue for the 20, claimed as a killed
# runner leaves it; sets BASE and PROGRESS.
claimed_post() {
	local args=() m f
	while IFS= read -r m; do args+=(--meta "rcpt=$m"); done <"$T_DIR/small"
	f=$(printf 'From: m01@a.example\nTo: small@lists.test\nSubject: torn %s\nMessage-ID: <torn.%s@a.example>\n\nbody\n' "$1" "$1" |
		h queue inject out --list small@lists.test --meta kind=post \
			--meta "message-id=<torn.$1@a.example>" "${args[@]}")
	BASE=$(basename "${f%.msg}")
	mv "$V/queue/$f" "$V/queue/out/$BASE.bak"
	PROGRESS=$V/queue/out/$BASE.progress
}
# copies SPOOL: "ADDRESS COUNT" lines.
copies() { cat "$1"/*.env 2>/dev/null | sed -n 's/^rcpt //p' | sort | uniq -c | awk '{print $2, $1}'; }
retried() { grep -h '^rcpt: ' "$V"/queue/retry/*.msg 2>/dev/null | cut -c7- | sort; }

# 1. Resumed from the whole lines: batches 0-4 and 5-9 were done (m06
# deferred), batch 10-14's line was cut short.
sf_start ""
claimed_post 1
printf 'B 0 5\nD 5 451 4.2.0 deferred earlier\nB 5 5\nB 10' >"$PROGRESS"
check "torn 1: the runner takes up the claimed entry" h runner out --once 2>>"$RLOG"
c=$(copies "$SP")
diag "torn 1: delivered $(echo "$c" | wc -l), retried: $(retried | tr '\n' ' ')"
check "torn 1: m11..m20 (the cut batch and the rest) are sent, once each" \
	test "$(echo "$c" | awk '$2 == 1' | cut -d' ' -f1 | tr '\n' ' ')" = "$(seq -f 'm%02g@a.example' 11 20 | tr '\n' ' ')"
check "torn 1: m01..m10 (recorded) are not sent again" \
	test -z "$(echo "$c" | grep -E '^m(0[0-9]|10)@')"
check "torn 1: m06, deferred before the crash, is retried" test "$(retried)" = m06@a.example
check "torn 1: the log counts 9 done before" grep -q "9 done before" "$V"/logs/*/deliver
check "torn 1: the record is gone" test ! -e "$PROGRESS"
sf_stop
rm -f "$V"/queue/retry/*.msg

# 2. The same, and the resumed runner dies in its turn: the record then
# holds what the first run wrote, the cut line, and the second run's
# lines.  m08 is deferred by the server in the second run; the third run
# must still retry it.
SP=$T_DIR/torn2.spool
sf_start "rcpt m08@* 451 4.2.0 try later
stall dot 1"
claimed_post 2
printf 'B 0 5\nD' >"$PROGRESS"
"$HERALD" --var "$V" runner out >>"$RLOG" 2>&1 &
pid=$!
if wait_for 20 grep -q '^B 5 5$' "$PROGRESS"; then
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	diag "torn 2: killed with the record: $(tr '\n' '|' <"$PROGRESS")"
	sf_stop
	sf_start "rcpt m08@* 451 4.2.0 try later"
	check "torn 2: the third run finishes the post" h runner out --once 2>>"$RLOG"
	sleep 1.2	# the killed run's transaction, stored after its stall
	c=$(copies "$SP")
	diag "torn 2: delivered $(echo "$c" | wc -l) ($(echo "$c" | awk '$2 > 1' | wc -l) twice), retried: $(retried | tr '\n' ' ')"
	check "torn 2: m08 (deferred in the killed run) is in the retry queue, not lost" \
		test "$(retried)" = m08@a.example
	check "torn 2: the others of m06..m20 got it" \
		test "$(echo "$c" | cut -d' ' -f1 | tr '\n' ' ')" = "$(seq -f 'm%02g@a.example' 6 20 | grep -v m08 | tr '\n' ' ')"
	check "torn 2: duplicates at most the one batch in flight at the kill (5)" \
		test "$(echo "$c" | awk '$2 > 1 {d += $2 - 1} END {print d + 0}')" -le 5
else
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	not_ok "torn 2: the second run never recorded batch 5-9"
fi
sf_stop
t_done
