#!/usr/bin/env bash
# Digests end to end through a real Postfix on loopback (the private
# instance of tests/postfix/instance.sh, Maildirs out), with `herald
# start`'s default runners (in, out, retry, virgin, digest): one regular
# member who posts, one MIME and one plain digest member; five posts by
# SMTP.  The size trigger (digest_size_threshhold 4 KB: three posts as Postfix
# and the pipeline leave them)
# sends one digest midway, the task digest.send the rest.  Then:
#   - the regular member's Maildir holds the five posts, and no digest;
#   - each digest member's holds exactly two digests of their kind (read by
#     Python's email package, tests/tools/digestcheck.py) which together
#     hold the five posts once each, and no post on its own;
#   - the digests carry the list's headers and arrive from the member's
#     VERP address (a personalised list's delivery.verp_personalized);
#   - on a personalised list each member's digest_footer names them.
# sanitizer build: skip (end to end through the real Postfix; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
CHECK=$HERALD_TOP/tests/tools/digestcheck.py
PF=$T_DIR/postfix
MAIL=$T_DIR/mail
V=$T_DIR/var
SOCK=$V/run/lmtp.sock
LIST=demo@lists.test
REGULAR=alice@members.test
MIME=mime@members.test
PLAIN=plain@members.test
OWNER=owner@members.test
trap '"$INSTANCE" "$PF" stop >/dev/null 2>&1;
      "$HERALD" --var "$V" stop >/dev/null 2>&1; t_cleanup' EXIT

H() { "$HERALD" --var "$V" "$@"; }
postfix_herald "$V" "$PF" "$MAIL" "$REGULAR $MIME $PLAIN $OWNER"
H lists create "$LIST" --owner "$OWNER" >/dev/null
printf '%s\n' $REGULAR $MIME $PLAIN | H members add "$LIST" >/dev/null
H members set "$LIST" $MIME mode mime
H members set "$LIST" $PLAIN mode plain
H config set "$LIST" digest_size_threshhold 4 >/dev/null
H config set "$LIST" personalize 1 >/dev/null
H config set "$LIST" digest_footer 'This digest was sent to %(user_address)s' >/dev/null
"$INSTANCE" "$PF" setup
H mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"
if ! command -v postfix >/dev/null || ! "$INSTANCE" "$PF" start >"$T_DIR/postfix-start" 2>&1; then
	sed 's/^/# /' "$T_DIR/postfix-start" 2>/dev/null
	skip "postfix-digests: the private Postfix cannot start here"
	t_done
fi
ok "the private Postfix starts on 127.0.0.1:$PORT"
check "herald's master starts" bash -c "'$HERALD' --var '$V' start >/dev/null"
check "its LMTP socket is there" wait_for 10 test -S "$SOCK"
check "a digest runner runs" wait_for 10 \
	bash -c '"$1" --var "$2" status | sed -n "/^runner processes/,/^queues/p" | grep -q "^  digest 0/1 "' _ "$HERALD" "$V"

post() {
	python3 - "$PORT" "$1" "$LIST" "$REGULAR" <<'PY'
import smtplib, sys
port, n, rcpt, sender = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
body = "".join("line %d of post %s, so that three posts pass four kilobytes\r\n" % (i, n) for i in range(12))
msg = ("From: Alice <%s>\r\nTo: %s\r\nSubject: post %s\r\n"
       "Message-ID: <post%s@members.test>\r\n\r\n%s" % (sender, rcpt, n, n, body))
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.sendmail(sender, [rcpt], msg.encode())
s.quit()
PY
}
maildir() { echo "$MAIL/${1#*@}/${1%@*}/new"; }
count() { find "$(maildir "$1")" -type f 2>/dev/null | wc -l; }
settled() {
	[ -z "$(find "$V/queue/in" "$V/queue/out" "$V/queue/retry" "$V/queue/digest" -name '*.msg' -o -name '*.bak' 2>/dev/null)" ] &&
		postqueue -c "$PF/etc" -p | grep -q 'Mail queue is empty'
}
# posts_in KIND MEMBER: the Message-IDs in the member's digests, sorted.
posts_in() {
	local f
	for f in "$(maildir "$2")"/*; do
		python3 "$CHECK" "$1" "$f" || echo BAD
	done | cut -d' ' -f1 | sort | tr '\n' ' '
}
ALL="<post1@members.test> <post2@members.test> <post3@members.test> <post4@members.test> <post5@members.test> "

for n in 1 2 3; do post $n; done
regular_has() { [ "$(count $REGULAR)" -ge "$1" ]; }
check "the regular member gets the first three posts" wait_for 30 regular_has 3
digests_delivered() { [ "$(count $MIME) $(count $PLAIN)" = "$1 $1" ]; }
check "and the size trigger sends a digest to each digest member" wait_for 30 digests_delivered 1
for n in 4 5; do post $n; done
check "the regular member gets all five" wait_for 30 regular_has 5
check "everything is delivered" wait_for 30 settled
check "posts 4 and 5 wait for the next digest ($(H digests status $LIST))" bash -c "'$HERALD' --var '$V' digests status $LIST | grep -q '2 posts pending'"
check "the task digest.send sends them" bash -c "'$HERALD' --var '$V' tasks run digest.send | grep -q '1 digest of 2 posts sent on 1 list'"
check "and they are delivered" wait_for 30 digests_delivered 2
check "nothing is left to deliver" wait_for 30 settled
check "the regular member has the five posts and no digest" test "$(count $REGULAR)" = 5 -a -z "$(grep -l 'Digest, Vol' "$(maildir $REGULAR)"/* 2>/dev/null)"
check "the MIME member has two digests" test "$(count $MIME)" = 2
check "which hold the five posts once ($(posts_in mime $MIME))" test "$(posts_in mime $MIME)" = "$ALL"
check "the plain member has two digests" test "$(count $PLAIN)" = 2
check "which hold the five posts once ($(posts_in plain $PLAIN))" test "$(posts_in plain $PLAIN)" = "$ALL"
f=$(ls "$(maildir $MIME)"/* | head -1)
check "a digest comes from the member's VERP address (personalised: Return-Path)" \
	grep -q '^Return-Path: <demo-bounces+mime=members.test@lists.test>' "$f"
check "with the list's List-Id" grep -q '^List-Id: .*<demo.lists.test>' "$f"
check "personalised: the MIME member's digests name them in the footer" \
	test "$(grep -l 'This digest was sent to mime@members.test' "$(maildir $MIME)"/* | wc -l)" = 2
check "and the plain member's them" \
	test "$(grep -l 'This digest was sent to plain@members.test' "$(maildir $PLAIN)"/* | wc -l)" = 2
check "issues 1 and 2 of volume 1" bash -c "grep -h '^Subject: ' '$(maildir $PLAIN)'/* | sort | tr '\n' ' ' | grep -q 'Vol 1, Issue 1 Subject: .*Vol 1, Issue 2'"
t_done
