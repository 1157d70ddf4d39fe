#!/usr/bin/env bash
# What the entries accept, every later stage reads back (issue 10, items 4
# and 9; src/lib/entry/accept.h).
#   - `herald mta` refuses, exit 65 with "5.6.0 ..." on standard error and
#     nothing stored, what herald could not read back once stored: an mbox
#     "From " line and a body (GMime skipped the line and made a message
#     with no header, which went to bad/ after it was held and approved),
#     the fuzzer's 10 bytes "From userR", a message starting with a blank
#     line.  The LMTP server answers the same messages 554 5.6.0.
#   - A message with a "From " line before its headers is still taken, and
#     goes through hold, approval and the pipeline to the out queue.
#   - A held post an older herald stored with no header (what it wrote of
#     the "From " line case) is approved and reaches the out queue (it used
#     to say approved, then bad/); one that cannot be read at all is not
#     approved: `held approve` fails and says so, the post stays held,
#     nothing goes to the in queue.
#   - The fuzzer's finding F5: a post whose only header is "Approved:"
#     loses it in the pipeline, is held with no header, and is approved:
#     what herald wrote reads back, the post reaches the out queue.
#   - The fuzzer's finding F4: a line ":Sender: x" after the first header
#     (kept by GMime as a header with no name) on an anonymous list, whose
#     cleansing removed the headers before it: what the pipeline wrote
#     started with that line and could not be read back (bad/).
#   - One size limit, entry.max_message_size, for both entries, enforced
#     while reading: a 200 MB message to the pipe with a 1 MB limit exits
#     65 with "5.3.4 ..." and the process's peak RSS stays under 24 MB (it
#     read 200 MB into memory, twice over, before); the LMTP server
#     answers 552 at the same limit.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
entries() { find "$V/queue/$1" -name '*.msg' 2>/dev/null | wc -l; }
L=demo@example.org
# newlist LIST: a list with one member (so that a post has a recipient).
newlist() {
	H lists create "$1" --owner admin@example.org >/dev/null &&
	echo member@example.com | H members add "$1" >/dev/null
}
newlist $L
H config set $L generic_nonmember_action 1 >/dev/null	# hold
H config set $L require_explicit_destination no >/dev/null
pipeline_runners "$V" >/dev/null
# A list that takes everything: a message injected into its in queue and
# run through the pipeline is read back as the next stage would.
newlist sink@example.org
H config set sink@example.org generic_nonmember_action 0 >/dev/null
H config set sink@example.org require_explicit_destination no >/dev/null
mta() { SENDER=poster@example.net H mta post $L 2>"$T_DIR/err"; }
err() { cat "$T_DIR/err"; }
runner_in() { H runner in --once >>"$T_DIR/runner.log" 2>&1; }
bad() { find "$V/queue/bad" -type f 2>/dev/null | wc -l; }
# readable FILE: FILE's message, fed to the pipeline again, is read: it
# reaches the out queue and nothing goes to bad/.
readable() {
	local before_out before_bad
	before_out=$(entries out)
	before_bad=$(bad)
	H queue show "$1" | sed '1,/^$/d' |
		H queue inject in --list sink@example.org --meta kind=post >/dev/null &&
	runner_in &&
	[ "$(bad)" -eq "$before_bad" ] && [ "$(entries out)" -gt "$before_out" ]
}

# --- the pipe refuses what it could not read back --------------------------
for c in "mbox-line-and-body|From VM Thu Oct\n\nHi\n" "fuzzer-from-userR|From userR" \
	 "blank-line-first|\nSubject: hi\n\nbody\n" "from-line-only|From x@y Thu Oct 1 00:00:00 2026\n"; do
	name=${c%%|*}
	printf "${c#*|}" | mta
	rc=$?
	check "$name: exit 65 (EX_DATAERR): the MTA bounces it" test $rc -eq 65
	check "$name: standard error starts with 5.6.0 and says why ($(err))" \
		grep -q '^5.6.0 herald: message for demo@example.org refused: not a message' "$T_DIR/err"
	check "$name: nothing stored" test "$(entries in)" -eq 0
