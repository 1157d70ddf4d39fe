# Test 4 (hostA alone): what one post to a 100-member list costs the NFS
# server.  The var dir on the export holds the list; the MTA's entry
# (`herald mta auto`), the incoming runner (the posting pipeline) and the
# outgoing runner (delivery to smtp-sink on the host, 10.0.2.2) run one
# after the other, each as its own process with --once, and the mount's
# per-operation counters (/proc/self/mountstats) are read between them.
# run.sh prints the differences per hop and operation.
. "$(dirname "$0")/lib.sh"
V=$MNT/t4/var
export HERALD_HOST=$HN

# The NFS mount's per-op counts, "OP=N OP=N ..." (the first number of each
# line of its "per-op statistics": operations sent to the server).
ops() {
	awk '/^device .* with fstype nfs4/ { f = 1; next }
	     /^device / { f = 0 }
	     f && /per-op statistics/ { p = 1; next }
	     f && p && $1 ~ /^[A-Z_0-9]+:$/ { sub(":", "", $1); if ($2 > 0) printf "%s=%s ", $1, $2 }' \
		/proc/self/mountstats
	echo
}
hop() {
	local name=$1; shift
	local t0
	t0=$(ms)
	"$@" >"$GT/$name.out" 2>&1
	res "hop $name rc=$? ms=$(($(ms) - t0))"
	res "ops-after-$name $(ops)"
	show "$name" "$GT/$name.out" | tail -5
}
for round in 1 2; do
	res "ops-before-$round $(ops)"
	printf 'From: m001@members.test\nTo: ops@lists.test\nSubject: ops %s\nMessage-ID: <ops-%s@members.test>\n\nA post to count the NFS operations of.\n' \
		"$round" "$round" >"$GT/post"
	hop "entry-$round" sh -c "\"$HERALD\" --var \"$V\" mta auto --sender m001@members.test --recipient ops@lists.test <\"$GT/post\""
	hop "incoming-$round" "$HERALD" --var "$V" runner in --once
	hop "outgoing-$round" "$HERALD" --var "$V" runner out --once
done
# The same post through a running master (long-lived runners, as in
# production): the operations of an idle master over 20 s first, then of
# the 10 s in which the third post goes through; run.sh subtracts.
"$HERALD" --var "$V" start >"$GT/start.out" 2>&1 || show start "$GT/start.out"
sleep 5
res "ops-before-idle $(ops)"
sleep 20
res "ops-after-idle $(ops)"
sed -e 's/ops 2/ops 3/; s/ops-2@/ops-3@/' "$GT/post" >"$GT/post3"
res "ops-before-master $(ops)"
"$HERALD" --var "$V" mta auto --sender m001@members.test --recipient ops@lists.test <"$GT/post3"
sleep 10
res "ops-after-master $(ops)"
"$HERALD" --var "$V" stop >/dev/null 2>&1
# herald check on the NFS var dir: the file system, its mount options, the
# clock offset to the server (its problems, a stopped master among them,
# do not matter here).
"$HERALD" --var "$V" check --postfix-config /nonexistent >"$GT/check.out" 2>&1
show check "$GT/check.out"
