#!/usr/bin/env bash
# The command line against hostile input, and what a poster controls
# reaching the moderator or looping back:
#   - queue inject: a metadata key the queue file format cannot hold is a
#     usage error (64), not an assertion (134), and stores nothing;
#   - queue show: /dev/zero, a FIFO, a directory and a file larger than
#     any queue entry are refused at once (exit 1, a clear message), with
#     neither a hang nor unbounded memory;
#   - held list / held show: a Subject with ESC sequences (retitle the
#     terminal), C1 controls, bidi overrides, or tabs and line feeds that
#     decode from RFC 2047 into a forged row, reaches the terminal escaped;
#     every held post is one row of five fields, long fields cut;
#   - notices: a post From: the list's own address (any case), its -owner,
#     or another list's address is held, but its "awaits moderator
#     approval" notice goes to none of them (a log line says so), while
#     the moderators are still told.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
pipeline_runners "$V"
H() { "$HERALD" --var "$V" "$@"; }
L=demo@lists.test
fails_with() {	# fails_with CODE "text" command...: exit CODE saying text
	local code=$1 want=$2 out rc; shift 2
	out=$("$@" 2>&1); rc=$?
	[ "$rc" -eq "$code" ] || { echo "# exit $rc, not $code: $out"; return 1; }
	echo "$out" | grep -qF -- "$want" || { echo "# got: $out"; return 1; }
}

# --- queue inject ----------------------------------------------------------
for kv in "bad key=v" "k:x=v" "size=9" "a/b=v" "a.b=v" "=v" "novalue"; do
	check "inject --meta '$kv' is a usage error" fails_with 64 "--meta $kv" \
		bash -c 'printf "Subject: x\n\nx\n" | "$@"' _ "$HERALD" --var "$V" queue inject in --list $L --meta "$kv"
done
check "and nothing was stored" test -z "$(ls "$V/queue/in" 2>/dev/null)"
name=$(printf 'Subject: x\n\nx\n' | H queue inject in --meta x-My_key-2=v)
check "a key of letters, digits, - and _ is fine ($name)" test -f "$V/queue/$name"
rm -f "$V/queue/$name"

# --- queue show ------------------------------------------------------------
check "show /dev/zero is refused at once" fails_with 1 "/dev/zero is not a regular file" timeout 10 "$HERALD" queue show /dev/zero
mkfifo "$T_DIR/fifo"
check "show of a FIFO is refused, not waited on" fails_with 1 "is not a regular file" timeout 10 "$HERALD" queue show "$T_DIR/fifo"
check "show of a directory is refused" fails_with 1 "is not a regular file" "$HERALD" queue show "$T_DIR"
truncate -s 3G "$T_DIR/huge"
check "show of a file larger than any queue entry is refused unread" fails_with 1 "is larger than" timeout 10 "$HERALD" queue show "$T_DIR/huge"
rm -f "$T_DIR/huge"
check "show of a missing file fails naming it" fails_with 1 "$T_DIR/none" "$HERALD" queue show "$T_DIR/none"

