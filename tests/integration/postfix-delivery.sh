#!/usr/bin/env bash
# A post's whole way, in and out, through a real Postfix on loopback (a
# private instance, tests/postfix/instance.sh, that also delivers the
# members' mail into Maildirs):
#   SMTP -> Postfix -> herald's LMTP server -> the pipeline -> the delivery
#   runner -> SMTP back into the same Postfix -> each member's Maildir.
# With `herald start`'s default runners (in, out, retry, virgin) it proves:
#   - bulk: every member gets exactly one copy, with the list's headers and
#     footer, sent from LIST-bounces@DOMAIN (Postfix's Return-Path);
#   - VERP (delivery.verp_interval 1): each copy's envelope sender is
#     LIST-bounces+LOCAL=DOMAIN@DOMAIN, the member's own;
#   - personalised (personalize 1, a footer with %(user_address)s, an https
#     web.base_url): each copy's footer names its member, and carries the
#     member's own one-click List-Unsubscribe with List-Unsubscribe-Post.
# sanitizer build: skip (end to end through the real Postfix; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
PF=$T_DIR/postfix
MAIL=$T_DIR/mail
V=$T_DIR/var
SOCK=$V/run/lmtp.sock
LIST=demo@lists.test
MEMBERS="alice@members.test bob@members.test carol@members.test dave@members.test erin@members.test"
OWNER=owner@members.test
trap '"$INSTANCE" "$PF" stop >/dev/null 2>&1;
      "$HERALD" --var "$V" stop >/dev/null 2>&1; t_cleanup' EXIT

postfix_herald "$V" "$PF" "$MAIL" "$MEMBERS $OWNER"
"$HERALD" --var "$V" lists create "$LIST" --owner "$OWNER" >/dev/null
for m in $MEMBERS; do echo "$m"; done | "$HERALD" --var "$V" members add "$LIST" >/dev/null
"$HERALD" --var "$V" config set "$LIST" msg_footer '-- 
%(real_name)s mailing list: %(listinfo_url)s' >/dev/null
"$INSTANCE" "$PF" setup
"$HERALD" --var "$V" mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"

# Only a Postfix that cannot run here skips the test; anything after that
# is herald's to get right.
if ! command -v postfix >/dev/null || ! "$INSTANCE" "$PF" start >"$T_DIR/postfix-start" 2>&1; then
	sed 's/^/# /' "$T_DIR/postfix-start" 2>/dev/null
	skip "postfix-delivery: the private Postfix cannot start here"
	t_done
fi
ok "the private Postfix starts on 127.0.0.1:$PORT"
check "it listens" wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)"

# The runners read the site settings when they start: each phase starts
# the master afresh.
start_herald() { "$HERALD" --var "$V" start >/dev/null && wait_for 10 test -S "$SOCK"; }
restart_herald() { "$HERALD" --var "$V" stop >/dev/null && start_herald; }
check "herald's master starts with its default runners" start_herald
check "the runners are in, out, retry and virgin" wait_for 10 \
	bash -c 'r=$("$1" --var "$2" status | sed -n "/^runner processes/,/^queues/p"); for q in in out retry virgin; do grep -q "^  $q 0/1 " <<<"$r" || exit 1; done' _ "$HERALD" "$V"

