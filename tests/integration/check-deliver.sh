#!/usr/bin/env bash
# check-deliver.sh - `herald check --deliver-test` through a real Postfix
# (a private instance, tests/postfix/instance.sh): herald sends a test
# message by SMTP to Postfix (mta.smtp_host/mta.smtp_port), which relays
# it to herald's LMTP socket, into a scratch list made for the test.
#   - wired right: every hop is printed (the MTA took it, the pipeline
#     took it, it was archived), exit 0, and the scratch list is gone
#     after, from the lists and from Postfix's tables;
#   - Postfix's transport_maps without the scratch list (a stale table):
#     Postfix refuses the address; exit 1 and a problem line with
#     Postfix's reply and what to do;
#   - the transport table sending the list to a socket where nothing
#     listens: Postfix takes the message but never hands it to herald;
#     exit 1 and a problem line saying it did not reach herald, naming
#     Postfix's queue id, with what to do;
#   - the MTA down: exit 1, "did not take the test message";
#   - the master stopped: the message waits in the in queue, and the
#     problem says so.
# sanitizer build: skip (end to end through the real Postfix; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
PF=$T_DIR/postfix
V=$T_DIR/var
SOCK=$V/run/lmtp.sock
LIST=demo@lists.test
SCRATCH=herald-check@lists.test
trap '"$INSTANCE" "$PF" stop >/dev/null 2>&1;
      "$HERALD" --var "$V" stop >/dev/null 2>&1; t_cleanup' EXIT

postfix_herald "$V" "$PF" "" ""
"$HERALD" --var "$V" lists create "$LIST" --owner owner@lists.test >/dev/null
"$INSTANCE" "$PF" setup
"$HERALD" --var "$V" mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"
if ! command -v postfix >/dev/null || ! "$INSTANCE" "$PF" start >"$T_DIR/postfix-start" 2>&1; then
	sed 's/^/# /' "$T_DIR/postfix-start" 2>/dev/null
	skip "check-deliver: the private Postfix cannot start here"
	t_done
fi
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)"
"$HERALD" --var "$V" start >/dev/null && wait_for 10 test -S "$SOCK"

# doctor ARGS...: herald check --deliver-test, output in $T_DIR/out, status RC.
doctor() {
	"$HERALD" --var "$V" check --postfix-config "$PF/etc" --deliver-test "$@" >"$T_DIR/out" 2>&1
	RC=$?
}
show() { sed 's/^/# /' "$T_DIR/out"; }
has() { grep -q "$1" "$T_DIR/out"; }
# problem PATTERN: a PROBLEM line matching it, with a fix line after it.
problem() { grep -A1 "^PROBLEM: .*$1" "$T_DIR/out" | grep -q '^  fix: '; }

t0=$(date +%s)
doctor --deliver-timeout 30
diag "the delivery test took $(($(date +%s) - t0)) s"
show
check "wired right: exit 0, no problem" eval '[ "$RC" = 0 ] && has "^no problem found"'
check "it made the scratch list $SCRATCH" has "^deliver-test: scratch list $SCRATCH created"
check "the MTA took the test message (Postfix's queue id)" \
	has "^deliver-test: ok: the MTA (127.0.0.1:$PORT) accepted the test message .*250.*queued as"
check "herald's posting pipeline took it" has "^deliver-test: ok: herald received it and its posting pipeline took it"
check "it was archived" has "^deliver-test: ok: the archive runner archived it"
check "the scratch list was removed after" has "^deliver-test: scratch list $SCRATCH removed"
check "... from the lists" bash -c '! "$1" --var "$2" lists | grep -q "$3"' _ "$HERALD" "$V" "$SCRATCH"
check "... and from Postfix's tables" bash -c '! grep -q "$1" "$2"/transport "$2"/recipients' _ "$SCRATCH" "$HERALD_TABLES"
check "... with its archive" test ! -e "$V/archives/$SCRATCH"

