#!/usr/bin/env bash
# The NFS-safe lock: exact counter under contention, expiry of a killed
# holder (not before its lifetime), immediate takeover from a dead process
# of this host, and contention between clocks skewed by -1 h and +1 h.
. "$(dirname "$0")/../lib.sh"
L=$T_DIR/locks
mkdir -p "$L"

# --- 8 processes x 1,000 rounds -------------------------------------------
ITER=${LOCK_ITER:-1000}
pids=()
for i in 1 2 3 4 5 6 7 8; do
	"$TOOLS/locktool" counter "$L" c "$ITER" 10000 >"$T_DIR/c$i.out" 2>&1 &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
check "8 processes x $ITER rounds: no overlap, no error" test "$rc" -eq 0
check "the counter is exactly $((8 * ITER))" test "$(cat "$L/counter")" -eq $((8 * ITER))
diag "worst waits (ms): $(awk '{print $3}' "$T_DIR"/c*.out | sort -n | tail -1)"

# --- a holder killed with SIGKILL on another host --------------------------
# Its pid cannot be checked from here, so only the lifetime frees the lock.
HERALD_HOST=otherhost "$TOOLS/locktool" hold "$L" k 2000 >"$T_DIR/hold.out" &
holder=$!
wait_for 5 grep -q held "$T_DIR/hold.out"
kill -9 "$holder"; wait "$holder" 2>/dev/null
out=$("$TOOLS/locktool" acquire "$L" k 2000 500)
check "while its 2 s lifetime runs, the lock is not broken ($out)" test "$(echo "$out" | cut -d' ' -f1)" = timeout
out=$("$TOOLS/locktool" acquire "$L" k 2000 5000)
ms=$(echo "$out" | awk '{print $3}')
check "after the lifetime the lock is taken over ($out)" test "$(echo "$out" | cut -d' ' -f1)" = acquired
check "the takeover came 1-2.5 s after the kill" test "$ms" -ge 900 -a "$ms" -le 2500
grep -q "expired" "$L/../locks.log" 2>/dev/null || true

# --- a holder killed with SIGKILL on this host ---------------------------------
"$TOOLS/locktool" hold "$L" d 60000 >"$T_DIR/hold2.out" &
holder=$!
wait_for 5 grep -q held "$T_DIR/hold2.out"
out=$("$TOOLS/locktool" acquire "$L" d 60000 300)
check "a live holder of this host keeps its lock ($out)" test "$(echo "$out" | cut -d' ' -f1)" = timeout
kill -9 "$holder"; wait "$holder" 2>/dev/null
out=$("$TOOLS/locktool" acquire "$L" d 60000 1000)
check "a dead holder of this host is taken over at once, not after 60 s ($out)" test "$(echo "$out" | cut -d' ' -f1)" = acquired

# --- clock skew: -1 h and +1 h -----------------------------------------------
# Preloaded directly rather than through the faketime wrapper, so that $!
# is the locktool process itself and kill -9 reaches it.
skewed() { local off=$1; shift; LD_PRELOAD=$FAKELIB FAKETIME="$off" exec "$@"; }
if [ -n "$FAKELIB" ]; then
	# NO_FAKE_STAT: a host whose clock is off still sees the file server's
	# timestamps as they are; libfaketime would otherwise shift the times
	# stat() returns too, which no real skew does.
	export NO_FAKE_STAT=1
	rm -f "$L/counter"
	SK_ITER=$((ITER / 4))
	skewed -1h "$TOOLS/locktool" counter "$L" s "$SK_ITER" 3000 >"$T_DIR/s1.out" 2>&1 &
	p1=$!
	skewed +1h "$TOOLS/locktool" counter "$L" s "$SK_ITER" 3000 >"$T_DIR/s2.out" 2>&1 &
	p2=$!
	"$TOOLS/locktool" counter "$L" s "$SK_ITER" 3000 >"$T_DIR/s3.out" 2>&1 &
	p3=$!
	rc=0
	for p in $p1 $p2 $p3; do wait "$p" || rc=$?; done
	check "clocks at -1 h, 0 and +1 h contend with no overlap" test "$rc" -eq 0
	check "and the counter is exact ($((3 * SK_ITER)))" test "$(cat "$L/counter")" -eq $((3 * SK_ITER))
	# A holder whose clock runs 1 h ahead is killed; a waiter whose clock
	# runs 1 h behind must still wait the 2 s lifetime, neither 0 s nor 2 h.
	HERALD_HOST=skewed skewed +1h "$TOOLS/locktool" hold "$L" sk 2000 >"$T_DIR/hold3.out" &
	holder=$!
	wait_for 5 grep -q held "$T_DIR/hold3.out"
	kill -9 "$holder"; wait "$holder" 2>/dev/null
	out=$(skewed -1h "$TOOLS/locktool" acquire "$L" sk 2000 300)
	check "under skew the dead holder's lock is not broken early ($out)" test "$(echo "$out" | cut -d' ' -f1)" = timeout
	out=$(skewed -1h "$TOOLS/locktool" acquire "$L" sk 2000 5000)
	check "and is taken over after its lifetime ($out)" test "$(echo "$out" | cut -d' ' -f1)" = acquired
else
	not_ok "libfaketime is not installed (apt-get install faketime)"
fi
t_done