# --- held list / held show -------------------------------------------------
H lists create $L --owner admin@example.org >/dev/null
H lists create other@lists.test --owner admin@example.org >/dev/null
H config set $L moderator mod@example.org
# post FROM SUBJECT-HEADER: a nonmember's post, held.
post() {
	printf 'From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s@example.net>\n\nbody \033[2J\n' \
		"$1" "$L" "$2" "$RANDOM$RANDOM" | H mta post $L --sender "$1" &&
	H runner in --once >>"$T_DIR/runner.log" 2>&1
}
b64() { printf '%b' "$1" | base64 -w0; }
# Decodes to TAB LF "2<TAB>2024-...<TAB>boss@example.com<TAB>Approve me",
# then LF and a third forged row.
forged='\t\n2\t2024-01-01T00:00:00Z\tboss@example.com\tApprove me\tfine\n3\t2024-01-01T00:00:00Z\tboss@example.com\tAnd me\tfine'
post ann@example.com "=?utf-8?b?$(b64 "$forged")?="
post bob@example.com $'\033]0;title\007 raw ESC in the header'
post cat@example.com "=?utf-8?q?=1B]0;title=07_=C2=9B31m_C1_=E2=80=AE_bidi?="
post dan@example.com "$(printf 'long%.0s' $(seq 100))"
held=$(H held list $L)
printf '%s\n' "$held" >"$T_DIR/held.txt"
check "four posts are held, one row each" test "$(wc -l <"$T_DIR/held.txt")" -eq 4
check "each row has five tab-separated fields" awk -F'\t' 'NF != 5 { exit 1 }' "$T_DIR/held.txt"
check "the forged rows are not rows" bash -c "! grep -q '^[23]	2024' '$T_DIR/held.txt'"
check "their tabs and line feeds are shown escaped" grep -qF '2\t2024-01-01T00:00:00Z\tboss@example.com\tApprove me\tfine\n' "$T_DIR/held.txt"
nocontrol() { ! LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]' "$1"; }
check "held list writes no control character but tab and line feed" nocontrol "$T_DIR/held.txt"
check "an ESC sequence is shown escaped" grep -qF '\e]0;title\x07 raw ESC' "$T_DIR/held.txt"
check "an encoded one too, with C1 and bidi controls" grep -qF '\e]0;title\x07 \u009b31m C1 \u202e bidi' "$T_DIR/held.txt"
check "a long subject is cut" grep -qE "	(long){15}\.\.\.	" "$T_DIR/held.txt"
for id in $(cut -f1 "$T_DIR/held.txt"); do
	H held show $L "$id" >"$T_DIR/show.$id"
	check "held show $id writes no control character but tab and line feed" nocontrol "$T_DIR/show.$id"
done
check "held show escapes the Subject" grep -qxF 'Subject: 2\t2024-01-01T00:00:00Z\tboss@example.com\tApprove me\tfine\n3\t2024-01-01T00:00:00Z\tboss@example.com\tAnd me\tfine' "$T_DIR/show.1"
check "and the message, keeping its lines" grep -qxF 'body \e[2J' "$T_DIR/show.1"
check "held show does not cut" grep -q "^Subject: \(long\)\{100\}$" "$T_DIR/show.4"
for id in $(cut -f1 "$T_DIR/held.txt"); do H held discard $L "$id"; done
rm -f "$V"/queue/virgin/*.msg

# --- notices never go to a list address ------------------------------------
# rcpts: the recipients of the notices in the virgin queue, one a line.
rcpts() { cat "$V"/queue/virgin/*.msg 2>/dev/null | sed -n 's/^rcpt: //p'; }
for from in $L DEMO@Lists.Test demo-owner@lists.test Demo-Request@lists.test \
	    other@lists.test demo+tag@lists.test; do
	post "$from" "from $from"
	check "a post From: $from is held" bash -c "'$HERALD' --var '$V' held list $L | grep -qF 'from $from'"
	check "its moderators are told" bash -c "grep -qx mod@example.org <<<\"\$1\"" _ "$(rcpts)"
	check "no notice goes to $from" bash -c "! grep -qix '$from' <<<\"\$1\"" _ "$(rcpts)"
	check "and only owner and moderator get one" test "$(rcpts | sort -u | tr '\n' ' ')" = "admin@example.org mod@example.org "
	rm -f "$V"/queue/virgin/*.msg
done
check "the log names each dropped recipient" grep -q 'not sent to DEMO@lists.test: it is the post address of list demo@lists.test' "$V"/logs/*/notice
post ann@example.com "from a person"
check "a person still gets the notice" bash -c "grep -qx ann@example.com <<<\"\$1\"" _ "$(rcpts)"
# A site setting that is not UTF-8 is refused (the configuration file is
# UTF-8 text, and GLib could not read the line back).
check "site set refuses a value that is not UTF-8" bash -c '! "$1" --var "$2" site set web.base_url "$(printf "http://x/\\xff")" 2>"$3" && grep -q "not UTF-8" "$3"' _ "$HERALD" "$V" "$T_DIR/err"
check "and the file still reads" "$HERALD" --var "$V" site get web.base_url
t_done
