#!/usr/bin/env bash
# `herald mta KIND LIST`, the MTA's pipe: exit 0 only once the message is
# stored in its queue, 67 for an unknown list, 75 for any other failure
# (nothing half-written left), 64 for an unknown kind.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
"$HERALD" --var "$V" lists create demo@example.org --owner admin@example.org >/dev/null
msg() { printf 'From: alice@example.org\nTo: demo@example.org\nSubject: hi\nMessage-ID: <%s@example.org>\n\nbody\n' "$1"; }
entries() { find "$V/queue/$1" -name '*.msg' 2>/dev/null | wc -l; }

msg p1 | SENDER=alice@example.org RECIPIENT=demo@example.org "$HERALD" --var "$V" mta post demo@example.org
check "a post is accepted with exit 0" test $? -eq 0
check "and stored in the in queue" test "$(entries in)" -eq 1
f=$(find "$V/queue/in" -name '*.msg')
shown=$("$HERALD" queue show "$f")
check "with list, kind, sender and recipient in its metadata" bash -c "echo \"\$1\" | grep -qx 'list: demo@example.org' && echo \"\$1\" | grep -qx 'kind: post' && echo \"\$1\" | grep -qx 'sender: alice@example.org' && echo \"\$1\" | grep -qx 'recipient: demo@example.org'" _ "$shown"
check "the message is stored byte for byte" bash -c "diff <('$HERALD' queue show '$f' | sed '1,/^\$/d') <(printf 'From: alice@example.org\nTo: demo@example.org\nSubject: hi\nMessage-ID: <p1@example.org>\n\nbody\n')"
check "the accept is logged" grep -q "accepted post for demo@example.org from alice@example.org" "$V"/logs/*/mta

for k in request join leave confirm; do
	msg "$k" | "$HERALD" --var "$V" mta $k demo@example.org --sender bob@example.org
done
check "request, join, leave, confirm go to the commands queue" test "$(entries commands)" -eq 4
msg b1 | "$HERALD" --var "$V" mta bounces demo@example.org
check "bounces go to the bounces queue" test "$(entries bounces)" -eq 1
msg o1 | "$HERALD" --var "$V" mta owner demo@example.org
check "owner mail goes to the in queue (owner pipeline)" test "$(entries in)" -eq 2

msg x | "$HERALD" --var "$V" mta post nosuch@example.org 2>/dev/null
check "an unknown list gives 67 (EX_NOUSER): the MTA bounces" test $? -eq 67
msg x | "$HERALD" --var "$V" mta post ../../etc@example.org 2>/dev/null
check "a path trick as list name gives 67 too" test $? -eq 67
msg x | "$HERALD" --var "$V" mta frobnicate demo@example.org 2>/dev/null
check "an unknown kind gives 64 (EX_USAGE)" test $? -eq 64
check "none of these stored anything" test "$(entries in)" -eq 2

msg x | "$HERALD" --var "$T_DIR/nowhere" mta post demo@example.org 2>/dev/null
check "a var dir without configuration gives 75: the MTA retries" test $? -eq 75
for f in write_enospc=1 fsync_enospc=1 rename_enospc=1; do
	before=$(entries in)
	err=$(msg x | LD_PRELOAD=$SHIM NFSFAULT=$f NFSFAULT_PATH=/queue/ "$HERALD" --var "$V" mta post demo@example.org 2>&1)
	rc=$?
	check "$f: exit 75 ($err)" test "$rc" -eq 75
	check "$f: nothing visible in the queue" test "$(entries in)" -eq "$before" -a -z "$(find "$V/queue/in" -name '*.tmp')"
done
check "temporary failures are logged with the reason" grep -q "temporary failure for demo@example.org, the MTA keeps the message: .*No space left on device" "$V"/logs/*/mta
t_done
