#!/usr/bin/env bash
# Digests with the real programs (the pipeline, the digest runner, `herald
# digests`, the task digest.send), the out queue read back with an
# independent reader (tests/tools/digestcheck.py, Python's email package):
#   - the size trigger: a post that takes the pending digest past
#     digest_size_threshhold sends it at once, one MIME and one plain
#     rendition, to the digest members of each mode and never to regular
#     members; `digests status` shows what is pending and the next issue;
#     `digests send` sends what is pending now;
#   - a member switching from digest to regular gets the pending digest
#     (Mailman 2.1's one last digest); nondigestable/digestable refuse
#     the mode a list does not offer;
#   - digest.send sends only for lists with digest_send_periodic;
#   - volumes and issues across digest_volume_frequency boundaries with a
#     faked clock (libfaketime): a new day starts volume 2 at issue 1;
#     `digests new-volume` starts one by hand, and no second that day;
#   - SIGKILL: the digest runner killed again and again while it appends
#     and sends, and `digests send` killed mid-send: every post is in
#     exactly one digest.
. "$(dirname "$0")/../lib.sh"
export HERALD_HOST=t NO_FAKE_STAT=1
CHECK=$HERALD_TOP/tests/tools/digestcheck.py
V=$(new_var v)
pipeline_runners "$V"
"$HERALD" --var "$V" site set runner.digest.handler digest
H() { "$HERALD" --var "$V" "$@"; }
L=dev@lists.test
H lists create $L --owner admin@example.org >/dev/null
H config set $L real_name Dev >/dev/null
printf 'mime@example.com\nplain@example.com\nregular@example.com\n' | H members add $L >/dev/null
H members set $L mime@example.com mode mime
H members set $L plain@example.com mode plain
H config set $L digest_size_threshhold 2 >/dev/null

