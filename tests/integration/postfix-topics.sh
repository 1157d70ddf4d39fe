#!/usr/bin/env bash
# Topics and sibling lists end to end through a real Postfix on loopback
# (the private instance of tests/postfix/instance.sh, Maildirs out), with
# `herald start`'s default runners:
#   - topics: on a list with topics_enabled, a post about "kernel" reaches
#     the member who chose linux and the one who chose nothing, not those
#     who chose bsd; a post of no topic reaches the member who chose
#     nothing and the one with nmtopics; each delivered copy carries
#     X-Topics;
#   - sibling lists: a list that includes another delivers each post once
#     to a member of both, and to the other list's members.
. "$(dirname "$0")/../lib.sh"
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
PF=$T_DIR/postfix
MAIL=$T_DIR/mail
V=$T_DIR/var
SOCK=$V/run/lmtp.sock
T=topics@lists.test
S=sib@lists.test
O=other@lists.test
LINUX=linux@members.test
BSD=bsd@members.test
ALL=all@members.test
NM=nm@members.test
SHARED=shared@members.test
ERIN=erin@members.test
OWNER=owner@members.test
trap '"$INSTANCE" "$PF" stop >/dev/null 2>&1;
      "$HERALD" --var "$V" stop >/dev/null 2>&1; t_cleanup' EXIT

H() { "$HERALD" --var "$V" "$@"; }
postfix_herald "$V" "$PF" "$MAIL" "$LINUX $BSD $ALL $NM $SHARED $ERIN $OWNER"
for l in $T $S $O; do H lists create $l --owner $OWNER >/dev/null; done
H config set $T topics "$(printf 'linux\tlinux|kernel\nbsd\t\\bbsd\\b')" >/dev/null
H config set $T topics_enabled yes >/dev/null
printf '%s\n' $LINUX $BSD $ALL $NM | H members add $T >/dev/null
H members set $T $LINUX topics linux
H members set $T $BSD topics bsd
H members set $T $NM topics bsd
H members set $T $NM nomatch yes
printf '%s\n' $ALL $SHARED | H members add $S >/dev/null
printf '%s\n' $SHARED $ERIN | H members add $O >/dev/null
H config set $S regular_include_lists $O >/dev/null
"$INSTANCE" "$PF" setup
H mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"
if ! command -v postfix >/dev/null || ! "$INSTANCE" "$PF" start >"$T_DIR/postfix-start" 2>&1; then
	sed 's/^/# /' "$T_DIR/postfix-start" 2>/dev/null
	skip "postfix-topics: the private Postfix cannot start here"
	t_done
fi
ok "the private Postfix starts on 127.0.0.1:$PORT"
check "herald's master starts" bash -c "'$HERALD' --var '$V' start >/dev/null"
check "its LMTP socket is there" wait_for 10 test -S "$SOCK"

# post LIST SUBJECT ID: a post of $ALL (a member of both lists) by SMTP.
post() {
	python3 - "$PORT" "$1" "$2" "$3" "$ALL" <<'PY'
import smtplib, sys
port, rcpt, subject, mid, sender = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
msg = ("From: All <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@members.test>\r\n\r\nHello.\r\n"
       % (sender, rcpt, subject, mid))
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.sendmail(sender, [rcpt], msg.encode())
s.quit()
PY
}
maildir() { echo "$MAIL/${1#*@}/${1%@*}/new"; }
# got ADDR ID: how many copies of post ID the member's Maildir holds.
got() { grep -l "^Message-ID: <$2@members.test>" "$(maildir "$1")"/* 2>/dev/null | wc -l; }
settled() {
	[ -z "$(find "$V/queue/in" "$V/queue/out" "$V/queue/retry" -name '*.msg' -o -name '*.bak' 2>/dev/null)" ] &&
		postqueue -c "$PF/etc" -p | grep -q 'Mail queue is empty'
}

post $T "Kernel oops" k1
post $T "Lunch" l1
post $S "Hello siblings" s1
arrived() { [ "$(got $LINUX k1)$(got $NM l1)$(got $ERIN s1)" = 111 ]; }
check "the posts arrive" wait_for 60 arrived
check "everything is delivered" wait_for 30 settled
check "topic linux: the linux member and the member of no choice get it" \
	test "$(got $LINUX k1) $(got $ALL k1)" = "1 1"
check "topic linux: the bsd members do not" test "$(got $BSD k1) $(got $NM k1)" = "0 0"
check "the delivered copy says X-Topics: linux" \
	grep -qx "X-Topics: linux" "$(grep -l '^Message-ID: <k1@' "$(maildir $LINUX)"/*)"
check "no topic: the member of no choice and the nmtopics member get it" \
	test "$(got $ALL l1) $(got $NM l1)" = "1 1"
check "no topic: the members who chose a topic without nmtopics do not" \
	test "$(got $LINUX l1) $(got $BSD l1)" = "0 0"
check "siblings: the member of both lists gets the post once" test "$(got $SHARED s1)" = 1
check "siblings: the included list's member gets it" test "$(got $ERIN s1)" = 1
check "siblings: the poster (a member) gets it once" test "$(got $ALL s1)" = 1
t_done
