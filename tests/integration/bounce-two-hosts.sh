#!/usr/bin/env bash
# Two hosts process bounces for one list at once, on one var dir: the
# scores are exact, no update is lost (issue 11, "How it must be proven").
#
# A list of 300 members, half of them "A" (even numbers) and half "B"
# (odd).  600 bounces-queue entries, DSNs through `herald mta bounces` and
# bounce events as delivery writes them (kind bounce-event, one member
# line), in two faked days (libfaketime, mid-day, so that no run crosses
# midnight):
#   day 1: one entry for every member and a second one for each A member
#          (450 entries);
#   day 2: one more for each B member (150 entries).
# Each day the entries are worked by two `herald runner bounces --once`
# started together, as hosts a and b (HERALD_HOST), on the two slices of
# the queue (--slice 0/2 and 1/2), so that the two race for the list's
# lock throughout (each must have done part of the work, and their runs
# must overlap).  A member is scored at most once a day, a permanent
# failure weighs 1.0, the threshold is 2 and the outage guard is off
# (bounce_outage_share 100): every A member must end at exactly 1.0,
# enabled, last bounce on day 1; every B member at exactly 2.0, disabled
# by bounce on day 2 with two warnings left, one warning each and one
# owners' notice each.  The logs of a and b together account for each
# entry once (scored 450, ignored 150, disabled 150); the day's ledger
# names exactly the members who bounced that day; the queue is empty,
# nothing in bad/ or shunt/, no .bak or .tmp.  Then a third host dies
# holding the list's lock: the bounce waiting for it is given back to the
# queue, not shunted, and processed once the lock expires.
#
# Why these checks would fail without the list lock: a roster change is
# appended to the change log at the end the writer read under the lock
# (roster.c, append_change: it cuts the file to the length it found and
# writes there).  Two unlocked writers that read the same length both
# write at that offset, and the later one wipes the earlier's change: that
# member keeps the score it had (0, or 1.0 on day 2), and the exact-score
# check and the count of members in `bounce status` fail.  The day's
# ledger (bounces-today) is read, changed and renamed into place whole:
# unlocked, the later rename drops the other host's additions, and the
# ledger check fails.  With 450 and 150 entries taken by two processes at
# once (each a lock, a read, a write of a few ms), such overlaps are
# certain, not rare; and two unlocked hosts scoring one B member on day 2
# would both send it a warning, which the count of warnings catches.
# Checked once by hand (2026-12-06) with roster_edit's list_lock skipped:
# the day 1 and day 2 counts, the exact scores, the ledgers, --nomail and
# the warnings all failed.
# sanitizer build: skip (process orchestration and races between hosts; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
export NO_FAKE_STAT=1
if [ -z "$FAKELIB" ]; then
	not_ok "libfaketime is not installed (apt-get install faketime)"
	t_done
fi
N=300
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=race@lists.test
H site set runner.bounces.handler bounces
H lists create $L --owner owner@lists.test >/dev/null
# Members over ten domains: the per-domain guard has domains to count.
member() { printf 'm%03d@d%d.example' "$1" $(($1 % 10)); }
for i in $(seq 0 $((N - 1))); do member $i; echo; done | H members add $L >/dev/null
H config set $L bounce_score_threshold 2 >/dev/null
H config set $L bounce_outage_share 100 >/dev/null
check "the list has $N members" test "$(H members list $L | wc -l)" -eq $N

# The faked clock: day D (1, 2) is noon UTC, D + 10 days from now; FAKETIME
# as an offset in seconds, so that the two hosts' clocks run together.
now=$(date +%s)
noon() { echo $(( now - now % 86400 + ($1 + 10) * 86400 + 43200 )); }
offset() { echo "+$(( $(noon "$1") - now ))"; }
day_of() { date -u -d "@$(noon "$1")" +%F; }

# event ADDR: a bounce event for ADDR, as deliver.c writes one.
event() {
	printf 'Delivery failures (refused):\n%s: 550 5.1.1 <%s>: Recipient address rejected: User unknown\n' "$1" "$1" |
		H queue inject bounces --list $L --meta kind=bounce-event --meta member="$1" >/dev/null
}
# dsn ADDR: an RFC 3464 DSN naming ADDR, through the MTA's entry.
dsn() {
	printf '%s\n' "From: MAILER-DAEMON@mx.example" "To: race-bounces@lists.test" \
		"Subject: Undelivered Mail Returned to Sender" "MIME-Version: 1.0" \
		'Content-Type: multipart/report; report-type=delivery-status; boundary="B"' \
		'' '--B' 'Content-Type: text/plain' '' "Delivery to <$1> failed." '' \
		'--B' 'Content-Type: message/delivery-status' '' 'Reporting-MTA: dns; mx.example' '' \
		"Final-Recipient: rfc822; $1" 'Action: failed' 'Status: 5.1.1' \
		"Diagnostic-Code: smtp; 550 5.1.1 <$1>: user unknown" '' '--B--' |
		H mta bounces $L --sender '' --recipient race-bounces@lists.test
}
files() { find "$V/queue/$1" -name '*.msg' 2>/dev/null | wc -l; }
queued() { files bounces; }

