#!/usr/bin/env bash
# The roster under concurrent writers and killed writers:
# - 8 processes add and remove overlapping sets at once: the final roster is
#   the serial result, and a reader looping meanwhile only ever sees whole
#   changes (each batch all there or all gone);
# - SIGKILL during a big change and during compaction: afterwards the roster
#   is the state before or after that change, and the next command works.
# sanitizer build: skip (process orchestration and races between hosts; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=c@example.org
"$HERALD" --var "$V" lists create $L --owner admin@example.org >/dev/null
ROUNDS=${ROSTER_ROUNDS:-12}
B=40	# addresses per batch
common() { for j in $(seq 1 20); do echo "common$j@shared.example"; done; }
batch() { for j in $(seq 1 $B); do echo "w$1r$2n$j@writers.example"; done; }

writer() {
	local w=$1
	for r in $(seq 1 "$ROUNDS"); do
		{ batch "$w" "$r"; common; } | "$HERALD" --var "$V" members add $L >/dev/null 2>&1
		if [ "$r" -gt 1 ]; then
			{ batch "$w" $((r - 1)); common; } | "$HERALD" --var "$V" members remove $L >/dev/null 2>&1
		fi
	done
	# The last change of every writer adds the common set again.
	common | "$HERALD" --var "$V" members add $L >/dev/null 2>&1
	return 0
}

reader() {
	local bad=0 n=0
	while [ ! -e "$T_DIR/stop" ]; do
		"$HERALD" --var "$V" members list $L >"$T_DIR/snap" 2>"$T_DIR/snap.err" || { echo "read failed: $(cat "$T_DIR/snap.err")"; bad=1; }
		# Every batch and the common set: all or nothing.
		awk -v B=$B '
			/@writers\.example$/ { split($0, a, "n"); k[a[1]]++ }
			/@shared\.example$/ { c++ }
			END {
				for (x in k) if (k[x] != B) { print "torn batch " x ": " k[x]; bad = 1 }
				if (c != 0 && c != 20) { print "torn common set: " c; bad = 1 }
				exit bad
			}' "$T_DIR/snap" || bad=1
		n=$((n + 1))
	done
	echo "reads $n"
	return $bad
}

reader >"$T_DIR/reader.out" 2>&1 &
rpid=$!
pids=()
for w in 1 2 3 4 5 6 7 8; do writer $w & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
touch "$T_DIR/stop"
wait "$rpid"
rrc=$?
diag "reader: $(tail -1 "$T_DIR/reader.out")"
check "a reader looping during 8 writers never saw a torn change" test "$rrc" -eq 0
expected=$( { common; for w in 1 2 3 4 5 6 7 8; do batch "$w" "$ROUNDS"; done; } | sort)
actual=$("$HERALD" --var "$V" members list $L | sort)
check "the final roster is the serial result ($(echo "$actual" | wc -l) members)" test "$expected" = "$actual"
ls "$V/lists/$L/roster" | sed 's/^/# roster file: /'

# --- SIGKILL during a big change (which ends in a compaction) ------------------
python3 -c "
for i in range(60000): print(f'k{i}@kill.example')" >"$T_DIR/big.txt"
before=$("$HERALD" --var "$V" members list $L | wc -l)
kills=0
for delay in 0.05 0.2 0.4 0.6 0.8 1.0 1.2; do
	"$HERALD" --var "$V" members add $L <"$T_DIR/big.txt" >/dev/null 2>&1 &
	p=$!
	sleep $delay
	kill -9 $p 2>/dev/null && kills=$((kills + 1))
	wait $p 2>/dev/null
	n=$("$HERALD" --var "$V" members list $L 2>"$T_DIR/list.err" | wc -l)
	if [ "$n" -ne "$before" ] && [ "$n" -ne $((before + 60000)) ]; then
		not_ok "after a kill at $delay s the roster has $n members: neither before ($before) nor after ($((before + 60000)))"
	fi
	[ -s "$T_DIR/list.err" ] && not_ok "after a kill at $delay s reading failed: $(cat "$T_DIR/list.err")"
	if [ "$n" -ne "$before" ]; then
		# The change had committed: take it back out for the next try.
		"$HERALD" --var "$V" members remove $L <"$T_DIR/big.txt" >/dev/null 2>&1
	fi
	echo "probe$delay@after.example" | "$HERALD" --var "$V" members add $L >/dev/null 2>&1 ||
		not_ok "after a kill at $delay s the next command failed"
	before=$((before + 1))
done
check "killed $kills big changes; every time the roster was whole and the next command worked" test "$kills" -ge 3
# --- SIGKILL during an explicit compaction ---------------------------------------
"$HERALD" --var "$V" members add $L <"$T_DIR/big.txt" >/dev/null 2>&1
want=$("$HERALD" --var "$V" members list $L | wc -l)
for delay in 0.02 0.05 0.1 0.2; do
	"$HERALD" --var "$V" members compact $L &
	p=$!
	sleep $delay
	kill -9 $p 2>/dev/null
	wait $p 2>/dev/null
	n=$("$HERALD" --var "$V" members list $L | wc -l)
	[ "$n" -eq "$want" ] || not_ok "after a kill during compaction at $delay s: $n members, not $want"
done
check "compaction killed at any point leaves the whole roster" test "$("$HERALD" --var "$V" members list $L | wc -l)" -eq "$want"
check "and the next change works" bash -c "echo last@after.example | '$HERALD' --var '$V' members add $L >/dev/null"
t_done
