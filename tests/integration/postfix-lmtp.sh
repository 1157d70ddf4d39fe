#!/usr/bin/env bash
# A real Postfix in front of herald: a private instance on 127.0.0.1
# (tests/postfix/instance.sh, never the machine's own) with the tables of
# `herald mta-config postfix --write` accepts list mail by SMTP, refuses
# unknown recipients at RCPT, and hands the mail to herald's LMTP server;
# while herald is down the mail waits in Postfix's deferred queue and
# arrives once herald is back and the queue is flushed.
# sanitizer build: skip (end to end through the real Postfix; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
PF=$T_DIR/postfix
V=$(new_var v)
SOCK=$V/run/lmtp.sock
export PORT
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export HERALD_TABLES=$V/etc/postfix
trap '"$INSTANCE" "$PF" stop >/dev/null 2>&1; t_cleanup' EXIT
entries() { find "$V/queue/$1" -name '*.msg' 2>/dev/null | wc -l; }
has() { test "$(entries "$1")" -ge "$2"; }
start_herald() {
	"$HERALD" --var "$V" start && wait_for 10 test -S "$SOCK"
}

# Postfix's delivery agents run as the postfix user: the LMTP socket
# (mode 0660) must have its group, which a setgid run/ gives it; the
# tables must be readable, every directory on the way traversable.
chmod o+x "$T_DIR"
chgrp postfix "$V" "$V/run" "$V/etc" && chmod g+s "$V/run"

"$HERALD" --var "$V" lists create demo@lists.test --owner admin@example.org >/dev/null
"$HERALD" --var "$V" site set lmtp.listen "unix:$SOCK"
# postmap (run by mta-config, lists create/remove) reads the instance's
# main.cf, not /etc/postfix's (which need not exist).
"$HERALD" --var "$V" site set mta.postfix_config "$PF/etc"
# The instance's main.cf first (postmap reads it), then the tables.
"$INSTANCE" "$PF" setup
check "mta-config postfix --write installs the tables" \
	bash -c '"$1" --var "$2" mta-config postfix --write >/dev/null' _ "$HERALD" "$V"
check "the tables are postmapped" test -f "$HERALD_TABLES/recipients.db" -a -f "$HERALD_TABLES/transport.db"
chgrp -R postfix "$HERALD_TABLES"
check "herald's master starts with its LMTP server" start_herald
check "the private Postfix starts on 127.0.0.1:$PORT" "$INSTANCE" "$PF" start
check "it listens on 127.0.0.1:$PORT" wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)"

# smtp.py SENDER SUBJECT RCPT...: one message by SMTP; prints each
# recipient's RCPT reply code, then the DATA reply code.
cat >"$T_DIR/smtp.py" <<'PY'
import smtplib, sys
port, sender, subject, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.test")
s.mail(sender)
ok = False
for r in rcpts:
    code, _ = s.rcpt(r)
    print(code, r)
    ok = ok or code == 250
if ok:
    code, _ = s.data(("From: %s\r\nTo: demo@lists.test\r\nSubject: %s\r\n\r\nbody of %s\r\n"
                      % (sender, subject, subject)).encode())
    print(code, "DATA")
s.quit()
PY
smtp() { python3 "$T_DIR/smtp.py" "$PORT" "$@"; }

out=$(smtp alice@example.net one demo@lists.test demo-request@lists.test \
	demo-bounces+bob=example.net@lists.test nobody@lists.test)
echo "$out" | sed 's/^/# /'
check "nobody@lists.test is refused at RCPT with 550" grep -qx '550 nobody@lists.test' <<<"$out"
check "the three list addresses are accepted at RCPT" test "$(grep -c '^250 demo' <<<"$out")" -eq 3
check "the message is accepted" grep -qx '250 DATA' <<<"$out"

check "the post reaches herald's in queue" wait_for 30 has in 1
check "the request reaches the commands queue" wait_for 30 has commands 1
check "the bounce reaches the bounces queue" wait_for 30 has bounces 1
check "exactly one of each" test "$(entries in)/$(entries commands)/$(entries bounces)" = 1/1/1
f=$(ls "$V"/queue/in/*.msg 2>/dev/null | head -1)
check "the post's metadata: list, kind, sender" bash -c 'grep -qx "list: demo@lists.test" "$1" && grep -qx "kind: post" "$1" && grep -qx "sender: alice@example.net" "$1"' _ "$f"
f=$(ls "$V"/queue/commands/*.msg 2>/dev/null | head -1)
check "the request's metadata: list, kind" bash -c 'grep -qx "list: demo@lists.test" "$1" && grep -qx "kind: request" "$1"' _ "$f"
f=$(ls "$V"/queue/bounces/*.msg 2>/dev/null | head -1)
check "the bounce keeps its VERP recipient" bash -c 'grep -qx "kind: bounces" "$1" && grep -qx "recipient: demo-bounces+bob=example.net@lists.test" "$1"' _ "$f"
check "Postfix logs status=sent via lmtp" wait_for 10 bash -c "grep -E 'postfix-herald-test/lmtp.*to=<demo@lists.test>.*relay=.*status=sent' '$PF/maillog' >/dev/null"
check "nothing is left in Postfix's queue" wait_for 10 bash -c "postqueue -c '$PF/etc' -p | grep -q 'Mail queue is empty'"

# herald down: Postfix keeps the message.
"$HERALD" --var "$V" stop >/dev/null
check "herald's LMTP socket is gone" test ! -e "$SOCK"
out=$(smtp carol@example.net two demo@lists.test | tr "\n" " ")
check "Postfix still accepts the post ($out)" grep -q "250 DATA" <<<"$out"
deferred() { postqueue -c "$PF/etc" -p | grep -q 'demo@lists.test'; }
check "the post waits in Postfix's queue" wait_for 30 bash -c "grep -q 'to=<demo@lists.test>.*status=deferred' '$PF/maillog'"
check "postqueue -p lists it" deferred
check "it is in the deferred queue" test -n "$(find "$PF/spool/deferred" -type f)"
check "herald did not get it" test "$(entries in)" -eq 1

check "herald starts again" start_herald
postqueue -c "$PF/etc" -f
check "after a flush the post reaches herald's in queue" wait_for 30 has in 2
check "from its sender" bash -c 'grep -lx "sender: carol@example.net" "$@" >/dev/null' _ "$V"/queue/in/*.msg
check "and Postfix's queue is empty" wait_for 10 bash -c "postqueue -c '$PF/etc' -p | grep -q 'Mail queue is empty'"

"$INSTANCE" "$PF" stop
check "the private Postfix stops" bash -c "! ss -ltn | grep -q '127.0.0.1:$PORT '"
"$HERALD" --var "$V" stop >/dev/null
t_done
