#!/usr/bin/env bash
# A post's whole way in, through a real Postfix on loopback (a private
# instance, tests/postfix/instance.sh):
#   - over LMTP: SMTP -> Postfix -> herald's LMTP server -> the pipeline ->
#     the out queue with the members as recipients and the list headers; a
#     nonmember's post is held, shows in `herald held list`, and approving
#     it sends it on;
#   - a full var dir while Postfix delivers: herald answers 451, the post
#     waits in Postfix's deferred queue, and arrives once there is room;
#   - through the pipe: Postfix's pipe(8) transport runs `herald-mta auto`
#     (`herald mta` as a program of its own, as mta-config prints it) as an
#     unprivileged user (mta.postfix_transport = pipe).
# sanitizer build: skip (end to end through the real Postfix; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
PF=$T_DIR/postfix
PF2=$T_DIR/postfix-pipe
FS=$T_DIR/fs
trap '"$INSTANCE" "$PF" stop >/dev/null 2>&1; "$INSTANCE" "$PF2" stop >/dev/null 2>&1;
      [ -n "${V:-}" ] && "$HERALD" --var "$V" stop >/dev/null 2>&1;
      umount "$FS" 2>/dev/null; t_cleanup' EXIT

# The var dir lives on a small filesystem of its own, so that the test can
# fill it.
mkdir -p "$FS"
if ! mount -t tmpfs -o size=64m,mode=0755 tmpfs "$FS" 2>/dev/null; then
	skip "postfix-pipeline: cannot mount a tmpfs (not root?)"
	t_done
	exit 0
fi
V=$FS/v
"$HERALD" --var "$V" init >/dev/null
# This test looks at what the pipeline leaves in the out queue: no
# delivery runner takes it away (delivery has tests of its own).
drop_runner "$V" out
drop_runner "$V" retry
SOCK=$V/run/lmtp.sock
entries() { find "$V/queue/$1" -name '*.msg' 2>/dev/null | wc -l; }
has() { test "$(entries "$1")" -ge "$2"; }
export PORT HERALD_TABLES=$V/etc/postfix
PORT=$(free_port)

chmod o+x "$T_DIR"
chgrp postfix "$V" "$V/run" "$V/etc" && chmod g+s "$V/run"
"$HERALD" --var "$V" lists create demo@lists.test --owner admin@example.org >/dev/null
printf 'alice@example.net\nbob@example.net\nCarol@Example.org\n' |
	"$HERALD" --var "$V" members add demo@lists.test >/dev/null
"$HERALD" --var "$V" site set lmtp.listen "unix:$SOCK"
"$HERALD" --var "$V" site set mta.postfix_config "$PF/etc"
"$HERALD" --var "$V" site set master.restart_backoff_max 1
"$INSTANCE" "$PF" setup
"$HERALD" --var "$V" mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"
check "herald's master starts with its LMTP server" \
	bash -c '"$1" --var "$2" start && for i in $(seq 100); do [ -S "$3" ] && exit 0; sleep 0.1; done; exit 1' _ "$HERALD" "$V" "$SOCK"
check "the private Postfix starts on 127.0.0.1:$PORT" "$INSTANCE" "$PF" start
check "it listens" wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)"

# smtp.py PORT FROM SUBJECT RCPT: one message by SMTP; prints the DATA reply.
cat >"$T_DIR/smtp.py" <<'PY'
import smtplib, sys
port, sender, subject, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@example.net>\r\n\r\n"
       "body of %s\r\n" % (sender, rcpt, subject, subject.replace(" ", "."), subject))
