#!/usr/bin/env bash
# `herald mta KIND LIST`, the MTA's pipe: exit 0 only once the message is
# stored in its queue, 67 for an unknown list, 75 for any other failure
# (nothing half-written left), a usage error too (an unknown kind, an
# unknown option, a missing argument): a misconfigured transport must not
# make the MTA bounce mail.  65 (EX_DATAERR, with the RFC 3463 status first
# on standard error) for a message refused for what it is: not a message
# herald can read back (5.6.0), or larger than entry.max_message_size
# (5.3.4), the old lmtp.max_message_size obeyed in its place when set.
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
err=$(msg x | "$HERALD" --var "$V" mta frobnicate demo@example.org 2>&1)
rc=$?
check "an unknown kind gives 75 (EX_TEMPFAIL), not 64: the MTA keeps the message" test "$rc" -eq 75
check "standard error names the unknown kind ($err)" bash -c "echo \"\$1\" | grep -q \"unknown kind 'frobnicate'\"" _ "$err"
check "the log says why the MTA keeps it" grep -q "usage error, the MTA keeps the message: unknown kind 'frobnicate'" "$V"/logs/*/mta
msg x | "$HERALD" --var "$V" mta post demo@example.org --frobnicate 2>/dev/null
check "an unknown option gives 75" test $? -eq 75
msg x | "$HERALD" --var "$V" mta post demo@example.org --sender 2>/dev/null
check "an option without its value gives 75" test $? -eq 75
msg x | "$HERALD" --var "$V" mta post 2>/dev/null
check "a missing LIST gives 75" test $? -eq 75
msg x | "$HERALD" --var "$V" mta 2>/dev/null
check "no arguments at all give 75" test $? -eq 75
msg x | env -u RECIPIENT "$HERALD" --var "$V" mta auto 2>/dev/null
check "mta auto without a recipient gives 75" test $? -eq 75
check "none of these stored anything" test "$(entries in)" -eq 2
check "mta --help is the only usage that exits 0" bash -c "'$HERALD' mta --help | grep -q 'Exit 0 once stored'"
msg x | "$HERALD" --var "$V" mta post demo@example.org --sender=carol@example.org
check "--sender=ADDR works as --sender ADDR" bash -c "'$HERALD' queue show \"\$(ls -t '$V'/queue/in/*.msg | head -1)\" | grep -qx 'sender: carol@example.org'"
msg x | "$HERALD" --var "$V" mta post demo@example.org --sender ''
check "an empty --sender (the null sender of a bounce) is a value" test $? -eq 0

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

# Refused for what it is: 65, nothing stored.
before=$(entries in)
err=$(printf 'From VM Thu Oct\n\nHi\n' | "$HERALD" --var "$V" mta post demo@example.org 2>&1)
rc=$?
check "an mbox From line and a body (no header) give 65 (EX_DATAERR): the MTA bounces it" test "$rc" -eq 65
check "standard error starts with 5.6.0 and the reason ($err)" bash -c "echo \"\$1\" | grep -q '^5.6.0 herald: message for demo@example.org refused: not a message: no header could be read'" _ "$err"
err=$(printf 'From userR' | "$HERALD" --var "$V" mta post demo@example.org 2>&1)
check "the fuzzer's 'From userR' gives 65 too" test $? -eq 65
check "nothing refused was stored" test "$(entries in)" -eq "$before"
check "mta --help names exit 65" bash -c "'$HERALD' mta --help | grep -q '65 for a message refused'"
big() { printf 'From: alice@example.org\nSubject: big\n\n'; head -c 4000 /dev/zero | tr '\0' 'x' | fold -w 70; }
"$HERALD" --var "$V" site set entry.max_message_size 2048
err=$(big | "$HERALD" --var "$V" mta post demo@example.org 2>&1)
rc=$?
check "a message over entry.max_message_size gives 65" test "$rc" -eq 65
check "standard error starts with 5.3.4 and names the limit ($err)" bash -c "echo \"\$1\" | grep -q '^5.3.4 herald: message for demo@example.org refused: larger than 2048 bytes (entry.max_message_size)'" _ "$err"
check "the refusal is logged" grep -q "refused a message for demo@example.org (5.3.4, the MTA bounces it)" "$V"/logs/*/mta
"$HERALD" --var "$V" site set lmtp.max_message_size 100000
big | "$HERALD" --var "$V" mta post demo@example.org
check "lmtp.max_message_size, the old name, is obeyed in its place when set" test $? -eq 0
"$HERALD" --var "$V" site set lmtp.max_message_size 0
big | "$HERALD" --var "$V" mta post demo@example.org 2>/dev/null
check "and 0 leaves it to entry.max_message_size again" test $? -eq 65
check "only the message within the limit was stored" test "$(entries in)" -eq $((before + 1))
t_done
