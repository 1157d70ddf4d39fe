#!/usr/bin/env bash
# The scheduler on two hosts sharing one var dir (HERALD_HOST=a and b;
# b's clock an hour ahead, through libfaketime: slots come from the file
# server's clock, so the hosts still agree):
#   - held.expire every 2 s: each slot runs exactly once, on one host or
#     the other, with no slot skipped; its effect (two expired held posts,
#     one notice to the owners) happens once;
#   - a host that dies in the middle of a run (master and scheduler
#     SIGKILLed): the task's process dies with them; the other host finds
#     the run's lock expired and marks that slot abandoned, naming the dead
#     host, does not run it again, and runs the next slot;
#   - a master SIGKILLed alone: its scheduler gets SIGTERM, stops the task
#     (recorded as failed: interrupted), releases the lock and exits;
#     nothing of it keeps running.
. "$(dirname "$0")/../lib.sh"
LIFE=3
export NO_FAKE_STAT=1
if [ -z "$FAKELIB" ]; then
	not_ok "libfaketime is not installed (apt-get install faketime)"
	t_done
fi
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@lists.test
H lists create $L --owner admin@example.org >/dev/null
H site set master.lease_lifetime $LIFE
H site set master.restart_backoff_max 1
# The scheduler is each master's only service here (no LMTP server).
H site set lmtp.pipe_socket false
# Only held.expire runs: schedule.debug_sleep below slows every task, and
# one that falls on the same slot (news.gate every 5 minutes) would hold
# the other host's scheduler for 30 s, as a real long task does.
for task in $(H tasks | awk 'NR > 1 { print $1 }'); do
	H site set schedule.$task off
done
check "a schedule for a task that does not exist is refused" bash -c '! "$1" --var "$2" site set schedule.held.expiry "daily 04:00" 2>"$3" && grep -q "no task named" "$3"' _ "$HERALD" "$V" "$T_DIR/err"

# Two posts held two days ago; the list keeps held posts one day.
H site set runner.in.handler incoming
for who in one two; do
	printf 'From: %s@example.com\nTo: %s\nSubject: post %s\nMessage-ID: <%s@example.com>\n\nbody\n' \
		$who $L $who $who | LD_PRELOAD=$FAKELIB FAKETIME=-2d "$HERALD" --var "$V" mta post $L --sender $who@example.com
	LD_PRELOAD=$FAKELIB FAKETIME=-2d "$HERALD" --var "$V" runner in --once >>"$T_DIR/runner.log" 2>&1
done
drop_runner "$V" in
check "two posts are held" test "$(H held list $L | wc -l)" -eq 2
H config set $L max_days_to_hold 1

HERALD_HOST=a H start
check "master a starts" test $? -eq 0
HERALD_HOST=b LD_PRELOAD=$FAKELIB FAKETIME=+1h "$HERALD" --var "$V" start
check "master b starts (its clock an hour ahead)" test $? -eq 0
check "both hosts run the scheduler" wait_for 10 bash -c \
	'grep -q "scheduler started on host a" "$1/logs/a/tasks" && grep -q "scheduler started on host b" "$1/logs/b/tasks"' _ "$V"

# --- exactly once per slot ----------------------------------------------------
H site set schedule.held.expire "every 2s"
sleep 13
H site set schedule.held.expire off
sleep 1
# started SLOT HOST lines of both hosts, by slot.
runs() {
	cat "$V"/logs/[ab]/tasks 2>/dev/null |
		sed -n 's/.* task held\.expire: slot \([0-9]*\) (.*) started on host \([ab]\)$/\1 \2/p' | sort -n
}
runs >"$T_DIR/runs"
diag "runs: $(awk '{print $1 % 1000 "@" $2}' "$T_DIR/runs" | tr '\n' ' ')"
n=$(wc -l <"$T_DIR/runs")
check "held.expire ran every 2 s for 13 s: at least 5 slots ($n)" test "$n" -ge 5
check "no slot ran twice" test -z "$(cut -d' ' -f1 "$T_DIR/runs" | uniq -d)"
check "no slot was skipped" \
	awk 'NR > 1 && $1 != prev + 2 { bad = 1 } { prev = $1 } END { exit bad }' "$T_DIR/runs"
check "every run ended ok" test "$(cat "$V"/logs/[ab]/tasks | grep -c 'task held\.expire: slot .* on host [ab]: ok: ')" -eq "$n"
check "the held posts expired once: one notice to the owner" \
	test "$(grep -l '^Subject: 2 held posts expired on demo@lists.test' "$V"/queue/virgin/*.msg | wc -l)" -eq 1
