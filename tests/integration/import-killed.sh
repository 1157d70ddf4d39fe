#!/usr/bin/env bash
# `herald import mailman2` killed (SIGKILL) at each point that matters,
# then run again (issue 17: a rerun after a kill under load sometimes made
# no list at all):
#   - the archive's rendering worker dies with the import: left running, it
#     wrote on into the staging dir that the rerun removes and builds anew;
#   - killed at each step of the commit (marker written, archive store
#     moved, its pages moved, the list's folder moved, the marker removed):
#     no half list is visible, and the rerun leaves the whole list exactly
#     once, with its archive, and no staging dir, marker or leftover;
#   - a running import (stopped, not dead) is never stolen from: a second
#     run refuses and leaves its staging dir alone, and it then completes;
#   - a staging dir whose owner is a zombie, or a pid now used by another
#     process, is taken as a killed run's.
# sanitizer build: skip (kills at each commit step, about 100 s under the sanitizer; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
MM=$T_DIR/mailman
LIST=team@lists.test
export HERALD_HOST=importhost
# Enough posts for the rendering to take a while (in several periods,
# shared among workers); fewer for the other parts.
mailman() {
	python3 "$HERALD_TOP/tests/tools/mailman2-vardir.py" "$MM" --list team \
		--host lists.test --members 24 --passwords 2 --messages "$1" >/dev/null
	MSGS=$1
}
mailman 300

# rerun_whole V WHAT: a rerun of the import into V succeeds and leaves the
# whole list once, its archive, and nothing of the killed run.
rerun_whole() {
	local v=$1 what=$2
	"$HERALD" --var "$v" import mailman2 "$MM" >"$v.report" 2>&1
	check "$what: the rerun succeeds" test $? -eq 0 || sed 's/^/# /' "$v.report" | tail -5
	check "$what: the list is there once" test "$("$HERALD" --var "$v" lists)" = "$LIST"
	check "$what: with all its members" test "$("$HERALD" --var "$v" members list $LIST | wc -l)" = 24
	check "$what: its archive is whole" bash -c "'$HERALD' --var '$v' archive check $LIST >/dev/null &&
		test \$(find '$v/archives/private/$LIST' -name '[0-9]*.html' | wc -l) -eq $MSGS"
	check "$what: no staging dir, marker or leftover" \
		test -z "$(ls "$v/import" | grep -E '^(stage|old|new)-')" -a ! -e "$v/archives/$LIST/import-incomplete"
}

# --- the rendering worker dies with the import ------------------------------
V=$(new_var worker)
worker=
for try in 1 2 3; do
	"$HERALD" --var "$V" import mailman2 "$MM" >/dev/null 2>&1 &
	pid=$!
	# Stopped (state T: caught alive, not as it ended), the worker would
	# outlive the import for ever.
	while kill -0 $pid 2>/dev/null && [ -z "$worker" ]; do
		worker=$(ps -o pid= --ppid $pid | tr -d ' ' | head -1)
		[ -n "$worker" ] || continue
		kill -STOP "$worker" 2>/dev/null
		ps -o stat= -p "$worker" | grep -q '^T' || worker=
	done
	if [ -n "$worker" ]; then
		kill -9 $pid
		wait $pid 2>/dev/null
		break
	fi
	wait $pid
	rm -rf "$V" && V=$(new_var worker)
done
if [ -z "$worker" ]; then
	skip "no rendering worker was seen (one core, or the import was too quick)"
else
	# Dead: gone, or a zombie that its new parent has not reaped yet.
	alive() { ps -o stat= -p "$1" | grep -qv '^Z'; }
	gone() { ! alive "$1"; }
	check "killed, the import's rendering worker dies with it" wait_for 5 gone "$worker"
	alive "$worker" && kill -9 "$worker"
	check "no list after the kill" test -z "$("$HERALD" --var "$V" lists)"
	rerun_whole "$V" "after a kill while rendering"
fi