# race DAY: hosts a and b, each one pass over its slice, started together.
race() {
	local off rc_a rc_b
	off=$(offset "$1")
	# Both wait at a FIFO and start when it opens: on a loaded machine
	# one host could otherwise be done before the other has started.
	mkfifo "$T_DIR/go.$1"
	HERALD_HOST=a LD_PRELOAD=$FAKELIB FAKETIME=$off bash -c 'read -r _ <"$0"; exec "$@"' \
		"$T_DIR/go.$1" "$HERALD" --var "$V" \
		runner bounces --slice 0/2 --once >"$T_DIR/a.$1.out" 2>&1 &
	local pa=$!
	HERALD_HOST=b LD_PRELOAD=$FAKELIB FAKETIME=$off bash -c 'read -r _ <"$0"; exec "$@"' \
		"$T_DIR/go.$1" "$HERALD" --var "$V" \
		runner bounces --slice 1/2 --once >"$T_DIR/b.$1.out" 2>&1 &
	local pb=$!
	sleep 0.5
	echo go >"$T_DIR/go.$1"
	wait $pa; rc_a=$?
	wait $pb; rc_b=$?
	check "day $1: hosts a and b both exit 0" test "$rc_a/$rc_b" = 0/0
}
# lines HOST DAY: host's bounce log lines of that day, one per entry.
lines() { grep -h "^$(day_of "$2")T.* bounce info: list $L: .* bounce, 1 failure: " "$V/logs/$1/bounce" 2>/dev/null; }
# sum DAY WORD: the total of "N WORD" over both hosts' lines of that day.
sum() { { lines a "$1"; lines b "$1"; } | grep -o "[0-9]* $2" | awk '{ s += $1 } END { print s + 0 }'; }
# span HOST DAY: the first and last time (seconds.micro of the day) of a line.
span() { lines "$1" "$2" | awk '{ split(substr($1, 12, 15), t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]; if (NR == 1) f = s; l = s } END { printf "%.6f %.6f\n", f, l }'; }
overlap() {
	local a b
	read -r -a a <<<"$(span a "$1")"
	read -r -a b <<<"$(span b "$1")"
	diag "day $1: host a worked from ${a[0]} to ${a[1]}, host b from ${b[0]} to ${b[1]} (seconds of the day)"
	python3 -c "import sys; a0, a1, b0, b1 = map(float, sys.argv[1:]); sys.exit(not (a0 < b1 and b0 < a1))" \
		"${a[@]}" "${b[@]}"
}
# ledger DAY: the members the day's ledger says were scored, sorted.
ledger() {
	[ "$(sed -n 2p "$V/lists/$L/bounces-today")" = "day $(( $(noon "$1") - 43200 ))" ] || return 1
	grep '^1 ' "$V/lists/$L/bounces-today" | cut -c3- | sort
}

# day DAY N: the N entries queued are worked by the two hosts racing:
# the queue empties, each host did part, together N, at the same time.
day() {
	local t0 na nb
	check "day $1: $2 entries in the bounces queue" test "$(queued)" -eq "$2"
	t0=$(date +%s%N)
	race "$1"
	diag "day $1: both hosts done in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	check "day $1: the queue is empty" test "$(queued)" -eq 0
	na=$(lines a "$1" | wc -l); nb=$(lines b "$1" | wc -l)
	diag "day $1: host a processed $na entries, host b $nb"
	check "day $1: a and b each processed part, $2 together" \
		test "$na" -gt 0 -a "$nb" -gt 0 -a $((na + nb)) -eq "$2"
	# Both processes run at once (the FIFO start), but whether their
	# entries interleave is the list lock's doing: a host that takes it
	# again at once can keep the other polling until it is done. Exact
	# scores are asserted either way; the interleaving is only reported.
	if overlap "$1"; then diag "day $1: their entries interleaved"; else diag "day $1: one host waited for the other's lock throughout"; fi
}

# --- day 1 ---------------------------------------------------------------------
t0=$(date +%s%N)
for i in $(seq 0 $((N - 1))); do
	a=$(member $i)
	if [ $((i % 4)) -lt 2 ]; then event "$a"; else dsn "$a"; fi
	# A members (even) bounce twice: the other kind of entry.
	if [ $((i % 2)) -eq 0 ]; then
		if [ $((i % 4)) -lt 2 ]; then dsn "$a"; else event "$a"; fi
	fi