done
check "the refusals are logged" grep -q "refused a message for $L (5.6.0, the MTA bounces it)" "$V"/logs/*/mta

# --- a "From " line before real headers is taken, held, approved, sent -----
printf 'From poster@example.net Thu Oct  1 00:00:00 2026\nFrom: poster@example.net\nTo: %s\nSubject: with a From line\nMessage-ID: <fromline@example.net>\n\nHi\n' $L | mta
check "a message with a From line before its headers is accepted ($(err))" test $? -eq 0
runner_in
held_ids() { H held list $L | cut -f1 | grep -E '^[0-9]+$'; }
check "it is held (a nonmember's post)" test "$(held_ids | wc -l)" -eq 1
id=$(held_ids | head -1)
check "held approve succeeds" H held approve $L "$id"
runner_in
check "the approved post reaches the out queue" test "$(entries out)" -eq 1
check "and nothing is in bad/" test "$(bad)" -eq 0
f=$(find "$V/queue/out" -name '*.msg' | head -1)
check "what the pipeline wrote reads back" readable "$f"

# --- held posts stored by an older herald ---------------------------------
# spoil ID BYTES: held post ID's message replaced by BYTES (python literal).
spoil() {
	python3 - "$V/lists/$L/held/$1.msg" "$2" <<'PY'
import ast, re, sys
p, msg = sys.argv[1], ast.literal_eval(sys.argv[2])
meta = open(p, "rb").read().partition(b"\n\n")[0]
meta = re.sub(rb"(?m)^size: \d+$", b"size: %d" % len(msg), meta)
open(p, "wb").write(meta + b"\n\n" + msg + b"herald-end\n")
PY
}
hold_one() {
	printf 'From: poster@example.net\nTo: %s\nSubject: %s\nMessage-ID: <%s@example.net>\n\nHi\n' $L "$1" "$1" | mta
	runner_in
	held_ids | tail -1
}
# What herald before this fix stored of 'From VM Thu Oct\n\nHi\n': no
# header, a blank line and the body.  It reads back now: approved, it goes
# on to the out queue, not to bad/.
id=$(hold_one old-no-header)
spoil "$id" 'b"\nHi\n"'
out_before=$(entries out)
check "a held post stored with no header is approved ($(H held approve $L "$id" 2>&1))" \
	test "$(held_ids | grep -cx "$id")" -eq 0
runner_in
check "and reaches the out queue" test "$(entries out)" -eq $((out_before + 1))
# A held message herald cannot read at all (a damaged file): not approved.
id=$(hold_one damaged)
spoil "$id" 'b"This is just text.\nNo header at all.\n"'
in_before=$(entries in)
out=$(H held approve $L "$id" 2>&1)
rc=$?
check "approving an unreadable held post fails (exit $rc)" test $rc -ne 0
check "and says why ($out)" bash -c "echo \"\$1\" | grep -q 'cannot be approved: herald cannot read its message back' && echo \"\$1\" | grep -q 'it stays held'" _ "$out"
check "the post stays held" bash -c "'$HERALD' --var '$V' held list $L | cut -f1 | grep -qx '$id'"
check "nothing went to the in queue" test "$(entries in)" -eq "$in_before"
check "the refusal is logged" grep -q "held post $id not approved, its message cannot be read back" "$V"/logs/*/held
check "it can still be discarded" H held discard $L "$id"
check "nothing ever went to bad/" test "$(bad)" -eq 0

# --- F5: a post whose only header the pipeline removes ---------------------
out_before=$(entries out)
printf 'Approved: modsecret\n\nHi\n' | mta
check "F5: a post with only an Approved: header is taken ($(err))" test $? -eq 0
runner_in
id=$(held_ids | tail -1)
check "F5: it is held with no header left (the message starts with the blank line)" \
	test -z "$(sed '1,/^$/d' "$V/lists/$L/held/$id.msg" | head -1)"
check "F5: held approve succeeds" H held approve $L "$id"
runner_in
check "F5: the post reaches the out queue" test "$(entries out)" -eq $((out_before + 1))
check "F5: nothing in bad/" test "$(bad)" -eq 0

# --- F5 again, through content filtering: pipe_mimedel reads back what it
# serialised of the post (to forward it to the owners, or to restore it
# when the post does not go on); a post with no header left was refused
# there as "no header could be read" and shunted.
newlist filt@example.org
H config set filt@example.org mod_password modsecret >/dev/null
H config set filt@example.org filter_content yes >/dev/null
H config set filt@example.org filter_mime_types text/plain >/dev/null
H config set filt@example.org pass_mime_types "" >/dev/null
H config set filt@example.org filter_action 2 >/dev/null	# forward to the owners
shunt_before=$(entries shunt)
virgin_before=$(ls "$V/queue/virgin" 2>/dev/null | wc -l)
printf 'Approved: modsecret\n\nHi\n' | SENDER=poster@example.net H mta post filt@example.org
runner_in
check "F5 at content filtering: a post with no header left is not shunted" test "$(entries shunt)" -eq "$shunt_before"
check "F5 at content filtering: it is forwarded to the owners" bash -c 'grep -l "Content filtered message" "$1"/queue/virgin/*.msg 2>/dev/null | xargs grep -q "^Hi$"' _ "$V"

