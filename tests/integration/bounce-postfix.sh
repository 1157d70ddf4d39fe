#!/usr/bin/env bash
# Bounce processing end to end through a real Postfix on loopback (the
# private instance of tests/postfix/instance.sh, which delivers some
# addresses into Maildirs and relays the list domain to herald's LMTP
# server), with `herald start`'s default runners (bounces among them):
#   - a post goes out through the delivery runner to Postfix; one member,
#     ghost@members.test, has no mailbox: Postfix accepts the copy (this
#     test turns smtpd_reject_unlisted_recipient off, so an unknown
#     virtual mailbox is found at queue time, not refused at RCPT) and
#     writes a real DSN ("User unknown in virtual mailbox table") to
#     demo-bounces@lists.test, which comes back through LMTP to the
#     bounces queue; the bounces runner detects it, scores it and, at
#     bounce_score_threshold 1, disables ghost at once (`herald bounce
#     status`, `herald members list --nomail`); the owner's Maildir gets
#     the "disabled" notice (ghost's own warning bounces too: it has no
#     mailbox);
#   - a second member, pat@members.test, whose mailbox exists, gets a DSN
#     written here through `herald mta bounces`: disabled too, and the
#     first warning (with the re-enable command) reaches pat's Maildir;
#   - `herald tasks run bounce.disabled` under libfaketime at +8 and +16
#     days sends the second and third warnings (bounce_you_are_disabled_
#     warnings 3, interval 7 days), the third saying it is the last; at +24
#     days both members are removed and the owner's Maildir gets a removal
#     notice for each; nothing else reaches anyone, nothing is left in any
#     queue, and nothing went to bad/ or shunt/.
# sanitizer build: skip (end to end through the real Postfix; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
LIST=demo@lists.test
V=$T_DIR/var			# herald's var dir
SOCK=$V/run/lmtp.sock		# its LMTP server, Postfix's relay
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
PF=$T_DIR/postfix		# the private Postfix instance
MAIL=$T_DIR/mail		# its Maildirs
OWNER=owner@members.test
GHOST=ghost@members.test	# no mailbox: Postfix bounces it
PAT=pat@members.test		# a mailbox; bounced by a DSN written here
ALICE=alice@members.test	# a mailbox; never bounces
export NO_FAKE_STAT=1
if [ -z "$FAKELIB" ]; then
	not_ok "libfaketime is not installed (apt-get install faketime)"
	t_done
fi
trap '"$INSTANCE" "$PF" stop >/dev/null 2>&1;
      "$HERALD" --var "$V" stop >/dev/null 2>&1; t_cleanup' EXIT
H() { "$HERALD" --var "$V" "$@"; }

# As postfix-delivery.sh: Postfix's agents run as postfix (LMTP client)
# and nobody (virtual(8)); every directory on the way is traversable.
postfix_herald "$V" "$PF" "$MAIL" "$ALICE $PAT $OWNER"
H lists create "$LIST" --owner "$OWNER" >/dev/null
printf '%s\n' $ALICE $GHOST $PAT | H members add "$LIST" >/dev/null
H config set "$LIST" bounce_score_threshold 1 >/dev/null
"$INSTANCE" "$PF" setup
H mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"

if ! command -v postfix >/dev/null || ! "$INSTANCE" "$PF" start >"$T_DIR/postfix-start" 2>&1; then
	sed 's/^/# /' "$T_DIR/postfix-start" 2>/dev/null
	skip "bounce-postfix: the private Postfix cannot start here"
	t_done
fi
# Accept mail for unknown virtual mailboxes and bounce it at queue time,
# as a relay in front of the real mailbox host does: the DSN is Postfix's.
postconf -c "$PF/etc" -e smtpd_reject_unlisted_recipient=no &&
	postfix -c "$PF/etc" reload >/dev/null 2>&1
check "the private Postfix starts on 127.0.0.1:$PORT and accepts unknown mailboxes" \
	test "$(postconf -c "$PF/etc" -h smtpd_reject_unlisted_recipient)" = no
check "its master has reloaded the setting" wait_for 10 grep -q ' reload -- version ' "$PF/maillog"
check "it listens" wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)"
start_herald() { H start >/dev/null && wait_for 10 test -S "$SOCK"; }
check "herald's master starts with its default runners (bounces among them)" start_herald
runners_up() {
	local r
	r=$(H status | sed -n '/^runner processes/,/^queues/p')
	for q in in out retry virgin bounces; do grep -q "^  $q 0/1 " <<<"$r" || return 1; done
}
check "the runners are in, out, retry, virgin and bounces" wait_for 10 runners_up

