#!/usr/bin/env bash
# Joining and leaving by mail, end to end through a real Postfix on
# loopback (tests/postfix/instance.sh: LMTP into herald, Maildirs out),
# with `herald start`'s default runners (in, out, retry, virgin, commands):
#   - a stranger sends "subscribe" to LIST-request; the confirmation
#     reaches their Maildir (Subject "confirm TOKEN", Reply-To
#     LIST-confirm+TOKEN);
#   - their reply, as a mail client makes it (to the Reply-To, "Re:"
#     Subject, the message quoted), makes them a member; the welcome
#     arrives; the owner is told (admin_notify_mchanges);
#   - mail to LIST-leave brings another confirmation; the reply removes
#     them; the goodbye arrives; the owner is told.
# sanitizer build: skip (end to end through the real Postfix; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
PF=$T_DIR/postfix
MAIL=$T_DIR/mail
V=$T_DIR/var
SOCK=$V/run/lmtp.sock
LIST=demo@lists.test
STRANGER=stranger@members.test
OWNER=owner@members.test
trap '"$INSTANCE" "$PF" stop >/dev/null 2>&1;
      "$HERALD" --var "$V" stop >/dev/null 2>&1; t_cleanup' EXIT

H() { "$HERALD" --var "$V" "$@"; }
postfix_herald "$V" "$PF" "$MAIL" "$STRANGER $OWNER"
H lists create "$LIST" --owner "$OWNER" >/dev/null
H config set "$LIST" admin_notify_mchanges yes
"$INSTANCE" "$PF" setup
H mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"

if ! command -v postfix >/dev/null || ! "$INSTANCE" "$PF" start >"$T_DIR/postfix-start" 2>&1; then
	sed 's/^/# /' "$T_DIR/postfix-start" 2>/dev/null
	skip "postfix-commands: the private Postfix cannot start here"
	t_done
fi
ok "the private Postfix starts on 127.0.0.1:$PORT"
check "herald's master starts with the commands runner" \
	bash -c '"$1" --var "$2" start >/dev/null && for i in $(seq 100); do "$1" --var "$2" status | grep -q "^  commands 0/1 " && exit 0; sleep 0.1; done; exit 1' _ "$HERALD" "$V"

# send TO SUBJECT BODY: the stranger writes by SMTP into Postfix.
N=0
send() {
	N=$((N + 1))
	python3 - "$PORT" "$STRANGER" "$1" "$2" "$3" "$N" <<'PY'
import smtplib, sys
port, sender, rcpt, subject, body, n = sys.argv[1:]
msg = ("From: A Stranger <%s>\r\nTo: %s\r\nSubject: %s\r\n"
       "Message-ID: <c%s@members.test>\r\n\r\n%s\r\n"
       % (sender, rcpt, subject, n, body.replace("\n", "\r\n")))
s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
s.sendmail(sender, [rcpt], msg.encode())
s.quit()
PY
}
maildir() { echo "$MAIL/${1#*@}/${1%@*}/new"; }
# has ADDR PATTERN: a message in ADDR's Maildir matches PATTERN
has() { grep -lq -- "$2" "$(maildir "$1")"/* 2>/dev/null; }
# confirmation: the newest "confirm TOKEN" message in the stranger's Maildir
confirmation() { grep -l '^Subject: confirm ' "$(maildir $STRANGER)"/* 2>/dev/null | xargs -r ls -t | head -1; }
members() { H members list "$LIST"; }
# reply_to FILE: a reply as a mail client makes it: to its Reply-To,
# "Re:" before its Subject, its text quoted.
reply_to() {
	local to subject body
	to=$(grep -m1 '^Reply-To: ' "$1" | sed 's/^Reply-To: //; s/.*<\(.*\)>.*/\1/')
	subject=$(grep -m1 '^Subject: ' "$1" | sed 's/^Subject: //')
	body=$(printf 'Yes, that was me.\n\nOn Monday, the list wrote:\n'; sed '1,/^$/d' "$1" | head -20 | sed 's/^/> /')
	send "$to" "Re: $subject" "$body"
}

# --- joining -----------------------------------------------------------------
send demo-request@lists.test "subscribe" ""
check "the confirmation reaches the stranger's Maildir" wait_for 60 bash -c '[ -n "$(grep -l "^Subject: confirm " "$1"/* 2>/dev/null)" ]' _ "$(maildir $STRANGER)"
c1=$(confirmation)
check "its Reply-To is LIST-confirm+TOKEN" grep -q '^Reply-To: demo-confirm+[A-Za-z0-9_-]\{43\}@lists.test' "$c1"
check "they are no member yet" test -z "$(members)"
reply_to "$c1"
check "the reply (Re:, quoted) makes them a member" wait_for 60 bash -c '"$1" --var "$2" members list "$3" | grep -qx "$4"' _ "$HERALD" "$V" "$LIST" "$STRANGER"
check "the welcome arrives" wait_for 60 has $STRANGER "You are subscribed as $STRANGER"
check "the owner is told" wait_for 60 has $OWNER "$STRANGER is now a member"

# --- leaving -----------------------------------------------------------------
send demo-leave@lists.test "" ""
check "LIST-leave brings another confirmation" wait_for 60 bash -c '[ "$(grep -l "^Subject: confirm " "$1"/* 2>/dev/null | wc -l)" -eq 2 ]' _ "$(maildir $STRANGER)"
c2=$(confirmation)
check "with another token" test "$(grep -m1 '^Subject:' "$c1")" != "$(grep -m1 '^Subject:' "$c2")"
reply_to "$c2"
check "the reply removes them" wait_for 60 bash -c '[ -z "$("$1" --var "$2" members list "$3")" ]' _ "$HERALD" "$V" "$LIST"
check "the goodbye arrives" wait_for 60 has $STRANGER "$STRANGER is no longer subscribed"
check "the owner is told" wait_for 60 has $OWNER "$STRANGER is no longer a member"
check "nothing went to bad/ or shunt/" test -z "$(find "$V/queue/bad" "$V/queue/shunt" -name '*.msg' 2>/dev/null)"
check "Postfix bounced nothing" bash -c '! grep -q "status=bounced" "$1"' _ "$PF/maillog"
H stop >/dev/null
"$INSTANCE" "$PF" stop
t_done
