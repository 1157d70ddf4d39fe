#!/usr/bin/env bash
# The archive under crashes and concurrency: the archive runner is killed
# (SIGKILL) at random while 1,000 posts are archived, and afterwards every
# post is in the mbox exactly once, has its page, and `archive check`
# finds nothing to repair; then two runners (two slices, as two hosts
# would run them) archive posts of one list at once: no post lost or
# doubled, every number used once.
# sanitizer build: skip (SIGKILL timing loops; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=crash@example.org
N=${ARCHIVE_CRASH_POSTS:-1000}
"$HERALD" --var "$V" lists create $L --owner admin@example.org >/dev/null
"$HERALD" --var "$V" site set runner.archive.handler archive

inject() {	# inject FIRST LAST: posts FIRST..LAST into the archive queue
	for i in $(seq "$1" "$2"); do
		printf 'From: poster%d@example.org\nSubject: post %d\nMessage-ID: <p%d@example.org>\nDate: Sun, 6 Dec 2026 10:00:00 +0000\n\nbody of post %d\nFrom the start.\n' \
			"$i" "$i" "$i" "$i" | "$HERALD" --var "$V" queue inject archive --list $L >/dev/null || return 1
	done
}
queue_empty() { [ -z "$(find "$V/queue/archive" -name '*.msg' -o -name '*.bak')" ]; }
# Each post N exactly once in the mbox.
once_each() {
	local first=$1 last=$2
	local got
	got=$(grep -a '^Subject: post ' "$V/archives/$L/mbox" | sort | uniq -c | awk '$1 != 1' | wc -l)
	[ "$got" = 0 ] || { diag "$got posts more than once"; return 1; }
	got=$(grep -a '^Subject: post ' "$V/archives/$L/mbox" | sort -u | wc -l)
	[ "$got" = "$last" ] || { diag "$got distinct posts of $last"; return 1; }
}

inject 1 "$N"
check "$N posts queued" test "$(find "$V/queue/archive" -name '*.msg' | wc -l)" = "$N"
kills=0
while ! queue_empty && [ $kills -lt 200 ]; do
	"$HERALD" --var "$V" runner archive >/dev/null 2>&1 &
	pid=$!
	sleep "0.$((RANDOM % 4 + 1))"
	kill -9 $pid 2>/dev/null && kills=$((kills + 1))
	wait $pid 2>/dev/null
done
diag "runner killed $kills times"
"$HERALD" --var "$V" runner archive --once >/dev/null 2>&1
check "the queue is empty after the crashes" queue_empty
check "every post is in the mbox exactly once" once_each 1 "$N"
check "the archive counts $N messages" test "$(grep '^next ' "$V/archives/$L/state")" = "next $N"
pages=$(find "$V/archives/public/$L" -name '[0-9]*.html' | wc -l)
check "every post has its page ($pages)" test "$pages" = "$N"
check "archive check finds no difference" "$HERALD" --var "$V" archive check $L
n=$("$HERALD" --var "$V" archive search --limit 5000 $L body | wc -l)
check "search finds each post once ($n)" test "$n" = "$N"

# Two runners at once on one list (slices 0/2 and 1/2, as two hosts).
M=$((N + 200))
inject $((N + 1)) $M
"$HERALD" --var "$V" runner archive --slice 0/2 >/dev/null 2>&1 &
p1=$!
"$HERALD" --var "$V" runner archive --slice 1/2 >/dev/null 2>&1 &
p2=$!
check "two runners drain the queue" wait_for 120 queue_empty
kill $p1 $p2 2>/dev/null
wait $p1 $p2 2>/dev/null
check "after two runners every post is in the mbox exactly once" once_each 1 $M
check "every number is used once" test "$(find "$V/archives/public/$L" -name '[0-9]*.html' | sed 's,.*/,,' | sort | uniq -d | wc -l)" = 0
check "the archive counts $M messages" test "$(grep '^next ' "$V/archives/$L/state")" = "next $M"
check "archive check finds no difference after two runners" "$HERALD" --var "$V" archive check $L
t_done