s.sendmail(sender, [rcpt], msg.encode())
print("250 DATA")
s.quit()
PY
smtp() { python3 "$T_DIR/smtp.py" "$@"; }
# out_with SUBJECT: the out queue entry of the post with that subject.
out_with() { grep -l "^Subject: .*$1" "$V"/queue/out/*.msg 2>/dev/null | head -1; }

# --- a member's post, over LMTP, through the pipeline ----------------------
smtp "$PORT" alice@example.net "first post" demo@lists.test >/dev/null
check "a member's post comes out of the pipeline into the out queue" \
	wait_for 30 has out 1
f=$(out_with "first post")
check "its recipients are the three members" \
	test "$(grep -c '^rcpt: ' "$f")" -eq 3
check "delivery addresses keep the members' case" grep -qx 'rcpt: Carol@example.org' "$f"
check "the subject has the list's prefix" grep -qx 'Subject: \[Demo\] first post' "$f"
check "List-Id names the list" grep -qx 'List-Id: Demo <demo.lists.test>' "$f"
check "List-Post and List-Unsubscribe are there" \
	bash -c 'grep -qx "List-Post: <mailto:demo@lists.test>" "$1" && grep -A1 "^List-Unsubscribe: " "$1" | grep -q "mailto:demo-leave@lists.test"' _ "$f"
check "X-BeenThere marks the list" grep -qx 'X-BeenThere: demo@lists.test' "$f"
# (The archive and digest runners move their copies on: into the list's
# archive, docs/archive.md, and its pending digest, docs/digests.md.)
check "the archive and the pending digest have their copies" wait_for 10 \
	bash -c '[ "$(grep -c "^From " "$1/archives/demo@lists.test/mbox" 2>/dev/null)" = 1 ] && [ "$(find "$1/lists/demo@lists.test/digest/pending" -name "*.msg" 2>/dev/null | wc -l)" -eq 1 ]' _ "$V"

# --- a nonmember's post is held; approval sends it on ------------------------
smtp "$PORT" mallory@example.com "from outside" demo@lists.test >/dev/null
check "a nonmember's post is held" \
	wait_for 30 bash -c '"$1" --var "$2" held list demo@lists.test | grep -q "mallory@example.com"' _ "$HERALD" "$V"
line=$("$HERALD" --var "$V" held list demo@lists.test | grep mallory)
echo "# held: $line"
id=${line%%$'\t'*}
check "the held line names the reason" grep -q "non-member" <<<"$line"
check "the moderators are told (a notice to the owner)" \
	wait_for 30 bash -c 'grep -l "^rcpt: admin@example.org" "$1"/queue/out/*.msg | xargs grep -l "requires approval" >/dev/null' _ "$V"
check "held approve succeeds" "$HERALD" --var "$V" held approve demo@lists.test "$id"
check "the approved post reaches the out queue" \
	wait_for 30 bash -c 'grep -l "^Subject: \[Demo\] from outside" "$1"/queue/out/*.msg >/dev/null' _ "$V"
check "and is no longer held" \
	bash -c '[ -z "$("$1" --var "$2" held list demo@lists.test)" ]' _ "$HERALD" "$V"

# --- the var dir full while Postfix delivers -------------------------------
# Fill the filesystem (a little is left for the lock files of the runners).
dd if=/dev/zero of="$FS/filler" bs=1M 2>/dev/null || true
smtp "$PORT" bob@example.net "while full" demo@lists.test >/dev/null
check "Postfix is told to retry: the post is deferred" \
	wait_for 30 bash -c "grep -q 'to=<demo@lists.test>.*status=deferred' '$PF/maillog'"
check "it waits in Postfix's queue" \
	bash -c "postqueue -c '$PF/etc' -p | grep -q 'demo@lists.test'"
check "herald logged why" bash -c 'grep -rqs "No space left on device" "$1"/logs/' _ "$V"
check "it is not in herald's queues" test -z "$(out_with 'while full')"
rm -f "$FS/filler"
postqueue -c "$PF/etc" -f
check "once there is room it arrives and goes through the pipeline" \
	wait_for 40 bash -c 'grep -l "^Subject: \[Demo\] while full" "$1"/queue/out/*.msg >/dev/null' _ "$V"
check "Postfix's queue is empty" \
	wait_for 10 bash -c "postqueue -c '$PF/etc' -p | grep -q 'Mail queue is empty'"
check "nothing went to bad/ or shunt/" \
	test "$(entries bad)/$(entries shunt)" = 0/0
"$INSTANCE" "$PF" stop
"$HERALD" --var "$V" stop >/dev/null

# --- through the pipe ------------------------------------------------------
# Postfix's pipe(8) never runs a command as root: a system user owns this
# var dir.
id heraldpipe >/dev/null 2>&1 ||
	useradd --system --no-create-home --shell /usr/sbin/nologin heraldpipe
V2=$T_DIR/pipe-var
"$HERALD" --var "$V2" init >/dev/null
drop_runner "$V2" out
"$HERALD" --var "$V2" lists create pipe@pipe.test --owner admin@example.org >/dev/null
printf 'dave@example.net\nerin@example.net\n' | "$HERALD" --var "$V2" members add pipe@pipe.test >/dev/null
"$HERALD" --var "$V2" site set mta.postfix_transport pipe
"$HERALD" --var "$V2" site set mta.postfix_config "$PF2/etc"
# The pipe user must be able to run herald-mta and the herald beside it
# (which it runs when no LMTP server takes the message): the build
# directory may not be open to other users (a clone in a 0700 mktemp
# directory), T_DIR is.
PIPE_HERALD=$T_DIR/herald-mta
cp "$HERALD-mta" "$PIPE_HERALD"
cp "$HERALD" "$T_DIR/herald"
export HERALD_TABLES=$V2/etc/postfix HERALD_PIPE_USER=heraldpipe
export HERALD_PIPE_ARGV="$PIPE_HERALD --var $V2 auto --sender \${sender} --recipient \${recipient}"
PORT=$(free_port)
"$INSTANCE" "$PF2" setup
printed=$("$HERALD" --var "$V2" mta-config postfix --write)
check "mta-config prints the master.cf pipe line, with herald-mta" \
	grep -q "pipe flags= user=USER argv=$HERALD-mta --var $V2 auto --sender" <<<"$printed"
check "the transport table sends list addresses to the herald transport" \
	grep -qx $'pipe@pipe.test\therald:' "$V2/etc/postfix/transport"
chown -R heraldpipe "$V2"
chmod o+rx "$T_DIR"
check "the second Postfix starts" "$INSTANCE" "$PF2" start
check "it listens" wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)"
smtp "$PORT" dave@example.net "piped post" pipe@pipe.test >/dev/null
smtp "$PORT" mailer-daemon@example.net "a bounce" pipe-bounces+erin=example.net@pipe.test >/dev/null
e2() { find "$V2/queue/$1" -name '*.msg' 2>/dev/null | wc -l; }
check "the pipe stores the post in the in queue" wait_for 30 bash -c "[ \$(find '$V2/queue/in' -name '*.msg' | wc -l) -eq 1 ]"
check "and the bounce, by its VERP address, in the bounces queue" wait_for 30 bash -c "[ \$(find '$V2/queue/bounces' -name '*.msg' | wc -l) -eq 1 ]"
check "Postfix logs the pipe delivery as sent" \
	wait_for 10 bash -c "grep -qE 'to=<pipe@pipe.test>.*relay=herald.*status=sent' '$PF2/maillog'"
check "the post's metadata has kind post and the envelope sender" \
	bash -c 'f=$(ls "$1"/queue/in/*.msg); grep -qx "kind: post" "$f" && grep -qx "sender: dave@example.net" "$f"' _ "$V2"
check "the pipeline sends it to the two members" \
	bash -c '"$1" --var "$2" runner in --once >/dev/null 2>&1; f=$(ls "$2"/queue/out/*.msg) && [ "$(grep -c "^rcpt: " "$f")" -eq 2 ]' _ "$HERALD" "$V2"
check "mta auto refuses an address that is no list's (exit 67)" \
	bash -c 'printf "Subject: x\n\nx\n" | "$1" --var "$2" mta auto --recipient nolist@pipe.test 2>/dev/null; [ $? -eq 67 ]' _ "$HERALD" "$V2"
check "no LMTP server ran: the pipe stored them itself" \
	bash -c '! grep -qs "from herald-mta" "$1"/logs/*/lmtp' _ "$V2"

# With herald's LMTP server up (as the pipe's user: the pipe socket takes
# only its own user's connections), herald-mta hands the post over.
setpriv --reuid=heraldpipe --regid="$(id -g heraldpipe)" --clear-groups \
	"$T_DIR/herald" --var "$V2" lmtp 2>/dev/null &
LMTP=$!
wait_for 5 grep -qs "listening on the pipe socket" "$V2"/logs/*/lmtp
smtp "$PORT" dave@example.net "handed post" pipe@pipe.test >/dev/null
check "through Postfix's pipe, herald-mta hands the post to the LMTP server" \
	wait_for 30 grep -qs "accepted post for pipe@pipe.test from <dave@example.net> .* from herald-mta" "$V2"/logs/*/lmtp
check "which stores it in the in queue" \
	bash -c 'grep -lq "^Subject: handed post" "$1"/queue/in/*.msg' _ "$V2"
kill $LMTP
wait $LMTP 2>/dev/null
"$INSTANCE" "$PF2" stop
t_done
