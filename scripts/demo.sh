#!/usr/bin/env bash
# scripts/demo.sh - herald's main job on a fresh Debian 12 machine (as root):
# a working mailing list on loopback.
#
#   1. installs the dependencies and builds herald;
#   2. starts a private Postfix instance (its own directory under $DEMO,
#      listening on 127.0.0.1:$PORT only; the machine's /etc/postfix is never
#      read or written) that hands list mail to herald over LMTP and delivers
#      the members' mail into local Maildirs;
#   3. creates the list demo@lists.example with three members, starts herald;
#   4. sends a post by SMTP into Postfix, and shows that each member's
#      Maildir received it (with the list's headers, footer and the VERP
#      Return-Path), the post in the archive, and a nonmember's post held
#      for the moderator;
#   5. serves the web interface on http://127.0.0.1:$WEBPORT/ (the list's
#      page, its archive, the owner's and the site admin's pages).
#
#   scripts/demo.sh          run it (leaves herald and Postfix running)
#   scripts/demo.sh stop     stop both
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
DEMO=${HERALD_DEMO_DIR:-/var/tmp/herald-demo}
V=$DEMO/var
PF=$DEMO/postfix
MAIL=$DEMO/mail
H=$TOP/build/herald
export PORT=${HERALD_DEMO_PORT:-2525}
WEBPORT=${HERALD_DEMO_WEB_PORT:-8080}
MEMBERS="alice@members.example bob@members.example carol@members.example"

stop() {
	[ -x "$H" ] && [ -d "$V" ] && "$H" --var "$V" stop >/dev/null 2>&1 || true
	[ -d "$PF" ] && HERALD_TABLES=$V/etc/postfix tests/postfix/instance.sh "$PF" stop || true
}
if [ "${1:-}" = stop ]; then
	stop
	echo "demo stopped"
	exit 0
fi

echo "== installing dependencies and building"
bash scripts/install-deps.sh
make -j2 >/dev/null

echo "== a fresh demo under $DEMO"
stop
rm -rf "$DEMO"
mkdir -p "$DEMO"
chmod 755 "$DEMO"
"$H" --var "$V" init >/dev/null
SOCK=$V/run/lmtp.sock
# Postfix's LMTP client (user postfix) reaches the socket through run/.
chgrp postfix "$V" "$V/run" "$V/etc" && chmod g+s "$V/run"
"$H" --var "$V" site set lmtp.listen "unix:$SOCK"
"$H" --var "$V" site set lmtp.socket_group postfix
"$H" --var "$V" site set mta.postfix_config "$PF/etc"
"$H" --var "$V" site set mta.smtp_port "$PORT"
# The web interface on loopback (behind nginx or Apache on a real site,
# docs/web.md).
WEB=http://127.0.0.1:$WEBPORT/
"$H" --var "$V" site set web.listen "127.0.0.1:$WEBPORT"
"$H" --var "$V" site set web.base_url "$WEB"
echo demo-admin | "$H" --var "$V" web password
"$H" --var "$V" lists create demo@lists.example --owner owner@members.example
for m in $MEMBERS; do echo "$m"; done | "$H" --var "$V" members add demo@lists.example
"$H" --var "$V" config set demo@lists.example description "herald's demo list"
"$H" --var "$V" config set demo@lists.example password demo-owner >/dev/null
"$H" --var "$V" config set demo@lists.example msg_footer \
	'-- 
%(real_name)s mailing list: %(listinfo_url)s'

echo "== Postfix on 127.0.0.1:$PORT, instance directory $PF"
export HERALD_TABLES=$V/etc/postfix HERALD_MAILDIRS=$MAIL
export HERALD_MAILBOXES="$MEMBERS owner@members.example"
tests/postfix/instance.sh "$PF" setup
"$H" --var "$V" mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"
tests/postfix/instance.sh "$PF" start
for _ in $(seq 50); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break
	sleep 0.1
done

echo "== starting herald"
"$H" --var "$V" start
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
"$H" --var "$V" status

send() {
	python3 - "$PORT" "$1" "$2" <<'PY'
import smtplib, sys
port, sender, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3]
msg = ("From: %s\r\nTo: demo@lists.example\r\nSubject: %s\r\n"
       "Message-ID: <%s@members.example>\r\n\r\nHello, list!\r\n"
       % (sender, subject, subject.replace(" ", "-")))
s = smtplib.SMTP("127.0.0.1", port)
s.sendmail(sender, ["demo@lists.example"], msg.encode())
s.quit()
PY
}

echo "== alice posts to demo@lists.example through Postfix"
send alice@members.example "Welcome to herald"
count() { find "$MAIL/members.example/${1%@*}/new" -type f 2>/dev/null | wc -l; }
got=0
for _ in $(seq 300); do
	got=0
	for m in $MEMBERS; do [ "$(count "$m")" -ge 1 ] && got=$((got + 1)); done
	[ "$got" -eq 3 ] && break
	sleep 0.1
done
for m in $MEMBERS; do
	echo "-- $m: $(count "$m") message(s) in $MAIL/members.example/${m%@*}/new"
done
f=$(find "$MAIL/members.example/bob/new" -type f | head -1)
if [ -n "$f" ]; then
	echo "== bob's copy, as delivered into his Maildir:"
	cat "$f"
fi

echo "== the post in the list's archive"
ARCH=$("$H" --var "$V" archive path demo@lists.example)
page=
for _ in $(seq 100); do
	page=$(find "$ARCH" -name '0*.html' 2>/dev/null | head -1)
	[ -n "$page" ] && break
	sleep 0.1
done
echo "   archive folder: $ARCH (index.html lists the periods)"
echo "   the post's page: ${page:-(not archived yet)}"
echo "   search: $("$H" --var "$V" archive search demo@lists.example herald 2>/dev/null | head -1)"

echo "== mallory (not a member) posts: held for the moderator"
send mallory@elsewhere.example "Buy now"
for _ in $(seq 100); do
	"$H" --var "$V" held list demo@lists.example | grep -q mallory && break
	sleep 0.1
done
"$H" --var "$V" held list demo@lists.example
echo "   (approve with: $H --var $V held approve demo@lists.example ID)"
echo "== queues"
"$H" --var "$V" queue
echo "== herald's logs: $V/logs/; Postfix's log: $PF/maillog"
echo "== the web interface: ${WEB}"
for _ in $(seq 50); do curl -s -o /dev/null "$WEB" && break; sleep 0.1; done
title=$(curl -s "${WEB}listinfo/demo%40lists.example" | grep -o '<h1>[^<]*</h1>' | head -1)
echo "   list page:   ${WEB}listinfo/demo%40lists.example  ($title)"
echo "   archive:     ${WEB}archives/demo%40lists.example/"
echo "   owner login: ${WEB}admin/demo%40lists.example  (password demo-owner)"
echo "   site admin:  ${WEB}admin/  (password demo-admin)"
echo "== 'scripts/demo.sh stop' stops it all"
if [ "$got" -eq 3 ]; then
	echo "demo done: the post reached all 3 members' Maildirs"
else
	echo "demo FAILED: the post reached $got of 3 members" >&2
	exit 1
fi
