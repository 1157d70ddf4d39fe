#!/usr/bin/env bash
# Two masters, HERALD_HOST=a and HERALD_HOST=b, on one var dir: they split
# the slices.  SIGKILL master a and its runners: b takes every slice within
# the lease lifetime plus one poll, recovers a's claimed messages, and
# nothing is lost.
# sanitizer build: skip (process orchestration and races between hosts; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
LIFE=3

V=$(new_var v)
chain "$V" 4 2
"$HERALD" --var "$V" site set master.lease_lifetime $LIFE

HERALD_HOST=a "$HERALD" --var "$V" start
check "master a starts" test $? -eq 0
wait_for 5 bash -c "HERALD_HOST=a '$HERALD' --var '$V' status | grep -c 'held by a\.' | grep -qx 7"
check "alone, master a holds all 6 slice leases and its host lease" test $? -eq 0
HERALD_HOST=b "$HERALD" --var "$V" start
check "master b starts" test $? -eq 0
HERALD_HOST=b "$HERALD" --var "$V" start 2>/dev/null
check "a second master for host b is refused" test $? -ne 0

split() {
	local s
	s=$(HERALD_HOST=a "$HERALD" --var "$V" status)
	[ "$(echo "$s" | grep 'slice-' | grep -c 'held by a\.')" -eq 3 ] &&
	[ "$(echo "$s" | grep 'slice-' | grep -c 'held by b\.')" -eq 3 ]
}
wait_for $((LIFE * 3)) split
check "the 6 slices are split 3 and 3 between hosts a and b" test $? -eq 0
HERALD_HOST=a "$HERALD" --var "$V" status | sed 's/^/# /'

"$TOOLS/qtool" inject "$V" in 3000 first
MA=$(cat "$V/run/master.a.pid")
sleep 0.3
# Master a and its runners die at once, as when host a loses power.
kill -9 "$MA" $(pgrep -P "$MA")
killed_at=$(date +%s%N)
all_b() {
	[ "$(HERALD_HOST=b "$HERALD" --var "$V" status | grep 'slice-' | grep -c 'held by b\.')" -eq 6 ]
}
wait_for $((LIFE * 3)) all_b
took=$(( ($(date +%s%N) - killed_at) / 1000000 ))
diag "host b held all slices $took ms after host a died (lease lifetime ${LIFE}000 ms, master tick $((LIFE * 1000 / 3)) ms)"
check "b takes all slices within lease lifetime plus one tick" test "$took" -le $((LIFE * 1000 + LIFE * 1000 / 3 + 1000))
"$TOOLS/qtool" inject "$V" in 1000 second
wait_for 60 drained "$V"
check "in and out drain completely" drained "$V"
out=$("$TOOLS/qtool" collect "$V" done | tail -1)
diag "$out"
check "all 4000 messages arrived" test "$(echo "$out" | awk '{print $2}')" -eq 4000
wait_for $((LIFE * 4)) no_leftovers "$V"
check "no .tmp or .bak of dead host a remains (cleaned after 2 lease lifetimes)" no_leftovers "$V"
grep -q "recovered after a crash" "$V"/logs/b/queue 2>/dev/null && diag "b returned a's claimed messages to the queue"
HERALD_HOST=b "$HERALD" --var "$V" stop >/dev/null
check "master b stops" test $? -eq 0
t_done
