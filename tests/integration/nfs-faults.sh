#!/usr/bin/env bash
# NFS failure modes injected with the LD_PRELOAD shim (tests/shim/nfsfault.c):
# link() and rename() that succeed but report failure, ESTALE from stat,
# open and unlink, and a stale stat result.  Under each: no lost message,
# never two lock holders, and a clear log line where herald saw the fault.
# sanitizer build: skip (injected NFS faults through a preloaded shim; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
L=$T_DIR/locks
mkdir -p "$L"
shimmed() { LD_PRELOAD=$SHIM NFSFAULT_LOG=$T_DIR/faults.log "$@"; }
faults() { grep -c " $1 " "$T_DIR/faults.log" 2>/dev/null || echo 0; }

# --- link() did link, but reported EEXIST / EIO ----------------------------
for f in link_eexist link_eio; do
	out=$(NFSFAULT=$f=1 shimmed "$TOOLS/locktool" acquire "$L" "new-$f" 5000 2000 2>"$T_DIR/$f.err")
	ms=$(echo "$out" | awk '{print $3}')
	check "$f on the first link: the lock is ours at once, no deadlock ($out)" \
		test "${out%% *}" = acquired -a "${ms:-9999}" -lt 500
	check "$f: the fault was really injected" test "$(faults $f)" -ge 1
done
check "the misreported EIO link is logged" grep -q "reported Input/output error; checking with stat" "$T_DIR/link_eio.err"

# --- lock counter under every fault at once ---------------------------------------
export NFSFAULT="link_eexist=1,rename_enoent=%7,stat_estale=%5,open_estale=%6,unlink_estale=%4,stat_stale=%9"
pids=()
for i in 1 2 3 4; do
	shimmed "$TOOLS/locktool" counter "$L" faulty 300 10000 >"$T_DIR/f$i.out" 2>&1 &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
unset NFSFAULT
check "4 x 300 lock rounds under injected faults: no overlap, no error" test "$rc" -eq 0
check "the counter is exact (1200)" test "$(cat "$L/counter")" -eq 1200
diag "faults injected: rename_enoent $(faults rename_enoent), stat_estale $(faults stat_estale), open_estale $(faults open_estale), unlink_estale $(faults unlink_estale), stat_stale $(faults stat_stale)"
check "rename/ESTALE/stale-stat faults were really injected" test "$(faults rename_enoent)" -gt 10 -a "$(faults stat_estale)" -gt 10 -a "$(faults stat_stale)" -gt 10

# --- a stale stat never breaks a live lock -----------------------------------------
# The holder refreshes its 1 s lock; the waiter sees every other stat of the
# holder's claim from its first look (long expired after 1 s).
"$TOOLS/locktool" keep "$L" live 1000 4 >"$T_DIR/keep.out" 2>&1 &
keeper=$!
wait_for 5 grep -q held "$T_DIR/keep.out"
out=$(NFSFAULT=stat_stale=%2 shimmed "$TOOLS/locktool" acquire "$L" live 1000 2500)
wait "$keeper"
krc=$?
check "with stale stat results the waiter does not take a live lock ($out)" test "${out%% *}" = timeout
check "and the holder kept its lock throughout" test "$krc" -eq 0
check "stale results were served" test "$(faults stat_stale)" -gt 20

# --- queue: rename misreports and ESTALE while runners move 2,000 messages ------
V=$(new_var v)
chain "$V" 2 2
"$HERALD" --var "$V" site set master.restart_backoff_max 1
"$TOOLS/qtool" inject "$V" in 2000
export NFSFAULT_PATH=/queue/
export NFSFAULT="rename_enoent=%11,stat_estale=%13,open_estale=%17,unlink_estale=%19,unlink_enoent=%23"
shimmed "$HERALD" --var "$V" start
check "the master starts under injected faults" test $? -eq 0
wait_for 120 drained "$V"
check "in and out drain" drained "$V"
unset NFSFAULT NFSFAULT_PATH
"$HERALD" --var "$V" stop >/dev/null
out=$("$TOOLS/qtool" collect "$V" done | tail -1)
diag "$out; faults: rename_enoent $(faults rename_enoent), open_estale $(faults open_estale), unlink_enoent $(faults unlink_enoent)"
check "all 2000 messages arrived" test "$(echo "$out" | awk '{print $2}')" -eq 2000
check "nothing went to bad/ or shunt/" test -z "$(ls "$V/queue/bad" "$V/queue/shunt" 2>/dev/null | grep msg)"
check "claims whose rename was misreported were logged and kept" grep -q "but the claim exists; taking it" "$V"/logs/*/queue
check "ESTALE retries were logged" grep -q "stale NFS file handle; looking it up again" "$V"/logs/*/fs
t_done
