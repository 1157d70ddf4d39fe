# Test 2 (run in each guest; hostA was booted with its clock skewed):
#  a. one locktool counter per guest on the same lock in $MNT/t2;
#  b. hostA takes lock h1 and is SIGKILLed; hostB waits for it;
#  c. hostB takes lock h2 and is SIGKILLed; hostA waits for it.
# The taker's released lock keeps the expiry it set when it took over,
# that is (server clock at the takeover) + lifetime: run.sh checks from it
# that the takeover came after the dead holder's expiry, not before.
. "$(dirname "$0")/lib.sh"
D=$MNT/t2
L=$T2_LIFETIME_MS

holder() {
	local name=$1 hp s0 e i
	"$LOCKTOOL" hold "$D" "$name" "$L" >"$GT/hold-$name.out" 2>"$GT/hold-$name.err" &
	hp=$!
	for i in $(seq 300); do
		grep -q held "$GT/hold-$name.out" && break
		sleep 0.1
	done
	s0=$(server_now "$D")
	e=$(stat -c %.6Y "$D/$name/lock")
	kill -9 "$hp"
	wait "$hp" 2>/dev/null
	res "hold $name server_now_us=$s0 expiry_s=$e holder=[$(cat "$GT/hold-$name.out")]"
	post "killed-$name $e"
}

taker() {
	local name=$1 out rc e2
	wait_peer "killed-$name" 120 || return 1
	out=$("$LOCKTOOL" acquire "$D" "$name" "$L" 60000 2>"$GT/acq-$name.err")
	rc=$?
	e2=$(stat -c %.6Y "$D/$name/lock")
	res "take $name rc=$rc out=[$out] new_expiry_s=$e2 dead_expiry_s=$(peer_val "killed-$name")"
	show "take $name stderr" "$GT/acq-$name.err"
	post "took-$name"
}

res "clock server_us,local_us=$("$LOCKTOOL" now "$D" | tr ' ' ,)"
post ready
wait_peer ready 90 || exit 1
t0=$(ms)
"$LOCKTOOL" counter "$D" c "$T2_ITER" 10000 >"$GT/c.out" 2>"$GT/c.err"
rc=$?
res "counter rc=$rc out=[$(tr '\n' ' ' <"$GT/c.out")] elapsed_ms=$(($(ms) - t0))"
show "counter stderr" "$GT/c.err" | head -20
post counted
wait_peer counted 300 || exit 1
if [ "$HN" = hostA ]; then
	holder h1
	taker h2
else
	taker h1
	holder h2
fi
post finished