maildir() { echo "$MAIL/${1#*@}/${1%@*}/new"; }
count() { find "$(maildir "$1")" -type f 2>/dev/null | wc -l; }
# with ADDR SUBJECT-REGEX: how many of ADDR's messages have such a subject.
with() { grep -lE "^Subject: $2\$" "$(maildir "$1")"/* 2>/dev/null | wc -l; }
has() { [ "$(with "$1" "$2")" -ge "${3:-1}" ]; }
# Nothing in flight: the queues that runners work (the bounces queue too;
# archive and digest have none here) and Postfix's are empty.
settled() {
	[ -z "$(cd "$V/queue" && find in out retry virgin bounces \
		-name '*.msg' -o -name '*.bak' 2>/dev/null)" ] &&
		postqueue -c "$PF/etc" -p | grep -q 'Mail queue is empty'
}
# status ADDR: the member's `bounce status` line, fields 2, 4, 5, 6 (score,
# reason, delivery status, warnings left).
status() { H bounce status "$LIST" "$1" | cut -f2,4,5,6 | tr '\t' ' '; }
bounce_log() { cat "$V"/logs/*/bounce 2>/dev/null; }

# --- a post; ghost's copy comes back as Postfix's DSN ------------------------
python3 - "$PORT" "$LIST" <<'PY'
import smtplib, sys
port, rcpt = int(sys.argv[1]), sys.argv[2]
msg = ("From: Alice <alice@members.test>\r\nTo: %s\r\nSubject: hello\r\n"
       "Message-ID: <hello@members.test>\r\n\r\nbody of hello\r\n" % rcpt)
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.sendmail("alice@members.test", [rcpt], msg.encode())
s.quit()
PY
check "the post reaches alice's and pat's Maildirs" wait_for 30 \
	bash -c '[ -n "$(ls "$1" 2>/dev/null)" ] && [ -n "$(ls "$2" 2>/dev/null)" ]' _ "$(maildir $ALICE)" "$(maildir $PAT)"
check "Postfix's virtual(8) bounced ghost's copy itself (5.1.1 unknown user)" wait_for 20 \
	grep -qE "to=<$GHOST>, relay=virtual, .*dsn=5\.1\.1, status=bounced \(unknown user" "$PF/maillog"
check "Postfix sent its DSN to demo-bounces@lists.test through herald's LMTP" wait_for 20 \
	grep -qE "to=<demo-bounces@lists.test>.*relay=.*lmtp.*status=sent" "$PF/maillog"
disabled() { status "$1" | grep -q '^1\.0 mailbox-unknown bybounce 2$'; }
check "the bounces runner scored ghost 1.0 (mailbox-unknown) and disabled it, 2 warnings left" \
	wait_for 20 disabled $GHOST
diag "bounce status: $(H bounce status "$LIST" | tr '\t\n' ' |')"
check "the bounce log names Postfix's DSN for demo@lists.test" \
	bash -c 'grep -q "list demo@lists.test: dsn bounce, 1 failure: 1 scored, 1 disabled" <<<"$1"' _ "$(bounce_log)"
check "members list --nomail shows ghost" test "$(H members list "$LIST" --nomail)" = $GHOST
check "the owner's Maildir gets 'ghost disabled'" wait_for 30 \
	has $OWNER "Bounce action notification: $GHOST disabled"
check "ghost's own warning bounced too (no mailbox) and everything settles" wait_for 30 settled
check "the bounce of ghost's warning was not scored again (ghost is disabled already)" \
	test "$(status $GHOST)" = "1.0 mailbox-unknown bybounce 2"

# --- pat: a DSN written here, through `herald mta bounces` ---------------------
printf '%s\n' \
	'From: MAILER-DAEMON@mx.members.test' \
	'To: demo-bounces@lists.test' \
	'Subject: Undelivered Mail Returned to Sender' \
	'Message-ID: <dsn-pat@mx.members.test>' \
	'MIME-Version: 1.0' \
	'Content-Type: multipart/report; report-type=delivery-status; boundary="B"' \
	'' '--B' 'Content-Type: text/plain' '' \
	'Your message could not be delivered to <pat@members.test>.' '' \
	'--B' 'Content-Type: message/delivery-status' '' \
	'Reporting-MTA: dns; mx.members.test' '' \
	'Final-Recipient: rfc822; pat@members.test' \
	'Action: failed' 'Status: 5.1.1' \
	'Diagnostic-Code: smtp; 550 5.1.1 <pat@members.test>: mailbox unavailable' '' \
	'--B' 'Content-Type: text/rfc822-headers' '' \
	'From: alice@members.test' 'To: demo@lists.test' 'Subject: [Demo] hello' '' \
	'--B--' | H mta bounces "$LIST" --sender '' --recipient demo-bounces@lists.test
