#!/usr/bin/env bash
# 4 runner processes move 10,000 messages through two queues (in -> out ->
# done) while a killer SIGKILLs a random runner every few hundred ms and the
# master restarts it.  Every message must arrive at least once; duplicates
# are counted and printed; no .tmp or .bak may remain.
# sanitizer build: skip (SIGKILL timing loops; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
N=${QUEUE_KILL_MESSAGES:-10000}

V=$(new_var v)
chain "$V" 2 2
"$HERALD" --var "$V" site set master.restart_backoff_max 1
"$HERALD" --var "$V" site set master.lease_lifetime 5

check "inject $N messages" "$TOOLS/qtool" inject "$V" in "$N"
check "master starts" "$HERALD" --var "$V" start
MASTER=$(cat "$V"/run/master.*.pid)

kills=0
runner_pids() { pgrep -P "$MASTER"; }
done_count() { ls "$V/queue/done" | grep -c '\.msg$'; }
start=$(date +%s)
while :; do
	drained "$V" && break
	[ $(( $(date +%s) - start )) -gt 300 ] && break
	pids=($(runner_pids))
	if [ "${#pids[@]}" -gt 0 ]; then
		victim=${pids[RANDOM % ${#pids[@]}]}
		kill -9 "$victim" 2>/dev/null && kills=$((kills + 1))
	fi
	sleep "0.$((2 + RANDOM % 4))"
done
diag "sent $kills SIGKILLs in $(( $(date +%s) - start )) s"
check "the master survived the killing of its runners" kill -0 "$MASTER"
check "the killer killed runners more than 10 times" test "$kills" -gt 10
# Let the restarted runners recover what the last kills left behind.
wait_for 60 drained "$V"
check "in and out are empty after recovery" drained "$V"
# The master removes half-written .tmp files of dead writers at its next tick.
wait_for 10 no_leftovers "$V"
"$HERALD" --var "$V" stop >/dev/null

out=$("$TOOLS/qtool" collect "$V" done)
summary=$(echo "$out" | tail -1)
diag "$summary"
echo "$out" | grep '^dup ' | head -20 | sed 's/^/# /'
unique=$(echo "$summary" | awk '{print $2}')
check "all $N messages arrived at least once" test "$unique" -eq "$N"
check "no .tmp or .bak file remains anywhere" no_leftovers "$V"
check "nothing went to bad/" test -z "$(ls "$V/queue/bad" 2>/dev/null)"
grep -q "killed by signal 9" "$V"/logs/*/master
check "the master logged the killed runners" test $? -eq 0
grep -q "recovered after a crash" "$V"/logs/*/queue 2>/dev/null && diag "runners recovered .bak files after kills"
t_done
