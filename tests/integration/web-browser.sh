#!/usr/bin/env bash
# The web interface as people use it, in Debian's chromium (headless,
# driven by playwright-core: tests/web/*.mjs), with herald behind the real
# Postfix of the tests (LMTP in, Maildirs out) and the master running
# every service and runner:
#   - a stranger subscribes on the list's page, the confirmation reaches
#     their Maildir, they open its link and confirm: a member, welcomed;
#   - a post to the list reaches them; the List-Unsubscribe link of their
#     copy, opened in the browser, unsubscribes them with one click;
#   - a member of a private list reads its archive, a stranger is asked to
#     log in instead;
# and screenshots of the pages (desktop and phone) land in $WEB_SHOTS
# (default: the test's scratch folder, kept with KEEP=1).
. "$(dirname "$0")/../lib.sh"
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
PF=$T_DIR/postfix
MAIL=$T_DIR/mail
V=$T_DIR/var
LIST=demo@lists.test
STRANGER=stranger@members.test
OWNER=owner@members.test
MEMBER=member@members.test
export WEB_SHOTS=${WEB_SHOTS:-$T_DIR/shots}
trap '"$INSTANCE" "$PF" stop >/dev/null 2>&1;
      "$HERALD" --var "$V" stop >/dev/null 2>&1; t_cleanup' EXIT
H() { "$HERALD" --var "$V" "$@"; }
postfix_herald "$V" "$PF" "$MAIL" "$STRANGER $OWNER $MEMBER"
H lists create "$LIST" --owner "$OWNER" >/dev/null
H config set "$LIST" real_name Demo >/dev/null
H config set "$LIST" description "herald's browser test list" >/dev/null
H config set "$LIST" password ownerpw >/dev/null
echo "$MEMBER" | H members add "$LIST" >/dev/null
H members set "$LIST" "$MEMBER" password memberpw >/dev/null
WEBPORT=$(free_port)
export WEB_BASE=http://127.0.0.1:$WEBPORT/
H site set web.listen "127.0.0.1:$WEBPORT" >/dev/null
# The public address is https, as behind a TLS proxy (RFC 8058's one-click
# headers need it); the browser talks to herald itself over http.
PUBLIC=https://127.0.0.1:$WEBPORT/
H site set web.base_url "$PUBLIC" >/dev/null
H config set "$LIST" personalize 1 >/dev/null
"$INSTANCE" "$PF" setup
H mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"
if ! command -v postfix >/dev/null || ! "$INSTANCE" "$PF" start >"$T_DIR/postfix-start" 2>&1; then
	sed 's/^/# /' "$T_DIR/postfix-start" 2>/dev/null
	skip "web-browser: the private Postfix cannot start here"
	t_done
fi
check "herald starts with the web service" bash -c '"$1" --var "$2" start >/dev/null && for i in $(seq 100); do curl -s -o /dev/null "$3" && exit 0; sleep 0.1; done; exit 1' _ "$HERALD" "$V" "$WEB_BASE"
maildir() { echo "$MAIL/${1#*@}/${1%@*}/new"; }
has() { grep -lq -- "$2" "$(maildir "$1")"/* 2>/dev/null; }
newest() { grep -l -- "$2" "$(maildir "$1")"/* 2>/dev/null | xargs -r ls -t | head -1; }
members() { H members list "$LIST" | sort | tr '\n' ' '; }

# --- a stranger subscribes ------------------------------------------------
browser subscribe.mjs "listinfo/demo%40lists.test" "$STRANGER"
check "the confirmation reaches the stranger's Maildir" wait_for 60 has $STRANGER '^Subject: confirm '
URL=$(grep -ho "${PUBLIC}confirm/[^ ]*" "$(newest $STRANGER '^Subject: confirm ')" | head -1)
check "it carries the confirm link" test -n "$URL"
check "the stranger is no member before confirming" bash -c '! grep -q stranger <<<"$1"' _ "$(members)"
browser confirm.mjs "${URL#$PUBLIC}"
check "the confirmed stranger is a member" wait_for 30 bash -c 'grep -q "$2" <<<"$("$1" --var "$3" members list "$4")"' _ "$HERALD" "$STRANGER" "$V" "$LIST"
check "and is welcomed by mail" wait_for 60 has $STRANGER "You are subscribed as $STRANGER"

# --- a post reaches them; its List-Unsubscribe link unsubscribes ----------
python3 - "$PORT" "$MEMBER" "$LIST" <<'PY'
import smtplib, sys
port, sender, rcpt = sys.argv[1:]
msg = ("From: A Member <%s>\r\nTo: %s\r\nSubject: Hello from the browser test\r\n"
       "Message-ID: <browser1@members.test>\r\n\r\nHello, list.\r\n" % (sender, rcpt))
s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
s.sendmail(sender, [rcpt], msg.encode())
s.quit()
PY
check "the post reaches the new member" wait_for 60 has $STRANGER 'Subject: \[Demo\] Hello from the browser test'
COPY=$(newest $STRANGER 'Hello from the browser test')
UNSUB=$(python3 - "$COPY" <<'PY'
import email, email.policy, re, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
for u in re.findall(r'<([^>]*)>', str(m.get('List-Unsubscribe', ''))):
    if u.startswith('http'):
        print(u)
PY
)
check "their copy's List-Unsubscribe names a one-click link for them" bash -c '[[ $1 == "$2"unsubscribe/*"m=stranger%40members.test"* ]]' _ "$UNSUB" "$PUBLIC"
check "with List-Unsubscribe-Post" grep -q '^List-Unsubscribe-Post: List-Unsubscribe=One-Click' "$COPY"
browser unsubscribe.mjs "${UNSUB#$PUBLIC}"
check "one click on it unsubscribes them" wait_for 30 bash -c '! grep -q "$2" <<<"$("$1" --var "$3" members list "$4")"' _ "$HERALD" "$STRANGER" "$V" "$LIST"
check "the member stays" bash -c 'grep -q "$1" <<<"$2"' _ "$MEMBER" "$(members)"

# --- a private archive ----------------------------------------------------
check "the post is archived" wait_for 60 bash -c 'ls "$1"/*/0*.html >/dev/null 2>&1' _ "$(H archive path $LIST)"
H config set "$LIST" archive_private 1 >/dev/null
H archive path "$LIST" >/dev/null
browser archive.mjs "archives/demo%40lists.test/" "$MEMBER" memberpw
check "nothing went to bad/ or shunt/" test -z "$(find "$V/queue/bad" "$V/queue/shunt" -name '*.msg' 2>/dev/null)"
diag "screenshots: $WEB_SHOTS"
t_done