# post SUBJECT: alice posts to the list by SMTP into Postfix.
post() {
	python3 - "$PORT" "$1" "$LIST" <<'PY'
import smtplib, sys
port, subject, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
msg = ("From: Alice <alice@members.test>\r\nTo: %s\r\nSubject: %s\r\n"
       "Message-ID: <%s@members.test>\r\n\r\nbody of %s\r\n"
       % (rcpt, subject, subject.replace(" ", "."), subject))
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.sendmail("alice@members.test", [rcpt], msg.encode())
s.quit()
PY
}
maildir() { echo "$MAIL/${1#*@}/${1%@*}/new"; }
count() { find "$(maildir "$1")" -type f 2>/dev/null | wc -l; }
# copy MEMBER SUBJECT: the file in the member's Maildir with that subject.
copy() { grep -l "^Subject: \[Demo\] $2\$" "$(maildir "$1")"/* 2>/dev/null | head -1; }
all_have() {
	local m
	for m in $MEMBERS; do [ -n "$(copy "$m" "$1")" ] || return 1; done
}
# Nothing left to deliver anywhere: herald's out and retry queues, and
# Postfix's queue, are empty.
settled() {
	[ -z "$(find "$V/queue/in" "$V/queue/out" "$V/queue/retry" -name '*.msg' -o -name '*.bak' 2>/dev/null)" ] &&
		postqueue -c "$PF/etc" -p | grep -q 'Mail queue is empty'
}
# each N SUBJECT: every member has exactly N messages, one of them SUBJECT.
each() {
	local m
	for m in $MEMBERS; do
		if [ "$(count "$m")" -ne "$1" ] || [ -z "$(copy "$m" "$2")" ]; then
			diag "$m has $(count "$m") messages"
			return 1
		fi
	done
}
# header FILE NAME: the header's value, unfolded (Python's email parser).
header() {
	python3 - "$1" "$2" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.compat32)
v = m.get(sys.argv[2])
if v is None:
    sys.exit(1)
print(" ".join(str(v).split()))
PY
}
# body FILE: the decoded text of the message.
body() {
	python3 - "$1" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
for part in m.walk():
    if part.get_content_type() == "text/plain":
        sys.stdout.write(part.get_content())
PY
}
# every_copy SUBJECT TEST: TEST M FILE succeeds for every member's copy.
every_copy() {
	local m f
	for m in $MEMBERS; do
		f=$(copy "$m" "$1")
		[ -n "$f" ] && "$2" "$m" "$f" || { diag "$m: $2 fails on ${f:-no copy}"; return 1; }
	done
}

# --- bulk: one copy each, the list's headers, LIST-bounces ------------------
post "first post"
check "the first post reaches every member's Maildir" wait_for 30 all_have "first post"
check "nothing is left to deliver in herald or Postfix" wait_for 20 settled
check "every member has exactly one copy" each 1 "first post"
bulk_headers() {
	[ "$(header "$2" List-Id)" = "Demo <demo.lists.test>" ] &&
	[ "$(header "$2" List-Post)" = "<mailto:demo@lists.test>" ] &&
	header "$2" List-Unsubscribe | grep -q '<mailto:demo-leave@lists.test>' &&
	! header "$2" List-Unsubscribe-Post >/dev/null
}
check "each copy has List-Id, List-Post and List-Unsubscribe (no one-click)" every_copy "first post" bulk_headers
bulk_footer() {
	body "$2" | grep -qx 'body of first post' &&
	body "$2" | grep -qx 'Demo mailing list: https://lists.test/listinfo/demo@lists.test'
}
check "each copy ends with the list's footer" every_copy "first post" bulk_footer
bulk_sender() { [ "$(header "$2" Return-Path)" = "<demo-bounces@lists.test>" ]; }
check "the envelope sender is demo-bounces@lists.test (Return-Path)" every_copy "first post" bulk_sender
one_return_path() { [ "$(grep -c '^Return-Path:' "$2")" -eq 1 ]; }
check "each copy has one Return-Path (Postfix's)" every_copy "first post" one_return_path
f=$(copy bob@members.test "first post")
check "it went through Postfix twice (the post in, the copy out)" \
	test "$(grep -c 'by mail.test (Postfix) with ESMTP' "$f")" -eq 2
check "Postfix logged five deliveries by virtual(8)" \
	bash -c '[ "$(grep -c "relay=virtual, .*status=sent" "$1")" -eq 5 ]' _ "$PF/maillog"

# --- VERP: each member's own envelope sender ----------------------------
"$HERALD" --var "$V" site set delivery.verp_interval 1
check "herald restarts with delivery.verp_interval 1" restart_herald
post "second post"
check "the second post reaches every member's Maildir" wait_for 30 all_have "second post"
check "nothing is left to deliver" wait_for 20 settled
check "every member has exactly one copy of each post" each 2 "second post"
verp_sender() {
	[ "$(header "$2" Return-Path)" = "<demo-bounces+${1%@*}=${1#*@}@lists.test>" ] ||
		{ diag "$1: Return-Path $(header "$2" Return-Path)"; return 1; }
}
check "VERP: each copy's Return-Path is demo-bounces+LOCAL=members.test@lists.test" \
	every_copy "second post" verp_sender
check "the VERP'd copies still have the list's headers" every_copy "second post" bulk_headers

# --- personalised: the member's footer and one-click unsubscribe ----------
"$HERALD" --var "$V" site set delivery.verp_interval 0
"$HERALD" --var "$V" site set web.base_url https://lists.test/
"$HERALD" --var "$V" config set "$LIST" personalize 1 >/dev/null
"$HERALD" --var "$V" config set "$LIST" msg_footer '-- 
Sent to %(user_address)s by %(real_name)s' >/dev/null
check "herald restarts with personalize 1 and an https web.base_url" restart_herald
post "third post"
check "the third post reaches every member's Maildir" wait_for 30 all_have "third post"
check "nothing is left to deliver" wait_for 20 settled
check "every member has exactly one copy of each post" each 3 "third post"
own_footer() {
	body "$2" | grep -qx "Sent to $1 by Demo" &&
	[ "$(body "$2" | grep -c '^Sent to ')" -eq 1 ]
}
check "each copy's footer names its own member (%(user_address)s)" every_copy "third post" own_footer
own_unsubscribe() {
	local u
	u=$(header "$2" List-Unsubscribe) || return 1
	grep -qE "^<https://lists.test/unsubscribe/demo@lists.test\?m=${1%@*}%40${1#*@}&t=[A-Za-z0-9_-]{43}>, <mailto:demo-leave@lists.test>\$" <<<"$u" ||
		{ diag "$1: List-Unsubscribe $u"; return 1; }
	[ "$(header "$2" List-Unsubscribe-Post)" = "List-Unsubscribe=One-Click" ] &&
	[ "$(grep -ci '^List-Unsubscribe:' "$2")" -eq 1 ]
}
check "each copy has its member's one-click List-Unsubscribe and List-Unsubscribe-Post" \
	every_copy "third post" own_unsubscribe
check "the unsubscribe tokens are each member's own (five different)" \
	bash -c 'for m in $1; do f=$(grep -l "^Subject: \[Demo\] third post\$" "$2/${m#*@}/${m%@*}/new"/*); grep -A1 -i "^List-Unsubscribe:" "$f" | grep -o "t=[A-Za-z0-9_-]*"; done | sort -u | wc -l | grep -qx 5' _ "$MEMBERS" "$MAIL"
check "personalised copies go VERP'd (delivery.verp_personalized)" every_copy "third post" verp_sender
list_headers() {
	[ "$(header "$2" List-Id)" = "Demo <demo.lists.test>" ] &&
	[ "$(header "$2" List-Post)" = "<mailto:demo@lists.test>" ] &&
	[ "$(grep -c '^List-Id:' "$2")" -eq 1 ]
}
check "the list's other headers are still there" every_copy "third post" list_headers

check "the owner got no bounce reports and nothing went to bad/ or shunt/" \
	bash -c '[ "$(find "$1/queue/bad" "$1/queue/shunt" "$1/queue/bounces" -name "*.msg" 2>/dev/null | wc -l)" -eq 0 ] && [ "$(find "$2/members.test/owner" -type f 2>/dev/null | wc -l)" -eq 0 ]' _ "$V" "$MAIL"
check "Postfix deferred or bounced nothing" \
	bash -c '! grep -qE "status=(deferred|bounced)" "$1"' _ "$PF/maillog"
"$HERALD" --var "$V" stop >/dev/null
"$INSTANCE" "$PF" stop
t_done
