# Test 3 (run in each guest): a herald master per guest on one var dir on
# the export, with the runners `herald init` configures (the posting
# pipeline, delivery to smtp-sink on the host, ...) and the list
# ops@lists.test of T3_MEMBERS members.  hostB watches `herald status`
# until the slices are split; both post through the MTA's entry (`herald
# mta auto`); hostA's runners are stopped while it posts its share, let go
# for T3_KILL_DELAY s (in the middle of the fan-out: delivery goes in
# batches of delivery.max_recipients), then hostA SIGKILLs its master and
# runners and powers its guest off at once (sysrq o: no sync, no
# unmount).  hostB measures how long until it holds every slice, waits
# until the queues are drained, and stops its master.  run.sh counts what
# smtp-sink received.
. "$(dirname "$0")/lib.sh"
V=$MNT/t3/var
export HERALD_HOST=$HN

# slices_held: "<held by hostA> <held by hostB> <total slices>"
slices_held() {
	"$HERALD" --var "$V" status 2>&1 | tee "$GT/status.out" |
		awk '$1 ~ /^slice-/ { t++ } $1 ~ /^slice-/ && $2 == "held" { split($4, c, "."); n[c[1]]++ }
		     END { printf "%d %d %d\n", n["hostA"], n["hostB"], t }'
}

# post_all WHO N: N posts from a member through the MTA's entry.
post_all() {
	local who=$1 n=$2 i bad=0 ids=""
	for i in $(seq -w 1 "$n"); do
		printf 'From: m001@members.test\nTo: ops@lists.test\nSubject: t3 %s-%s\nMessage-ID: <%s-%s.%s@herald-nfs-test>\n\nnfs-test-body %s-%s\n' \
			"$who" "$i" "$who" "$i" "$$" "$who" "$i" |
			"$HERALD" --var "$V" mta auto --sender m001@members.test \
				--recipient ops@lists.test >/dev/null 2>>"$GT/post.err" ||
			{ bad=$((bad + 1)); ids="$ids,$who-$i"; }
	done
	res "posted $who n=$n failed=$bad failed_ids=${ids#,}"
}

post ready
wait_peer ready 90 || exit 1
# hostA's master starts first; hostB's once hostA's holds both slices of
# "out", so that hostA delivers: a master takes slices from its host
# name's place in the list on and gives back from the other end
# (src/herald/master.c, balance()), and with this configuration the out
# slices come second and third from hostA's place (run.sh checks that
# hostA's delivery runner was killed in the middle of a fan-out).
[ "$HN" = hostB ] && { wait_peer alone 90 || exit 1; }
"$HERALD" --var "$V" start --foreground >"$GT/master.out" 2>&1 &
MP=$!
t0=$(ms)
note "master started as pid $MP"
if [ "$HN" = hostA ]; then
	while :; do
		outs=$("$HERALD" --var "$V" status 2>&1 |
			awk '$1 ~ /^slice-out-/ && $2 == "held" && $4 ~ /^hostA\./ { n++ } END { print n + 0 }')
		[ "$outs" -ge 2 ] && break
		[ $(($(ms) - t0)) -gt 60000 ] && break
		sleep 0.3
	done
	res "alone out_slices_held=$outs after_ms=$(($(ms) - t0))"
	post alone
fi

