#!/usr/bin/env bash
# Members on the command line: add (names, bad lines with reasons, a line
# with a NUL byte among them, the good ones still added, case-insensitive
# duplicates, bans), flags, remove, list filters, show, set, find.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@example.org
H lists create $L --owner admin@example.org >/dev/null
H lists create other@example.org --owner admin@example.org >/dev/null

out=$(printf '%s\n' 'alice@example.org' 'Bob Smith <Bob@Example.ORG>' 'not an address' \
	'"Carol, Q." <carol@example.net>' 'ALICE@example.org' 'evil@example.org
Bcc: x@y' '' '# a comment' | H members add $L 2>"$T_DIR/err")
rc=$?
check "bad lines make the command fail ($out)" test "$rc" -ne 0
check "but the good ones are added" test "$(H members list $L | wc -l)" -eq 4
check "each bad line is reported with its number and reason" grep -q '^line 3: not an address: invalid address' "$T_DIR/err"
check "a header line smuggled after an address is refused on its own" grep -q '^line 7: Bcc: x@y' "$T_DIR/err"
check "a duplicate in another case is skipped as a member" grep -q '^ALICE@example.org: already a member' "$T_DIR/err"
check "the written case of the local part is kept, the domain lower-cased" bash -c "'$HERALD' --var '$V' members list $L | grep -qx 'Bob@example.org'"
check "the display name is kept" bash -c "'$HERALD' --var '$V' members show $L bob@example.org | grep -qx 'name: Bob Smith'"
check "the quoted name is kept" bash -c "'$HERALD' --var '$V' members show $L carol@example.net | grep -qx 'name: Carol, Q.'"
check "new members get new_member_options (nodupes)" bash -c "'$HERALD' --var '$V' members show $L alice@example.org | grep -qx 'options: nodupes'"

# A NUL byte used to end the line silently ("nul@x\0junk" added nul@x).
printf 'nul@example.org\0junk\nafter-nul@example.org\n' | H members add $L >/dev/null 2>"$T_DIR/nul.err"
rc=$?
check "a line with a NUL byte makes the command fail" test "$rc" -ne 0
check "it is reported as a bad line with its number" grep -q '^line 1: it holds a NUL byte' "$T_DIR/nul.err"
check "its address is not added" bash -c "! '$HERALD' --var '$V' members list $L | grep -q '^nul@'"
check "the lines after it are" bash -c "'$HERALD' --var '$V' members list $L | grep -qx after-nul@example.org"
printf 'after-nul@example.org\n' | H members remove $L >/dev/null

echo dana@example.org | H members add $L --digest --nomail --moderate >/dev/null
s=$(H members show $L dana@example.org)
check "--digest makes a digest member" bash -c "echo \"\$1\" | grep -qx 'mode: plain'" _ "$s"
check "--nomail disables delivery" bash -c "echo \"\$1\" | grep -q '^delivery: byowner'" _ "$s"
check "--moderate sets mod" bash -c "echo \"\$1\" | grep -q '^options: mod,nodupes'" _ "$s"
check "list --digest" test "$(H members list $L --digest)" = dana@example.org
check "list --nomail" test "$(H members list $L --nomail)" = dana@example.org
check "list --moderated" test "$(H members list $L --moderated)" = dana@example.org
check "list --regular" test "$(H members list $L --regular | wc -l)" -eq 4

check "set mode mime" H members set $L DANA@example.org mode mime
check "set delivery enabled" H members set $L dana@example.org delivery enabled
check "set ack yes" H members set $L dana@example.org ack yes
check "set mod no" H members set $L dana@example.org mod no
check "set name" H members set $L dana@example.org name "Dana D."
check "set password" H members set $L dana@example.org password hunter2
s=$(H members show $L dana@example.org)
check "the changes show" bash -c "echo \"\$1\" | grep -qx 'mode: mime' && echo \"\$1\" | grep -qx 'delivery: enabled' && echo \"\$1\" | grep -qx 'options: ack,nodupes' && echo \"\$1\" | grep -qx 'name: Dana D.' && echo \"\$1\" | grep -qx 'password: (set)'" _ "$s"
check "the password is an Argon2id hash, never clear text" bash -c "! grep -rq hunter2 '$V/lists/$L' && grep -rq 'argon2id' '$V/lists/$L/roster'"
check "a bad option value is refused" bash -c "! '$HERALD' --var '$V' members set $L dana@example.org mode weekly 2>/dev/null"
check "setting a non-member fails" bash -c "! '$HERALD' --var '$V' members set $L nobody@example.org ack yes 2>/dev/null"

H config set $L ban_list $'banned@example.org\n^.*@spam\\.example$' >/dev/null
printf 'banned@EXAMPLE.org\nsomeone@spam.example\nfine@example.org\n' | H members add $L >/dev/null 2>"$T_DIR/ban.err"
check "an exact ban entry refuses the address (any case)" grep -q '^banned@example.org: banned' "$T_DIR/ban.err"
check "a ^regex ban entry refuses matching addresses" grep -q '^someone@spam.example: banned' "$T_DIR/ban.err"
check "others are still added" bash -c "'$HERALD' --var '$V' members list $L | grep -qx fine@example.org"

echo alice@example.org | H members add other@example.org >/dev/null
check "find lists every list an address is on" test "$(H members find Alice@Example.org | tr '\n' ' ')" = "demo@example.org other@example.org "
printf 'alice@example.org\nnobody@example.org\n' | H members remove $L >/dev/null 2>"$T_DIR/rm.err"
check "remove removes" bash -c "! '$HERALD' --var '$V' members list $L | grep -q alice"
check "removing a non-member is reported" grep -q '^nobody@example.org: not a member' "$T_DIR/rm.err"
check "members of an unknown list fails" bash -c "! '$HERALD' --var '$V' members list nope@example.org 2>/dev/null"
t_done
