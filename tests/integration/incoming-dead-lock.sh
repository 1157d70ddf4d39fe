#!/usr/bin/env bash
# A host dies holding a list's lock: the posting pipeline (the in runner)
# waits 10 s for it, then gives the post back to the in queue, to be tried
# again once the lock's lifetime is over; it is not shunted.  The
# real-NFS test 3 found it: hostA, SIGKILLed while its pipeline held the
# list lock (the post number), left hostB's runner shunting three posts
# ("lock list-ops@...: not acquired within 10000 ms").  The next run,
# after the dead lock expired, takes the post through to the out queue.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=ops@lists.test
pipeline_runners "$V"
"$HERALD" --var "$V" lists create "$L" --owner owner@lists.test >/dev/null
echo alice@members.test | "$HERALD" --var "$V" members add "$L" >/dev/null
files() { find "$V/queue/$1" -name '*.msg' 2>/dev/null | wc -l; }

# Host z takes the list's lock (a lifetime of 13 s) and dies.
HERALD_HOST=z "$TOOLS/locktool" hold "$V/locks" "list-$L" 13000 >"$T_DIR/z.out" 2>&1 &
pz=$!
check "host z holds the list's lock" wait_for 10 grep -q held "$T_DIR/z.out"
kill -9 $pz; wait $pz 2>/dev/null
printf 'From: alice@members.test\nTo: %s\nSubject: while z is dead\nMessage-ID: <dead-lock@members.test>\n\nbody\n' "$L" |
	"$HERALD" --var "$V" mta auto --sender alice@members.test --recipient "$L"
check "the post is in the in queue" [ "$(files in)" = 1 ]
t0=$(date +%s)
HERALD_HOST=a "$HERALD" --var "$V" runner in --once >"$T_DIR/a.1.out" 2>&1
diag "host a's first run ended after $(($(date +%s) - t0)) s: $(grep -o 'lock .*' "$T_DIR/a.1.out" | head -1)"
check "the post is given back to the in queue, not shunted" \
	test "$(files in)/$(files shunt)/$(files out)" = 1/0/0
# (it waits for the lock again, and has it once the lifetime is over)
HERALD_HOST=a "$HERALD" --var "$V" runner in --once >"$T_DIR/a.2.out" 2>&1
check "the next run, once z's lock expired, takes it to the out queue" \
	test "$(files in)/$(files shunt)/$(files out)" = 0/0/1
check "no .bak or .tmp left" no_leftovers "$V"
t_done