# Broken wiring 1: Postfix reads a transport table without the scratch
# list (herald's table as it was before the test, not the one herald
# updates): its smtpd refuses the address (the relay transport is an error).
cp "$HERALD_TABLES/transport" "$T_DIR/transport.stale"
postmap -c "$PF/etc" "hash:$T_DIR/transport.stale"
chgrp postfix "$T_DIR"/transport.stale*
postconf -c "$PF/etc" -e "transport_maps = hash:$T_DIR/transport.stale"
postfix -c "$PF/etc" reload >/dev/null 2>&1
doctor --deliver-timeout 5
show
check "transport_maps without the list: exit 1" [ "$RC" = 1 ]
check "... a problem: the MTA refused the test message, with Postfix's reply and what to do" \
	eval 'problem "the MTA (127.0.0.1:$PORT) refused the test message to $SCRATCH: 5[0-9][0-9] " &&
		grep -q "^  fix: .*relay_domains.*transport_maps" "$T_DIR/out"'
check "... no hop is reported as passed" bash -c '! grep -q "deliver-test: ok:" "$1"' _ "$T_DIR/out"
check "... and the scratch list is removed all the same" has "^deliver-test: scratch list $SCRATCH removed"

# Broken wiring 2: the transport table sends the scratch list to an LMTP
# socket where nothing listens: Postfix takes the message, and defers it.
{ cat "$T_DIR/transport.stale"; echo "$SCRATCH lmtp:unix:$T_DIR/nowhere.sock"; } >"$T_DIR/transport.wrong"
postmap -c "$PF/etc" "hash:$T_DIR/transport.wrong"
chgrp postfix "$T_DIR"/transport.wrong*
postconf -c "$PF/etc" -e "transport_maps = hash:$T_DIR/transport.wrong"
postfix -c "$PF/etc" reload >/dev/null 2>&1
t0=$(date +%s)
doctor --deliver-timeout 5
diag "the broken delivery test took $(($(date +%s) - t0)) s"
show
qid=$(sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' "$T_DIR/out" | head -1)
check "the list sent to the wrong socket: exit 1" [ "$RC" = 1 ]
check "... the MTA took it" has "^deliver-test: ok: the MTA .* accepted the test message"
check "... a problem: it did not reach herald, with Postfix's queue id ${qid:-?} and what to do" \
	eval '[ -n "$qid" ] && problem "the MTA accepted the test message but it did not reach herald in 5 s" &&
		grep -q "^  fix: .*grep $qid in the mail log.*transport_maps must send $SCRATCH" "$T_DIR/out"'
check "... no hop after the MTA is reported as passed" bash -c '! grep -q "pipeline took it\|archived it" "$1"' _ "$T_DIR/out"
postconf -c "$PF/etc" -e "transport_maps = hash:$HERALD_TABLES/transport"
postfix -c "$PF/etc" reload >/dev/null 2>&1

# No runner: the master stopped, `herald lmtp` alone serves LMTP, so the
# message reaches the in queue and waits there.
"$HERALD" --var "$V" stop >/dev/null
"$HERALD" --var "$V" lmtp >/dev/null 2>&1 &
LMTP_PID=$!
wait_for 10 test -S "$SOCK"
doctor --deliver-timeout 5
show
check "no runner: exit 1, the message waits in herald's in queue" \
	eval '[ "$RC" = 1 ] && problem "reached herald.s in queue but no runner took it in 5 s"'
kill "$LMTP_PID" 2>/dev/null; wait "$LMTP_PID" 2>/dev/null

# The MTA down.
"$INSTANCE" "$PF" stop >/dev/null 2>&1
doctor --deliver-timeout 5
show
check "the MTA down: exit 1, it did not take the test message" \
	eval '[ "$RC" = 1 ] && problem "the MTA (127.0.0.1:$PORT) did not take the test message"'
doctor --deliver-timeout 5 --test-list foo
check "--test-list without a domain: a problem named, exit 1 (not a crash)" \
	eval '[ "$RC" = 1 ] && problem "deliver-test: --test-list: bad list name .foo."'
t_done
