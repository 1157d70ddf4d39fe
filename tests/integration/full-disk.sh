#!/usr/bin/env bash
# A full disk: enqueue fails with a clear error and no partial file ever
# becomes visible in the queue; a runner that cannot write its next queue
# gives the message back and goes on once there is room again.
. "$(dirname "$0")/../lib.sh"
shimmed() { LD_PRELOAD=$SHIM "$@"; }
visible() { find "$1/queue" -name '*.msg' -o -name '*.tmp' -o -name '*.bak' | wc -l; }

# --- injected ENOSPC / EDQUOT on write, fsync and rename --------------------------
V=$(new_var shim)
for f in write_enospc=1 write_edquot=1 fsync_enospc=1 fsync_edquot=1 rename_enospc=1; do
	err=$(printf 'Subject: x\n\nbody\n' | NFSFAULT=$f NFSFAULT_PATH=/queue/ shimmed "$HERALD" --var "$V" queue inject in 2>&1 >/dev/null)
	rc=$?
	check "$f: inject fails (exit $rc)" test "$rc" -ne 0
	case $f in *edquot*) want="Disk quota exceeded" ;; *) want="No space left on device" ;; esac
	case $f in write*) call=write ;; fsync*) call=fsync ;; rename*) call=rename ;; esac
	check "$f: the error names the call, the path and the reason ($err)" \
		bash -c "echo \"\$1\" | grep -q \"^herald: $call(.*queue/in/.*) failed: $want\"" _ "$err"
	check "$f: no file of it is left in the queue" test "$(visible "$V")" -eq 0
done

# --- a real full filesystem (a 1 MiB tmpfs) ----------------------------------------
M=$T_DIR/small
mkdir -p "$M"
if mount -t tmpfs -o size=1m tmpfs "$M" 2>/dev/null; then
	trap 'umount "$M" 2>/dev/null; t_cleanup' EXIT
	"$HERALD" --var "$M/v" init >/dev/null
	# Only the in runner this test configures below.
	for q in out retry virgin; do drop_runner "$M/v" "$q"; done
	head -c 2000000 /dev/urandom | base64 >"$T_DIR/big.eml"
	err=$("$HERALD" --var "$M/v" queue inject in <"$T_DIR/big.eml" 2>&1 >/dev/null)
	check "a 2.7 MB message on a 1 MiB filesystem is refused ($err)" \
		bash -c "echo \"\$1\" | grep -q 'No space left on device'" _ "$err"
	check "no partial file is visible in the queue" test "$(visible "$M/v")" -eq 0
	check "a small message still fits afterwards" bash -c "printf 'Subject: s\n\nsmall\n' | '$HERALD' --var '$M/v' queue inject in >/dev/null"

	# A runner moving in -> out on a disk that is full: the message stays
	# in its queue (nothing shunted, nothing lost) and moves on later.
	"$HERALD" --var "$M/v" site set runner.in.handler forward
	"$HERALD" --var "$M/v" site set runner.in.next out
	"$HERALD" --var "$M/v" site set master.restart_backoff_max 1
	"$HERALD" --var "$M/v" start
	wait_for 5 grep -qs "runner in slice 0/1 started" "$M"/v/logs/*/runner
	# Fill the disk, then free exactly one page: room for the message in
	# 'in' and none for its copy in 'out'.
	dd if=/dev/zero of="$M/filler" bs=4k 2>/dev/null
	truncate -s -4096 "$M/filler"
	printf 'Subject: full\n\nwaiting for room\n' | "$HERALD" --var "$M/v" queue inject in >/dev/null
	check "the message was accepted into the last free page" test $? -eq 0
	sleep 2
	check "with the disk full the message stays in 'in'" test "$(ls "$M/v/queue/in" | grep -c '\.msg$')" -eq 1
	check "nothing was shunted or set aside" test -z "$(ls "$M/v/queue/shunt" "$M/v/queue/bad" 2>/dev/null)"
	grep -q "No space left on device" "$M"/v/logs/*/runner
	check "the runner logged the full disk" test $? -eq 0
	rm -f "$M/filler"
	wait_for 10 bash -c "ls '$M/v/queue/out' 2>/dev/null | grep -q '\.msg$'"
	check "once there is room the message moves on to 'out'" test $? -eq 0
	"$HERALD" --var "$M/v" stop >/dev/null
	umount "$M"
else
	diag "cannot mount a tmpfs here; the shim cases above cover ENOSPC"
fi
t_done
