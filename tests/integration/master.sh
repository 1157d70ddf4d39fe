#!/usr/bin/env bash
# The master: start, status, prompt pick-up (inotify), restart of crashed
# runners with a growing backoff, a lost lease kills its runner, SIGHUP
# reopens the logs, runners die with the master, stop drains.
# sanitizer build: skip (process orchestration and races between hosts; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H=$(hostname | cut -d. -f1 | tr -c 'A-Za-z0-9\n-' -)
"$HERALD" --var "$V" site set runner.in.handler forward
"$HERALD" --var "$V" site set runner.in.next out
"$HERALD" --var "$V" site set runner.out.handler sink
"$HERALD" --var "$V" site set master.lease_lifetime 3
"$HERALD" --var "$V" site set master.poll_interval 60000
# The master's children are its runners here: no scheduler service
# (tests/integration/scheduler.sh is about that one), no LMTP server
# (lmtp.sh, mta-program.sh).
"$HERALD" --var "$V" site set schedule.enabled false
"$HERALD" --var "$V" site set lmtp.pipe_socket false
LOG=$V/logs/$H

check "start daemonizes and returns 0" "$HERALD" --var "$V" start
MP=$(cat "$V/run/master.$H.pid")
check "the pid file names a live master" kill -0 "$MP"
wait_for 5 bash -c "[ \$(pgrep -P $MP | wc -l) -eq 2 ]"
check "one runner process per slice (in, out)" test "$(pgrep -P "$MP" | wc -l)" -eq 2
st=$("$HERALD" --var "$V" status)
echo "$st" | sed 's/^/# /'
check "status shows the running master" bash -c "echo \"\$1\" | grep -q 'master on $H: running, pid $MP'" _ "$st"
check "status shows both slice leases held by this master" test "$(echo "$st" | grep -c "held by $H\.$MP\.")" -eq 3
for k in $(pgrep -P "$MP"); do
	echo "$st" | grep -Eq "^  (in|out) 0/1 $k\$" || not_ok "status does not list runner $k"
done
check "status lists the runner processes with their slices" bash -c "echo \"\$1\" | grep -q '^runner processes on $H:'" _ "$st"

# inotify: with a 60 s poll interval a new message still moves at once.
printf 'Subject: a\n\nb\n' | "$HERALD" --var "$V" queue inject in >/dev/null
t0=$(date +%s%N)
wait_for 5 bash -c "[ -z \"\$(ls '$V/queue/in' '$V/queue/out' | grep msg)\" ]"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "an idle runner is woken by inotify, not the 60 s poll ($ms ms)" test "$ms" -lt 2000

# Crashed runners come back, after 1, 2, 4 s.
in_runner() { grep 'runner in slice 0/1 started as pid' "$LOG/master" | tail -1 | awk '{print $NF}'; }
for i in 1 2 3; do
	victim=$(in_runner)
	kill -9 "$victim"
	wait_for 10 bash -c "[ \"\$(grep 'runner in slice 0/1 started as pid' '$LOG/master' | tail -1 | awk '{print \$NF}')\" != $victim ]"
done
check "a SIGKILLed runner is restarted (3 times)" test "$(grep -c 'started as pid' "$LOG/master")" -ge 5
grep 'killed by signal 9' "$LOG/master" | sed 's/^/# /'
check "the restart backoff grows: 1 s, 2 s, 4 s" bash -c "grep 'runner in slice' '$LOG/master' | grep -o 'restart in [0-9]* s' | tr '\n' ' ' | grep -q 'restart in 1 s restart in 2 s restart in 4 s'"

# SIGHUP reopens the log files (logrotate moved them).
mv "$LOG/master" "$LOG/master.1"
kill -HUP "$MP"
wait_for 5 test -f "$LOG/master"
check "after SIGHUP the master writes to a new log file" grep -q "logs reopened" "$LOG/master"

# A lease taken away (as by another host) kills its runner at once.
lease=$V/leases/slice-out-0-of-1
claim=$(ls "$lease" | grep '\.claim$')
mv "$lease/$claim" "$lease/otherhost.1.000000000000.claim"
wait_for 5 grep -q "lease slice-out-0-of-1 lost" "$LOG/master"
check "a lease lost to another holder is noticed at the next renewal" test $? -eq 0
check "its runner is killed (only the 'in' runner is left)" wait_for 3 bash -c "[ \$(pgrep -P $MP | wc -l) -eq 1 ]"
wait_for 10 bash -c "grep -q 'took lease slice-out-0-of-1' '$LOG/master' && [ \$(pgrep -P $MP | wc -l) -eq 2 ]"
check "once that lease expires the master takes it back and restarts the runner" test $? -eq 0

# stop drains and frees the leases.
check "stop returns 0" "$HERALD" --var "$V" stop
check "the master is gone" bash -c "! kill -0 $MP 2>/dev/null"
check "its 3 leases (host, in, out) are free" test "$("$HERALD" --var "$V" status | grep -c ' free ')" -eq 3
check "the pid file is removed" test ! -e "$V/run/master.$H.pid"

# Runners die with their master (no runner outlives the lease renewer).
"$HERALD" --var "$V" start
MP=$(cat "$V/run/master.$H.pid")
wait_for 5 bash -c "[ \$(pgrep -P $MP | wc -l) -eq 2 ]"
kids=$(pgrep -P "$MP")
kill -9 "$MP"
wait_for 3 bash -c "! kill -0 $(echo $kids | tr ' ' ',' | sed 's/,/ 2>\/dev\/null \&\& ! kill -0 /g') 2>/dev/null"
alive=0; for k in $kids; do kill -0 "$k" 2>/dev/null && alive=$((alive + 1)); done
check "SIGKILL of the master takes its runners with it" test "$alive" -eq 0
check "a new master on the same host starts at once (dead predecessor's leases)" "$HERALD" --var "$V" start
"$HERALD" --var "$V" stop >/dev/null
t_done