# post N [OFFSET]: regular@ posts message N (about 600 bytes), and the
# pipeline and the digest runner each take one pass.
post() {
	local off=${2:-+0}
	{ printf 'From: regular@example.com\nTo: %s\nSubject: post %s\nMessage-ID: <p%s@example.com>\n\n' $L "$1" "$1"
	  for i in $(seq 10); do echo "line $i of post $1, long enough to make the post six hundred bytes"; done
	} | at "$off" "$HERALD" --var "$V" mta post $L --sender regular@example.com &&
	at "$off" "$HERALD" --var "$V" runner in --once >>"$T_DIR/runner.log" 2>&1 &&
	at "$off" "$HERALD" --var "$V" runner digest --once >>"$T_DIR/runner.log" 2>&1
}
# digests KIND: the out queue's digest entries of that kind (mime, plain).
digests() { grep -l "^kind: digest-$1\$" "$V"/queue/out/*.msg 2>/dev/null; }
# posts KIND: the Message-IDs in all digests of that kind, one a line.
posts() { local f; for f in $(digests "$1"); do python3 "$CHECK" "$1" "$f" || echo BAD; done | cut -d' ' -f1; }
rcpts() { grep -h '^rcpt: ' $(digests "$1") 2>/dev/null | sort | tr '\n' ' '; }
subjects() { local f; for f in $(digests "$1"); do grep -m1 '^Subject: ' "$f"; done | sort; }
# clear_out: forget the out queue (no delivery runner here).
clear_out() { rm -f "$V"/queue/out/*.msg; }

post 1
check "one post pending (status: $(H digests status $L))" bash -c "H() { \"$HERALD\" --var \"$V\" \"\$@\"; }; H digests status $L | grep -q '1 post pending, [0-9]* bytes .*next: vol 1, issue 1; last sent -'"
check "no digest yet" test -z "$(digests mime)$(digests plain)"
check "the post went to the regular member" bash -c "grep -l '^kind: post' '$V'/queue/out/*.msg | xargs grep -q '^rcpt: regular@example.com'"
clear_out
post 2
check "past 2 KB the digest went at once: one MIME, one plain" test "$(digests mime | wc -l) $(digests plain | wc -l)" = "1 1"
check "the MIME digest holds posts 1 and 2 ($(posts mime | tr '\n' ' '))" test "$(posts mime | tr '\n' ' ')" = "<p1@example.com> <p2@example.com> "
check "so does the plain one" test "$(posts plain | tr '\n' ' ')" = "<p1@example.com> <p2@example.com> "
check "to the MIME member ($(rcpts mime))" test "$(rcpts mime)" = "rcpt: mime@example.com "
check "and the plain member ($(rcpts plain))" test "$(rcpts plain)" = "rcpt: plain@example.com "
check "Vol 1, Issue 1" test "$(subjects mime)" = "Subject: Dev Digest, Vol 1, Issue 1"
check "nothing pending, the next is issue 2" bash -c "'$HERALD' --var '$V' digests status $L | grep -q '0 posts pending, 0 bytes.*next: vol 1, issue 2'"
clear_out

post 3
check "digests send sends the one pending post" bash -c "'$HERALD' --var '$V' digests send $L | grep -qx '$L: 1 digest of 1 post to 1 MIME and 1 plain recipients'"
check "as issue 2" test "$(subjects plain)" = "Subject: Dev Digest, Vol 1, Issue 2"
check "digests send with nothing pending says so" bash -c "'$HERALD' --var '$V' digests send | grep -qx '$L: no posts pending'"
clear_out

# One last digest for a member leaving digest mode.
post 4
H members set $L plain@example.com mode regular
check "plain@ is owed the pending digest" bash -c "'$HERALD' --var '$V' digests status $L | grep -q '1 owed a last digest'"
check "digest.send sends it (periodic)" bash -c "'$HERALD' --var '$V' tasks run digest.send | grep -q '1 digest of 1 post sent on 1 list'"
check "the plain digest goes to plain@, now regular ($(rcpts plain))" test "$(rcpts plain)" = "rcpt: plain@example.com "
clear_out
post 5
check "and no more digests after" bash -c "'$HERALD' --var '$V' digests send $L >/dev/null; test -z \"\$(grep -l '^kind: digest-plain' '$V'/queue/out/*.msg 2>/dev/null)\""
clear_out
H config set $L nondigestable no >/dev/null
check "nondigestable off: mode regular is refused" bash -c "! '$HERALD' --var '$V' members set $L mime@example.com mode regular 2>/dev/null"
H config set $L nondigestable yes >/dev/null
H config set $L digestable no >/dev/null
check "digestable off: mode mime is refused" bash -c "! '$HERALD' --var '$V' members set $L plain@example.com mode mime 2>/dev/null"
H config set $L digestable yes >/dev/null
H members set $L plain@example.com mode plain

# digest_send_periodic.
H config set $L digest_size_threshhold 0 >/dev/null
H config set $L digest_send_periodic no >/dev/null
post 6
H tasks run digest.send >/dev/null
check "digest_send_periodic no: the task leaves the digest" test -z "$(digests mime)"
H config set $L digest_send_periodic yes >/dev/null
H tasks run digest.send >/dev/null
check "yes: the task sends it" test "$(posts mime | tr '\n' ' ')" = "<p6@example.com> "
clear_out

# Volumes: daily, with a faked clock.
if [ -z "$FAKELIB" ]; then
	not_ok "libfaketime is not installed (apt-get install faketime)"
else
	H config set $L digest_volume_frequency 4 >/dev/null
	post 7 +1d; at +1d "$HERALD" --var "$V" digests send $L >/dev/null
	post 8 +1d; at +1d "$HERALD" --var "$V" digests send $L >/dev/null
	post 9 +2d; at +2d "$HERALD" --var "$V" digests send $L >/dev/null
	check "daily: a new day is a new volume at issue 1, the same day the next issue ($(subjects mime | tr '\n' ' '))" test \
		"$(subjects mime | tr '\n' ' ')" = "Subject: Dev Digest, Vol 2, Issue 1 Subject: Dev Digest, Vol 2, Issue 2 Subject: Dev Digest, Vol 3, Issue 1 "
	clear_out
	check "new-volume: the next digest is vol 4, issue 1" bash -c "at() { LD_PRELOAD='$FAKELIB' FAKETIME=\"\$1\" \"\${@:2}\"; }; at +2d '$HERALD' --var '$V' digests new-volume $L | grep -qx '$L: the next digest is vol 4, issue 1'"
	post 11 +2d; at +2d "$HERALD" --var "$V" digests send $L >/dev/null
	post 12 +2d; at +2d "$HERALD" --var "$V" digests send $L >/dev/null
	check "and the next of the same day is issue 2 of it ($(subjects mime | tr '\n' ' '))" test \
		"$(subjects mime | tr '\n' ' ')" = "Subject: Dev Digest, Vol 4, Issue 1 Subject: Dev Digest, Vol 4, Issue 2 "
	clear_out
	H config set $L digest_volume_frequency 1 >/dev/null
	post 10 +40d; at +40d "$HERALD" --var "$V" digests send $L >/dev/null
	check "monthly: 40 days on is volume 5 ($(subjects mime))" test "$(subjects mime)" = "Subject: Dev Digest, Vol 5, Issue 1"
	clear_out
fi

# --- SIGKILL ------------------------------------------------------------
V2=$(new_var kill)
K() { "$HERALD" --var "$V2" "$@"; }
K site set runner.digest.handler digest
K lists create $L --owner admin@example.org >/dev/null
echo mime@example.com | K members add $L --digest >/dev/null
K members set $L mime@example.com mode mime
K config set $L digest_size_threshhold 3 >/dev/null
N=150
for n in $(seq $N); do
	printf 'From: a@example.com\nSubject: k%s\nMessage-ID: <k%s@example.com>\n\n%s\n' $n $n "$(head -c 600 /dev/zero | tr '\0' x)" |
		K queue inject digest --list $L >/dev/null
done
kills=0 unfinished=0
while [ -n "$(find "$V2/queue/digest" -name '*.msg' -o -name '*.bak')" ] && [ $kills -lt 60 ]; do
	"$HERALD" --var "$V2" runner digest >>"$T_DIR/kill.log" 2>&1 &
	pid=$!
	sleep "0.$((RANDOM % 5 + 1))$((RANDOM % 10))"
	if kill -9 $pid 2>/dev/null; then
		kills=$((kills + 1))
		ls -d "$V2"/lists/$L/digest/send-* >/dev/null 2>&1 && unfinished=$((unfinished + 1))
	fi
	wait $pid 2>/dev/null
done
diag "the runner was killed $kills times, $unfinished times with an issue unfinished"
K runner digest --once >>"$T_DIR/kill.log" 2>&1	# what the kills left
check "the digest queue is empty after the kills" test -z "$(find "$V2/queue/digest" -name '*.msg' -o -name '*.bak')"
# Then digests send, killed mid-way on a large pending digest.
K config set $L digest_size_threshhold 0 >/dev/null
for n in $(seq $((N + 1)) $((N + 400))); do
	printf 'From: a@example.com\nSubject: k%s\nMessage-ID: <k%s@example.com>\n\n%s\n' $n $n "$(head -c 600 /dev/zero | tr '\0' x)" |
		K queue inject digest --list $L >/dev/null
done
K runner digest --once >>"$T_DIR/kill.log" 2>&1
sends=0
for d in 0.05 0.1 0.15 0.2 0.3; do
	"$HERALD" --var "$V2" digests send $L >>"$T_DIR/kill.log" 2>&1 &
	pid=$!
	sleep $d
	if kill -9 $pid 2>/dev/null; then
		sends=$((sends + 1))
		ls -d "$V2"/lists/$L/digest/send-* >/dev/null 2>&1 && unfinished=$((unfinished + 1))
	fi
	wait $pid 2>/dev/null
done
diag "digests send was killed $sends times (an issue left unfinished $unfinished times in all)"
K digests send $L >/dev/null
count_posts() {
	local f
	for f in $(grep -l '^kind: digest-mime$' "$V2"/queue/out/*.msg); do
		python3 "$CHECK" mime "$f" || echo BAD
	done | cut -d' ' -f1 | sort | uniq -c | awk '{print $1}' | sort | uniq -c | tr '\n' ' '
}
got=$(count_posts)
check "every post is in exactly one digest ($got: count of posts seen once)" test "$got" = "    $((N + 400)) 1 "
check "no claimed issue is left" bash -c "! ls -d '$V2'/lists/$L/digest/send-* 2>/dev/null"
check "nothing pending" bash -c "'$HERALD' --var '$V2' digests status $L | grep -q ' 0 posts pending'"

# --- faults as NFS and full disks make them (tests/shim/nfsfault.so) -------
V3=$(new_var faults)
F() { "$HERALD" --var "$V3" "$@"; }
shimmed() { LD_PRELOAD=$SHIM NFSFAULT_LOG=$T_DIR/faults.log "$@"; }
F site set runner.digest.handler digest
F lists create $L --owner admin@example.org >/dev/null
echo mime@example.com | F members add $L >/dev/null
F members set $L mime@example.com mode mime
F config set $L digest_size_threshhold 0 >/dev/null
inject3() { printf 'From: a@example.com\nSubject: f%s\nMessage-ID: <f%s@example.com>\n\nbody\n' $1 $1 | F queue inject digest --list $L >/dev/null; }
inject3 1
# The rename into pending/ done, its reply lost (ENOENT): judged by the
# inode, the post is in once and the entry finished.
NFSFAULT=rename_enoent=1 NFSFAULT_PATH=/digest/pending/ shimmed "$HERALD" --var "$V3" runner digest --once >>"$T_DIR/faults.out" 2>&1
check "a lost rename reply: the post is pending once, its entry finished" \
	test "$(ls "$V3/lists/$L/digest/pending" | grep -c '\.msg$') $(find "$V3/queue/digest" -name '*.msg' -o -name '*.bak' | wc -l)" = "1 0"
inject3 2
# A full disk while writing the post: the entry goes back, nothing half
# written stays; the next pass adds it.
NFSFAULT=write_enospc=1 NFSFAULT_PATH=/digest/pending/ shimmed "$HERALD" --var "$V3" runner digest --once >>"$T_DIR/faults.out" 2>&1
check "a full disk: the entry is given back, nothing half written in pending/" \
	test "$(ls "$V3/lists/$L/digest/pending" | grep -c '\.msg$') $(ls "$V3/lists/$L/digest/pending" | grep -c 'tmp$') $(find "$V3/queue/digest" -name '*.msg' | wc -l)" = "1 0 1"
F runner digest --once >>"$T_DIR/faults.out" 2>&1
check "the next pass adds it" test "$(ls "$V3/lists/$L/digest/pending" | grep -c '\.msg$')" = 2
# A full disk while the send writes a rendition: nothing goes out, the
# issue stays claimed; the next send finishes it, once.
err=$(NFSFAULT=fsync_enospc=1 NFSFAULT_PATH=/out-mime shimmed "$HERALD" --var "$V3" digests send $L 2>&1)
check "a full disk during a send fails it ($err)" test -z "$(ls "$V3"/queue/out/ 2>/dev/null | grep '\.msg$')"
check "and leaves the issue claimed" test -d "$V3/lists/$L/digest/send-1-1"
# The claim's and the hand-over's renames done, their replies lost.
NFSFAULT=rename_enoent=1 NFSFAULT_PATH=/queue/out/ shimmed "$HERALD" --var "$V3" digests send $L >>"$T_DIR/faults.out" 2>&1
inject3 3
F runner digest --once >>"$T_DIR/faults.out" 2>&1
NFSFAULT=rename_enoent=1 NFSFAULT_PATH=/digest/send- shimmed "$HERALD" --var "$V3" digests send $L >>"$T_DIR/faults.out" 2>&1
F digests send $L >>"$T_DIR/faults.out" 2>&1
got=$(for f in "$V3"/queue/out/*.msg; do python3 "$CHECK" mime "$f" || echo BAD; done | cut -d' ' -f1 | sort | tr '\n' ' ')
check "after the faults each post is in one digest ($got)" test "$got" = "<f1@example.com> <f2@example.com> <f3@example.com> "
check "two digests" test "$(ls "$V3"/queue/out/ | grep -c '\.msg$')" = 2
check "the shim injected faults ($(wc -l <"$T_DIR/faults.log" 2>/dev/null))" test "$(wc -l <"$T_DIR/faults.log" 2>/dev/null)" -ge 4
t_done
