#!/usr/bin/env bash
# The bounces runner SIGKILLed again and again while it scores 600 DSNs
# for 600 members: a member's score and the disabling it causes are one
# committed roster change (bounce/process.h), and an entry worked when the
# runner died is worked again, which the once-a-day rule makes harmless.
# Afterwards every member has exactly score 1.0, the roster reads whole,
# the day's ledger names all 600, and no entry is lost (the queue is
# empty; an entry is only in bad/ if three kills hit it, which the test
# counts as worked).
# sanitizer build: skip (SIGKILL timing loops; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
H site set runner.bounces.handler bounces
L=kill@lists.test
H lists create $L --owner owner@example.org >/dev/null
N=600
for i in $(seq 1 $N); do echo "m$i@example$((i % 7)).net"; done | H members add $L >/dev/null
# No guard here: 600 of 600 bouncing on one day is an outage by any share.
H config set $L bounce_outage_share 100
H config set $L bounce_outage_minimum 1000000
for i in $(seq 1 $N); do
	a="m$i@example$((i % 7)).net"
	printf 'From: MAILER-DAEMON@mx.example\nTo: kill-bounces@lists.test\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n--B\nContent-Type: text/plain\n\nNot delivered.\n\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n\n--B--\n' "$a" |
		H queue inject bounces --list $L --meta kind=bounces >/dev/null
done
left() { find "$V/queue/bounces" -name '*.msg' -o -name '*.bak' | wc -l; }
kills=0
while [ "$(left)" -gt 0 ] && [ $kills -lt 40 ]; do
	"$HERALD" --var "$V" runner bounces 2>>"$T_DIR/runner.log" &
	pid=$!
	# 30-120 ms: a fast machine scores the 600 in well under a second,
	# so longer waits left fewer than five kills before the queue was
	# empty (the check below failed on a quiet machine).
	sleep "0.$(printf '%02d' $((RANDOM % 10 + 3)))"
	kill -9 $pid 2>/dev/null && kills=$((kills + 1))
	wait $pid 2>/dev/null
done
H runner bounces --once 2>>"$T_DIR/runner.log"
diag "$kills kills"
check "the runner was killed mid-work at least 5 times" test $kills -ge 5
check "the bounces queue is empty" test "$(left)" -eq 0
bad=$(find "$V/queue/bad" -name '*.msg' 2>/dev/null | wc -l)
diag "$bad entries in bad/ (three kills on one entry)"
check "the roster reads whole: $N members" test "$(H members list $L | wc -l)" -eq $N
check "every member has exactly score 1.0" test "$(H bounce status $L | awk -F'\t' '$2 == "1.0"' | wc -l)" -eq $((N - bad))
check "no score other than 1.0" test -z "$(H bounce status $L | awk -F'\t' '$2 != "1.0"')"
check "the day's ledger names every scored member" \
	test "$(grep -c '^1 ' "$V/lists/$L/bounces-today")" -eq $((N - bad))
check "no .tmp or .bak left in the queues" no_leftovers "$V"
t_done