if [ "$HN" = hostB ]; then
	# Wait for the split: half each (one more on one side when the count
	# is odd) is the balance; accept any split after 60 s.
	while :; do
		set -- $(slices_held)
		a=$1 b=$2 t=$3
		[ "$t" -gt 0 ] && [ $((a + b)) -eq "$t" ] &&
			[ $((a - b)) -le 1 ] && [ $((b - a)) -le 1 ] && break
		[ $(($(ms) - t0)) -gt 60000 ] && break
		sleep 0.5
	done
	res "split hostA=$a hostB=$b slices=$t after_ms=$(($(ms) - t0))"
	show status "$GT/status.out"
	post split
	post_all B "$T3_NB" &
	IP=$!
	wait_peer kill 300 || exit 1
	tk=$(peer_val kill)
	# Every slice held by hostB (as `herald status` shows it; run.sh takes
	# the exact takeover times from hostB's master log).
	while :; do
		set -- $(slices_held)
		now=$(server_now "$V")
		[ "$2" -eq "$3" ] && break
		if [ $(((now - tk) / 1000)) -gt 60000 ]; then
			res "failover TIMEOUT: hostA=$1 hostB=$2 of $3 after 60 s"
			show status "$GT/status.out"
			break
		fi
		sleep 0.2
	done
	res "failover all_ms=$(((now - tk) / 1000)) held_by_B=$2 of=$3 kill_server_us=$tk"
	res "clock server_us,local_us=$("$LOCKTOOL" now "$V" | tr ' ' ,)"
	show status "$GT/status.out"
	wait $IP
	# Drained: nothing ready or claimed in "in", "out" and "retry".
	t1=$(ms)
	while :; do
		"$HERALD" --var "$V" queue >"$GT/queue.out" 2>&1
		busy=$(awk '$1 == "in" || $1 == "out" || $1 == "retry" { s += $2 + $3 } END { print s + 0 }' "$GT/queue.out")
		[ "$busy" -eq 0 ] && break
		[ $(($(ms) - t1)) -gt 180000 ] && break
		sleep 1
	done
	res "drain busy=$busy after_ms=$(($(ms) - t1))"
	show queue "$GT/queue.out"
	# hostA's runners may have died with files half-written (.tmp; a
	# runner's batch keeps them until its group commit): the survivor's
	# master removes a dead host's .tmp files once they are older than
	# twice the lease lifetime (5 s here), at its next tick.  Let it
	# (20 s at most: run.sh's check finds what is left).
	t1=$(ms)
	while [ -n "$(find "$V/queue" -name '*hostA*.tmp' 2>/dev/null | head -1)" ] &&
		[ $(($(ms) - t1)) -lt 20000 ]; do
		sleep 1
	done
	res "tmp_cleanup after_ms=$(($(ms) - t1))"
	"$HERALD" --var "$V" stop >"$GT/stop.out" 2>&1
	res "stop rc=$? $(tr '\n' ' ' <"$GT/stop.out")"
	wait $MP
	res "master rc=$?"
	show "post stderr" "$GT/post.err" 2>/dev/null
	post finished
else
	wait_peer split 120 || exit 1
	kids=""
	for p in /proc/[0-9]*; do
		[ "$(awk '{ print $4 }' "$p/stat" 2>/dev/null)" = "$MP" ] && kids="$kids ${p#/proc/}"
	done
	# A backlog, so that the kill finds the runners in the middle of
	# the fan-out: the runners are stopped (the master keeps renewing
	# their leases) while hostA posts, then let go for T3_KILL_DELAY s.
	kill -STOP $kids
	post_all A "$T3_NA"
	show "post stderr" "$GT/post.err" 2>/dev/null
	"$HERALD" --var "$V" queue >"$GT/queue.out" 2>&1
	show "queue before kill" "$GT/queue.out"
	kill -CONT $kids
	sleep "$T3_KILL_DELAY"
	# Then kill while this host's delivery runner is in the middle of a
	# fan-out: it holds an entry's progress record open (queue/out/
	# <entry>.progress, a line "B START COUNT" for each batch sent), in
	# which some of the post's batches are, not all; or after 10 s more
	# at the latest.  The record is read with the shell's builtins only:
	# a process start costs 50-150 ms under TCG, longer than the rest of
	# a fan-out.
	batches=$(((T3_MEMBERS + T3_BATCH - 1) / T3_BATCH))
	t1=$(ms)
	fanout=""
	while [ -z "$fanout" ] && [ $(($(ms) - t1)) -lt 10000 ]; do
		for f in $(find $(for k in $kids; do echo "/proc/$k/fd"; done) -lname '*/queue/out/*.progress' 2>/dev/null); do
			while [ -z "$fanout" ]; do
				n=0
				while read -r l; do
					[[ $l == "B "* ]] && n=$((n + 1))
				done <"$f" 2>/dev/null || break
				[ "$n" -ge "$batches" ] && break
				if [ "$n" -ge 1 ]; then
					kill -9 $kids "$MP"
					fanout="$n/$batches"
				fi
			done
			[ -n "$fanout" ] && break
		done
	done
	kill -9 $kids "$MP" 2>/dev/null
	tk=$(server_now "$V")
	post "kill $tk"
	res "killed master=$MP runners=[$kids] at_server_us=$tk mid_fanout=${fanout:-none} waited_ms=$(($(ms) - t1))"
	# Power off now: no sync, no NFS unmount, no clean-up of any kind.
	echo o >/proc/sysrq-trigger
	sleep 30
fi
