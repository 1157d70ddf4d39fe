# Test 1 (run in each guest): T1_PROCS locktool counters per guest, all on
# the same lock and counter in $MNT/t1, started together with the peer's.
. "$(dirname "$0")/lib.sh"
D=$MNT/t1
post ready
wait_peer ready 90 || exit 1
t0=$(ms)
pids=""
for i in $(seq "$T1_PROCS"); do
	"$LOCKTOOL" counter "$D" c "$T1_ITER" 10000 >"$GT/c$i.out" 2>"$GT/c$i.err" &
	pids="$pids $!"
done
i=0
for p in $pids; do
	i=$((i + 1))
	wait "$p"
	rc=$?
	res "proc$i rc=$rc out=[$(tr '\n' ' ' <"$GT/c$i.out")] warnings=$(wc -l <"$GT/c$i.err")"
	show "proc$i stderr" "$GT/c$i.err" | head -20
done
res "elapsed_ms=$(($(ms) - t0))"
post finished
