#!/usr/bin/env bash
# A runner's memory is flat over many jobs (issue 10, item 10).  Twenty
# posts, one at a time, to a list of 20,000 members, delivered by one
# long-running `herald runner out` to smtpfault on loopback; after each
# delivery, once the runner is idle again, its resident size (VmRSS):
#   - after job 20 it is within 512 KB of what it was after job 3 (it grew
#     by about 1.3 MB over those jobs before the fix, and went on growing:
#     28 to 49 MB over fifteen posts to 100,000 members);
#   - after job 20 it is within 4 MB of the idle runner's before its first
#     job (9 MB more before the fix: glibc kept what each job freed).
# The fix (src/herald/handlers.c, src/lib/deliver/deliver.c): the runner
# gives freed memory back at its tick once messages were handled, and the
# delivery workers drop accepted recipients' reply texts in the thread
# that made them.  Under ASan the allocator is ASan's (quarantine, no
# malloc_trim): the sizes are logged, not judged.
# sanitizer build: skip (measures memory, which ASan changes; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
MEMBERS=20000
JOBS=20
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=big@example.org
H lists create $L --owner admin@example.org >/dev/null
python3 -c "
for i in range($MEMBERS): print('user%05d@d%d.example' % (i, i % 50))" | H members add $L >/dev/null
H config set $L generic_nonmember_action 0 >/dev/null
H config set $L require_explicit_destination no >/dev/null
H site set master.poll_interval 100
H site set runner.in.handler incoming
H site set runner.out.handler outgoing

"$TOOLS/smtpfault" --port 0 --die-with-parent >"$T_DIR/sf.out" 2>"$T_DIR/sf.err" &
SF=$!
wait_for 10 grep -qs '^port ' "$T_DIR/sf.out"
H site set mta.smtp_port "$(awk '/^port /{print $2}' "$T_DIR/sf.out")"
"$HERALD" --var "$V" runner in >"$T_DIR/in.log" 2>&1 &
IN=$!
"$HERALD" --var "$V" runner out >"$T_DIR/out.log" 2>&1 &
OUT=$!
rss() { awk '/^VmRSS:/{print $2}' "/proc/$OUT/status"; }
delivered() { cat "$V"/logs/*/deliver 2>/dev/null | grep -c "to $MEMBERS recipients: $MEMBERS accepted"; }
delivered_at_least() { [ "$(delivered)" -ge "$1" ]; }
wait_for 10 grep -q 'runner out slice 0/1 started' "$T_DIR/out.log"
sleep 1.5
rss0=$(rss)
declare -a after
ok=1
for i in $(seq $JOBS); do
	printf 'From: alice@example.org\nTo: %s\nSubject: post %d\nMessage-ID: <p%d@example.org>\n\nbody %d\n' $L $i $i $i |
		H mta post $L || ok=0
	wait_for 60 delivered_at_least "$i" || { ok=0; break; }
	# The runner gives memory back at its next tick (at most a second
	# after the job, master.poll_interval 100 ms).
	sleep 1.5
	after[$i]=$(rss)
done
check "all $JOBS posts delivered to all $MEMBERS members" test $ok = 1 -a "$(delivered)" -eq $JOBS
[ $ok = 1 ] || { sed 's/^/# /' "$T_DIR/out.log" | tail -5; t_done; }
diag "out runner VmRSS (KB): idle before the first job $rss0; after each job ${after[*]}"
if grep -qa __asan_init "$HERALD"; then
	skip "RSS bounds under ASan (its allocator keeps freed memory in quarantine)"
	skip "RSS bounds under ASan"
else
	check "RSS after job $JOBS (${after[$JOBS]} KB) within 512 KB of after job 3 (${after[3]} KB)" \
		test $((after[JOBS] - after[3])) -le 512
	check "RSS after job $JOBS (${after[$JOBS]} KB) within 4 MB of the idle runner's ($rss0 KB)" \
		test $((after[JOBS] - rss0)) -le 4096
fi
kill "$IN" "$OUT" "$SF" 2>/dev/null
wait 2>/dev/null
t_done