# --- a running import is never stolen from ----------------------------------
# Caught stopped while its staging archive is there: watched without a
# pause (a quick import stages and commits within one 0.1 s poll), and
# tried again when the import was done before it was seen.
V=$(new_var running)
staged() { [ -d "$V/import/stage-$LIST/archives/$LIST" ]; }
caught=
for try in 1 2 3 4 5; do
	"$HERALD" --var "$V" import mailman2 "$MM" >"$T_DIR/first" 2>&1 &
	pid=$!
	while kill -0 $pid 2>/dev/null && ! staged; do :; done
	kill -STOP $pid 2>/dev/null
	if staged; then
		caught=1
		break
	fi
	kill -CONT $pid 2>/dev/null
	wait $pid
	rm -rf "$V" && V=$(new_var running)
done
if [ -n "$caught" ]; then
	"$HERALD" --var "$V" import mailman2 "$MM" >"$T_DIR/second" 2>&1
	check "a second run while one runs fails" test $? -ne 0
	check "saying that an import runs" grep -q "an import of this list runs (process $pid" "$T_DIR/second"
	check "and leaves its staging dir alone" test -d "$V/import/stage-$LIST/archives/$LIST"
	kill -CONT $pid
	wait $pid
	check "the running import then completes" test $? -eq 0
	check "the list is there" test "$("$HERALD" --var "$V" lists)" = "$LIST"
else
	not_ok "the import never reached its staging archive"
	wait $pid
	sed 's/^/# /' "$T_DIR/first" | tail -5
fi

# --- killed at each step of the commit ----------------------------------------
rm -rf "$MM" && mailman 40
# STEP FAULT PATH-FILTER VISIBLE: the import is killed just after the call
# on a path ending in PATH-FILTER; VISIBLE: whether the list then exists.
while read -r step fault path visible; do
	V=$(new_var "commit-$step")
	filter=${path//@V@/$V}
	(NFSFAULT="$fault=1" NFSFAULT_PATH="$filter\$" LD_PRELOAD=$SHIM \
		"$HERALD" --var "$V" import mailman2 "$MM" >/dev/null 2>&1
	 exit $?) 2>/dev/null
	check "$step: the import was killed there" test $? -eq 137
	if [ "$visible" = no ]; then
		check "$step: no list is visible" test -z "$("$HERALD" --var "$V" lists)"
	else
		check "$step: the list is visible, whole" \
			test "$("$HERALD" --var "$V" members list $LIST | wc -l)" = 24
	fi
	rerun_whole "$V" "$step"
done <<'EOF'
marker-written rename_kill /import-incomplete no
store-moved rename_kill @V@/archives/team@lists.test no
pages-moved rename_kill @V@/archives/private/team@lists.test no
list-moved rename_kill @V@/lists/team@lists.test yes
marker-removed unlink_kill @V@/archives/team@lists.test/import-incomplete yes
EOF

# --- owners that are gone ---------------------------------------------------
# A zombie: a child that exited and that its parent (sleep) never reaps.
sh -c 'sleep 0 & echo $! >"$1"; exec sleep 60' sh "$T_DIR/zombie" >/dev/null 2>&1 &
zparent=$!
wait_for 5 test -s "$T_DIR/zombie"
zombie=$(cat "$T_DIR/zombie")
is_zombie() { ps -o stat= -p "$zombie" | grep -q '^Z'; }
check "(the zombie is one)" wait_for 5 is_zombie
while read -r what owner; do
	V=$(new_var "owner-$what")
	mkdir -p "$V/import/stage-$LIST/lists"
	echo "$owner" >"$V/import/stage-$LIST/import-owner"
	"$HERALD" --var "$V" import mailman2 "$MM" >"$V.report" 2>&1
	check "a staging dir owned by $what is a killed run's: the import succeeds" test $? -eq 0
	check "and makes the list" test "$("$HERALD" --var "$V" lists)" = "$LIST"
done <<EOF
a-zombie importhost $zombie
a-reused-pid importhost $$ 1
EOF
kill $zparent
t_done