check "and nothing is held any more" test -z "$(H held list $L)"
diag "host a ran $(grep -c ' a$' "$T_DIR/runs"), host b $(grep -c ' b$' "$T_DIR/runs")"

# --- a host dies in the middle of a run ---------------------------------------
# Every run now takes 30 s (schedule.debug_sleep, a test aid); slots are
# 15 s apart, so the dead run's slot is still the current one when the
# other host finds its lock expired.
H site set schedule.debug_sleep 30
H site set schedule.held.expire "every 15s"
st() { sed -n "s/^$1: //p" "$V/tasks/held.expire"; }
check "a slow run starts" wait_for 25 bash -c '[ "$(sed -n "s/^outcome: //p" "$1")" = running ]' _ "$V/tasks/held.expire"
S=$(st slot) X=$(st host)
[ "$X" = a ] && Y=b || Y=a
H site set schedule.debug_sleep 0
MX=$(cat "$V/run/master.$X.pid")
SX=$(pgrep -P "$MX" | head -1)
TX=$(pgrep -P "$SX" | head -1)
diag "slot $S runs on host $X: master $MX, scheduler $SX, task $TX"
check "the task runs in a child of host $X's scheduler" test -n "$TX"
check "the scheduler is named herald-sched" test "$(cat /proc/$SX/comm 2>/dev/null)" = herald-sched
kill -9 "$MX" "$SX"
check "host $X's task process dies with its scheduler" wait_for 3 bash -c '! kill -0 "$1" 2>/dev/null' _ "$TX"
# A killed process stays a zombie until its new parent reaps it: only
# live ones count, and the reaping may take a moment on a loaded machine.
check "no process of host $X is left" wait_for 5 bash -c '! ps -o stat= -p "$1" | grep -qv "^Z"' _ "$MX,$SX,$TX"
check "host $Y marks slot $S abandoned, naming host $X" wait_for 15 grep -q \
	"task held.expire: the scheduled run of slot $S (.*) on host $X (pid $SX) did not finish" "$V/logs/$Y/tasks"
check "the state says abandoned: slot $S, host $X" \
	bash -c '[ "$(sed -n "s/^outcome: //p" "$1")" = abandoned ] && grep -qx "slot: $2" "$1" && grep -qx "host: $3" "$1"' _ "$V/tasks/held.expire" "$S" "$X"
check "host $Y runs the next slot ($((S + 15)))" wait_for 20 grep -q \
	"task held.expire: slot $((S + 15)) (.*) on host $Y: ok" "$V/logs/$Y/tasks"
check "and never slot $S" bash -c '! grep -q "task held.expire: slot $1 (.*) started on host $2" "$3"' _ "$S" "$Y" "$V/logs/$Y/tasks"
check "the state says slot $((S + 15)) ran on $Y" \
	bash -c 'grep -qx "slot: $2" "$1" && grep -qx "host: $3" "$1" && grep -qx "outcome: ok" "$1"' _ "$V/tasks/held.expire" $((S + 15)) "$Y"

# --- a master SIGKILLed alone -------------------------------------------------
H site set schedule.debug_sleep 30
check "another slow run starts, on $Y" wait_for 25 bash -c \
	'[ "$(sed -n "s/^outcome: //p" "$1")" = running ] && grep -qx "host: $2" "$1"' _ "$V/tasks/held.expire" "$Y"
H site set schedule.debug_sleep 0
MY=$(cat "$V/run/master.$Y.pid")
SY=$(pgrep -P "$MY" | head -1)
TY=$(pgrep -P "$SY" | head -1)
kill -9 "$MY"
check "its scheduler and the task stop (SIGTERM at the master's death)" \
	wait_for 10 bash -c '[ -z "$(ps -o pid= -p "$1,$2")" ]' _ "$SY" "$TY"
check "the run is recorded as interrupted" \
	grep -qx "outcome: failed: interrupted (SIGTERM) before it finished" "$V/tasks/held.expire"
check "and the lock released" bash -c 'ls "$1"/locks/task-held.expire/ | grep -q "\.free$"' _ "$V"
check "the scheduler logged that it stopped" grep -q "scheduler stopped" "$V/logs/$Y/tasks"
H tasks | sed 's/^/# /'
t_done