done
diag "450 entries written in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
day 1 450
check "day 1: 300 scored, 150 ignored (A's second bounce of the day), nobody disabled" \
	test "$(sum 1 scored)/$(sum 1 ignored)/$(sum 1 disabled)" = 300/150/0
check "day 1: every member bounced and the day's ledger names exactly all $N" \
	test "$(ledger 1)" = "$(H members list $L | sort)"
check "day 1: bounce status lists all $N, each at exactly 1.0" \
	test "$(H bounce status $L | awk -F'\t' '$2 == "1.0" && $5 == "enabled"' | wc -l)" -eq $N

# --- day 2 ---------------------------------------------------------------------
for i in $(seq 1 2 $((N - 1))); do
	if [ $((i % 4)) -eq 1 ]; then dsn "$(member $i)"; else event "$(member $i)"; fi
done
day 2 150
check "day 2: 150 scored, 150 disabled, none ignored" \
	test "$(sum 2 scored)/$(sum 2 disabled)/$(sum 2 ignored)" = 150/150/0

# --- the end state ----------------------------------------------------------------
# expected: address, score, last day, reason, status, warnings left.
for i in $(seq 0 $((N - 1))); do
	if [ $((i % 2)) -eq 0 ]; then
		printf '%s\t1.0\t%s\tmailbox-unknown\tenabled\t0\n' "$(member $i)" "$(day_of 1)"
	else
		printf '%s\t2.0\t%s\tmailbox-unknown\tbybounce\t2\n' "$(member $i)" "$(day_of 2)"
	fi
done | sort >"$T_DIR/expected"
H bounce status $L | sort >"$T_DIR/status"
check "every member has exactly the score its bounces give (A 1.0 enabled, B 2.0 bybounce)" \
	cmp -s "$T_DIR/expected" "$T_DIR/status"
diff "$T_DIR/expected" "$T_DIR/status" | head -10 | sed 's/^/# /'
check "the roster still has all $N members" test "$(H members list $L | wc -l)" -eq $N
check "members list --nomail is exactly the B members" \
	test "$(H members list $L --nomail)" = "$(for i in $(seq 1 2 $((N - 1))); do member $i; echo; done | sort)"
check "day 2's ledger names exactly the B members" \
	test "$(ledger 2)" = "$(awk -F'\t' '$5 == "bybounce" { print $1 }' "$T_DIR/expected")"
# The notices of day 2: one warning to each B member, one owners' notice each.
rcpts() { grep -h '^rcpt: ' "$V"/queue/virgin/*.msg 2>/dev/null | cut -c7- | sort; }
check "each B member got exactly one warning (150, none twice)" \
	test "$(rcpts | grep -v '^owner@' | uniq -d | wc -l)/$(rcpts | grep -vc '^owner@')" = 0/150
check "the owners got 150 'disabled' notices" \
	test "$(grep -l '^Subject: Bounce action notification: .* disabled' "$V"/queue/virgin/*.msg | wc -l)" -eq 150

# --- a host dies holding the list's lock -------------------------------------------
# Host z takes the list's lock and dies: the lock stays until its lifetime
# (35 s here) is over.  On day 3 host a's runner waits 30 s for it (the
# roster's edit), then gives the entry back to be tried again: not
# shunted, as it was before the fix in process.c (a lock not had in time
# is the environment's fault, not the entry's).  Its next run, once the
# lock has expired, scores the bounce: m000 (1.0 on day 1) reaches 2.0 and
# is disabled.
HERALD_HOST=z "$TOOLS/locktool" hold "$V/locks" "list-$L" 35000 >"$T_DIR/z.out" 2>&1 &
pz=$!
check "host z holds the list's lock" wait_for 10 grep -q held "$T_DIR/z.out"
kill -9 $pz; wait $pz 2>/dev/null
event "$(member 0)"
day3() {
	HERALD_HOST=a LD_PRELOAD=$FAKELIB FAKETIME=$(offset 3) "$HERALD" --var "$V" \
		runner bounces --once >"$T_DIR/a.3.out" 2>&1
}
t0=$(date +%s)
day3
diag "host a's first run on day 3 ended after $(( $(date +%s) - t0 )) s: $(grep -o 'runner error: .*' "$T_DIR/a.3.out")"
check "the entry is given back to the queue, not shunted" \
	test "$(queued)/$(files shunt)" = 1/0
day3
check "the next run, once z's lock expired, processes it" test $? = 0 -a "$(queued)/$(files shunt)" = 0/0
check "m000 is at 2.0, disabled on day 3" \
	test "$(H bounce status $L "$(member 0)" | cut -f2,3,5)" = "2.0	$(day_of 3)	bybounce"

check "nothing in bad/ or shunt/, no .bak or .tmp" \
	test -z "$(find "$V/queue/bad" "$V/queue/shunt" -type f 2>/dev/null; find "$V/queue" -name '*.bak' -o -name '*.tmp')"
t_done