# --- F4: a nameless header on an anonymous list ---------------------------
newlist anon@example.org
H config set anon@example.org generic_nonmember_action 0 >/dev/null
H config set anon@example.org require_explicit_destination no >/dev/null
H config set anon@example.org anonymous_list yes >/dev/null
out_before=$(entries out)
printf 'From: poster@example.net\n:Sender: relay@example.net\nTo: anon@example.org\nSubject: F4\n\nbody\n' |
	SENDER=poster@example.net H mta post anon@example.org 2>"$T_DIR/err"
check "F4: the entry takes it ($(err))" test $? -eq 0
runner_in
check "F4: the post reaches the out queue" test "$(entries out)" -eq $((out_before + 1))
f=$(grep -l '^list: anon@example.org' "$V"/queue/out/*.msg | head -1)
check "F4: what the pipeline wrote does not start with the nameless line" \
	bash -c "! '$HERALD' --var '$V' queue show '$f' | sed '1,/^\$/d' | head -1 | grep -q '^:'"
check "F4: and reads back" readable "$f"
check "F4: nothing in bad/" test "$(bad)" -eq 0

# --- one size limit, enforced while reading -------------------------------
H site set entry.max_message_size 1048576
cat >"$T_DIR/peak.py" <<'EOF'
import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)
EOF
in_before=$(entries in)
read -r rss rc < <(head -c 200000000 /dev/zero | tr '\0' 'x' |
	SENDER=poster@example.net python3 "$T_DIR/peak.py" "$HERALD" --var "$V" mta post $L 2>"$T_DIR/err")
diag "200 MB to the pipe with a 1 MB limit: exit $rc, peak RSS $rss KB"
check "a 200 MB message with a 1 MB limit: exit 65" test "$rc" -eq 65
check "standard error starts with 5.3.4 and names the limit ($(err))" \
	grep -q '^5.3.4 herald: message for demo@example.org refused: larger than 1048576 bytes (entry.max_message_size)' "$T_DIR/err"
san=0
grep -qa __asan_init "$HERALD" && san=1
if [ $san = 1 ]; then
	skip "peak RSS under ASan (its shadow and quarantine are not herald's)"
else
	check "the process's peak RSS stays under 24 MB ($rss KB)" test "$rss" -lt 24576
fi
check "nothing stored" test "$(entries in)" -eq "$in_before"
head -c 1048576 /dev/zero | tr '\0' 'x' | fold -w 70 >"$T_DIR/just-over"
{ printf 'From: poster@example.net\nTo: %s\nSubject: big\n\n' $L; cat "$T_DIR/just-over"; } | mta
check "a message just over the limit is refused too" test $? -eq 65
{ printf 'From: poster@example.net\nTo: %s\nSubject: big\n\n' $L; head -c 1000000 "$T_DIR/just-over"; } | mta
check "one under it is taken ($(err))" test $? -eq 0

# The LMTP server: the same refusals, the same limit.
SOCK=$V/run/lmtp.sock
H site set lmtp.listen "unix:$SOCK"
# One message on standard input, one recipient: the final reply's code and
# text (smtplib's LMTP reads one reply after the data: one recipient).
cat >"$T_DIR/lmtp.py" <<'PY'
import smtplib, sys
c = smtplib.LMTP(sys.argv[1])
try:
    c.sendmail(sys.argv[2], [sys.argv[3]], sys.stdin.buffer.read())
    print("250")
except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as e:
    print(e.smtp_code, e.smtp_error.decode())
c.quit()
PY
lmtp() { python3 "$T_DIR/lmtp.py" "$SOCK" poster@example.net $L; }
# No runners: what the server stores stays in the in queue, to be counted.
drop_runner "$V" in
drop_runner "$V" virgin
H start
wait_for 10 test -S "$SOCK"
check "the LMTP server is up" test -S "$SOCK"
in_before=$(entries in)
out=$(printf 'From VM Thu Oct\n\nHi\n' | lmtp)
check "LMTP: an mbox line and a body get 554 5.6.0 ($out)" bash -c "echo \"\$1\" | grep -q '^554 5.6.0 '" _ "$out"
out=$(printf 'From userR' | lmtp)
check "LMTP: 'From userR' gets 554 5.6.0 ($out)" bash -c "echo \"\$1\" | grep -q '^554 5.6.0 '" _ "$out"
out=$({ printf 'From: poster@example.net\nTo: %s\nSubject: big\n\n' $L; cat "$T_DIR/just-over"; } | lmtp)
check "LMTP: over entry.max_message_size gets 552 ($out)" bash -c "echo \"\$1\" | grep -q '^552 '" _ "$out"
check "LMTP: none of them was stored" test "$(entries in)" -eq "$in_before"
H stop >/dev/null
t_done
