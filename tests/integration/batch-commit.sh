#!/usr/bin/env bash
# Group commit in the incoming runner (store/runner.c, store/queue.h): a
# batch of posts' copies (out, archive, digest) is fsync'ed, renamed into
# place and its directories fsync'ed together before the runner finishes
# the posts' in-queue entries.  An fsync, rename or directory fsync failing
# in the middle of a batch loses nothing: every post is still in 'in' or
# its copy is in 'out' (a duplicate at worst once it is redone), no .tmp or
# .bak is left, and a clean run afterwards delivers every post to 'out'.
# Then the same pipeline with its runner killed (SIGKILL) over and over:
# every post arrives, nothing is set aside as a poison message.
# sanitizer build: skip (SIGKILL timing loops; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
N=40
L=demo@example.org

setup() {
	local v
	v=$(new_var "$1") || return 1
	pipeline_runners "$v"
	drop_runner "$v" virgin
	"$HERALD" --var "$v" lists create "$L" --owner owner@example.org >/dev/null
	for i in $(seq 1 10); do echo "member$i@example.net"; done |
		"$HERALD" --var "$v" members add "$L" >/dev/null
	for i in $(seq 1 "$N"); do
		printf 'From: member%d@example.net\nTo: %s\nSubject: post %d\nMessage-ID: <post-%d@example.net>\n\nbody %d\n' \
			$(( i % 10 + 1 )) "$L" "$i" "$i" "$i" |
			"$HERALD" --var "$v" mta post "$L" || return 1
	done
	echo "$v"
}
count() { find "$1/queue/$2" -name "*.$3" 2>/dev/null | wc -l; }
# ids V QUEUE: the Message-IDs of the posts in QUEUE, one line each.
ids() { find "$1/queue/$2" -name '*.msg' -exec grep -h '^message-id: ' {} + 2>/dev/null | sed 's/^message-id: //'; }
in_ids() { find "$1/queue/in" -name '*.msg' -exec grep -ho '<post-[0-9]*@example.net>' {} + 2>/dev/null; }
# nothing_lost V: every post is still in 'in' or has its copy in 'out'.
nothing_lost() { test "$( { ids "$1" out; in_ids "$1"; } | sort -u | wc -l)" -eq "$N"; }

# fault_case NAME FAULT PATH: one runner pass under the fault, then the
# invariants, then a clean pass.
fault_case() {
	local name=$1 fault=$2 path=$3 v rc
	v=$(setup "$name")
	check "$name: $N posts wait in 'in'" test "$(count "$v" in msg)" -eq "$N"
	NFSFAULT=$fault NFSFAULT_PATH=$path NFSFAULT_LOG=$T_DIR/$name.faults LD_PRELOAD=$SHIM \
		"$HERALD" --var "$v" runner in --once >/dev/null 2>"$T_DIR/$name.err"
	rc=$?
	diag "$name: $(cat "$T_DIR/$name.faults" 2>/dev/null | head -1)"
	check "$name: the runner reports the failure (exit $rc)" test "$rc" -ne 0
	check "$name: the injected fault happened" test -s "$T_DIR/$name.faults"
	check "$name: nothing lost: each post is in 'in' or in 'out'" nothing_lost "$v"
	check "$name: no .tmp or .bak left" no_leftovers "$v"
	check "$name: nothing shunted or set aside" \
		test "$(count "$v" shunt msg)" -eq 0 -a "$(count "$v" bad msg)" -eq 0
	"$HERALD" --var "$v" runner in --once >/dev/null 2>&1
	check "$name: a clean pass empties 'in'" test "$(count "$v" in msg)" -eq 0
	check "$name: every post reached 'out'" test "$(ids "$v" out | sort -u | wc -l)" -eq "$N"
	check "$name: and 'archive'" test "$(count "$v" archive msg)" -ge "$N"
	DUPS=$(( $(count "$v" out msg) - N ))
	diag "$name: $DUPS duplicates in 'out'"
}

# 1. The 5th fsync of a copy's file fails: the batch it belongs to is
#    rolled back whole (nothing of it renamed), its posts given back.
fault_case file-fsync fsync_enospc=5 /queue/out/
check "file-fsync: no duplicate (nothing of the failed batch was published)" test "$DUPS" -eq 0
# 2. The first fsync of a directory fails (the files were fsync'ed and
#    renamed): the posts are given back and redone, duplicates at worst.
fault_case dir-fsync fsync_enospc=1 '/queue/archive$'
# 3. A rename in the middle of the batch fails.
fault_case rename rename_enospc=3 /queue/out/

# 4. The batch is the unit of recovery: a runner killed with a batch
#    pending leaves several .bak files; only the one it was working on is
#    counted against (bak-count), the handled ones go back with no strike.
#    (A restarted runner's first batches hold 1, 2, 4 ... entries, so even
#    one killed this often gets posts done.)
N=400
V=$(setup kill)
"$HERALD" --var "$V" site set master.restart_backoff_max 1
check "kill: master starts" "$HERALD" --var "$V" start
MASTER=$(cat "$V"/run/master.*.pid)
kills=0
start=$(date +%s)
while [ "$(count "$V" in msg)" -gt 0 ] || [ "$(count "$V" in bak)" -gt 0 ]; do
	[ $(( $(date +%s) - start )) -gt 120 ] && break
	pid=$(pgrep -P "$MASTER" | head -1)
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
	# 0.2-0.5 s: a runner restarted on a loaded machine must get past its
	# first entry sometimes, or three kills on that entry set it aside
	# (the three-strike rule doing its job, not a loss).
	sleep "0.$(( 2 + RANDOM % 4 ))"
done
diag "kill: $kills SIGKILLs in $(( $(date +%s) - start )) s"
wait_for 30 bash -c "[ -z \"\$(find '$V/queue/in' -name '*.msg' -o -name '*.bak')\" ]"
wait_for 10 no_leftovers "$V"
"$HERALD" --var "$V" stop >/dev/null
check "kill: the runner was killed more than once" test "$kills" -gt 1
grep -h 'uncommitted batch given back' "$V"/logs/*/queue | head -3 | sed 's/^/# /'
check "kill: every post reached 'out'" test "$(ids "$V" out | sort -u | wc -l)" -eq "$N"
check "kill: nothing was set aside as a poison message" test "$(count "$V" bad msg)" -eq 0
check "kill: no .tmp or .bak left" no_leftovers "$V"
diag "kill: $(( $(count "$V" out msg) - N )) duplicates in 'out'"
t_done