check "herald mta bounces stores pat's DSN" test $? -eq 0
check "pat is scored 1.0 and disabled, 2 warnings left" wait_for 20 disabled $PAT
# The warning (template disabled): Subject "confirm TOKEN", so that a reply
# re-enables.
WARN="confirm [A-Za-z0-9_-]{43}"
check "pat's first warning reaches pat's Maildir" wait_for 30 has $PAT "$WARN"
check "it tells how to re-enable (set delivery on, to demo-request)" \
	bash -c 'grep -lE "^Subject: $1\$" "$2"/* | xargs grep -q "^ *set delivery on$" &&
		grep -lE "^Subject: $1\$" "$2"/* | xargs grep -q "demo-request@lists.test"' _ "$WARN" "$(maildir $PAT)"
check "and that a reply goes to demo-confirm+TOKEN" \
	bash -c 'grep -lE "^Subject: $1\$" "$2"/* | xargs grep -qE "^Reply-To: demo-confirm\+[A-Za-z0-9_-]{43}@lists.test"' _ "$WARN" "$(maildir $PAT)"
check "the owner's Maildir gets 'pat disabled'" wait_for 30 \
	has $OWNER "Bounce action notification: $PAT disabled"
check "members list --nomail shows ghost and pat" \
	test "$(H members list "$LIST" --nomail | tr '\n' ' ')" = "$GHOST $PAT "
check "everything settles" wait_for 30 settled

# --- the daily task at +8, +16, +24 days -----------------------------------------
# task OFFSET: bounce.disabled with the clock at now + OFFSET; its output.
task() { at "$1" "$HERALD" --var "$V" tasks run bounce.disabled 2>&1; }
t0=$(date +%s)
out=$(task +8d)
diag "+8d: $out"
check "+8 days: the task sends two warnings (ghost, pat), removes nobody" \
	grep -q "2 warnings sent, 0 members removed" <<<"$out"
check "pat's Maildir has the second warning" wait_for 30 has $PAT "$WARN" 2
check "both have 1 warning left" \
	test "$(status $GHOST)/$(status $PAT)" = "1.0 mailbox-unknown bybounce 1/1.0 mailbox-unknown bybounce 1"
check "everything settles (ghost's second warning bounced, not scored)" wait_for 30 settled
out=$(task +8d)
check "the same day again: nothing more is sent" grep -q "0 warnings sent, 0 members removed" <<<"$out"
out=$(task +16d)
diag "+16d: $out"
check "+16 days: two more warnings, nobody removed" grep -q "2 warnings sent, 0 members removed" <<<"$out"
check "pat's Maildir has the third warning" wait_for 30 has $PAT "$WARN" 3
check "the third says it is the last" \
	bash -c '[ "$(grep -lE "^Subject: $1\$" "$2"/* | xargs grep -l "You will get 0 more reminders" | wc -l)" -eq 1 ]' \
	_ "$WARN" "$(maildir $PAT)"
check "everything settles" wait_for 30 settled
out=$(task +24d)
diag "+24d: $out"
check "+24 days: no warning left: ghost and pat are removed" grep -q "0 warnings sent, 2 members removed" <<<"$out"
check "the roster is alice alone" test "$(H members list "$LIST")" = $ALICE
diag "bounce status: $(H bounce status "$LIST" | tr "\t\n" " |")"
check "nobody is left in members list --nomail or bounce status" \
	test -z "$(H members list "$LIST" --nomail)$(H bounce status "$LIST")"
check "the owner's Maildir gets 'ghost removed'" wait_for 30 \
	has $OWNER "Bounce action notification: $GHOST removed"
check "and 'pat removed'" wait_for 30 has $OWNER "Bounce action notification: $PAT removed"
check "everything settles" wait_for 30 settled
diag "the three task runs and their mail took $(( $(date +%s) - t0 )) s"

# --- nothing else --------------------------------------------------------------------
check "pat got the post and three warnings, nothing else" test "$(count $PAT)" -eq 4
check "alice got the post only" test "$(count $ALICE)" -eq 1
check "the owner got exactly the two 'disabled' and the two 'removed' notices" \
	test "$(count $OWNER)" -eq 4 -a "$(with $OWNER 'Bounce action notification: .*')" -eq 4
check "nothing went to bad/ or shunt/" \
	test -z "$(find "$V/queue/bad" "$V/queue/shunt" -type f 2>/dev/null)"
# Five DSNs in all: Postfix's for the post and for ghost's three
# warnings, and pat's.
check "five DSNs processed: ghost's and pat's first scored and disabled, the other three ignored" \
	test "$(bounce_log | grep -c 'dsn bounce, 1 failure: 1 scored, 1 disabled, 0 not members, 0 ignored')/$(bounce_log | grep -c 'dsn bounce, 1 failure: 0 scored, 0 disabled, 0 not members, 1 ignored')/$(bounce_log | grep -c 'dsn bounce')" = 2/3/5
check "Postfix bounced ghost's copies four times (the post, three warnings)" \
	test "$(grep -cE "to=<$GHOST>, relay=virtual, .*status=bounced" "$PF/maillog")" -eq 4
check "no unrecognized bounce (every DSN named a member)" \
	bash -c '! grep -q unrecognized <<<"$1"' _ "$(bounce_log)"
check "no .tmp or .bak in the queues" no_leftovers "$V"
H stop >/dev/null
"$INSTANCE" "$PF" stop
t_done
