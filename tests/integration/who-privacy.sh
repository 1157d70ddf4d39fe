#!/usr/bin/env bash
# The email `who` command under private_roster, hide and
# obscure_addresses (list/privacy.c): private_roster 0 shows the roster
# to anyone, 1 to members who give their own password (and to the
# administrators), 2 to the administrators only; concealed members are
# left out for all but the administrators; obscure_addresses writes
# "user at domain" for all but the administrators.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@example.org
H lists create $L --owner owner@example.org >/dev/null
H site set runner.commands.handler commands
H site set notice.max_autoresponses_per_day 0
H config set $L password adminpw >/dev/null
printf 'ann@example.net\nbob@example.net\nhidden@example.net\n' | H members add $L >/dev/null
H members set $L ann@example.net password annpw
H members set $L hidden@example.net hide yes

# who_as FROM BODY: sends BODY to LIST-request from FROM, runs the commands
# runner and prints the reply.
N=0
who_as() {
	N=$((N + 1))
	rm -f "$V"/queue/virgin/*.msg
	printf 'From: %s\nTo: demo-request@example.org\nSubject: \nMessage-ID: <w%d@example.net>\n\n%s\n' \
		"$1" "$N" "$2" >"$T_DIR/msg.$N"
	H mta auto --sender "$1" --recipient demo-request@example.org <"$T_DIR/msg.$N" &&
		H runner commands --once >/dev/null 2>&1
	cat $(grep -l "^rcpt: $1\$" "$V"/queue/virgin/*.msg 2>/dev/null) /dev/null
}

# --- private_roster 1 (the default): members with their password --------------
r=$(who_as stranger@example.com "who")
check "1: a stranger is refused" grep -q "open only to its members" <<<"$r"
r=$(who_as ann@example.net "who")
check "1: a member without a password is refused" grep -q "give your password" <<<"$r"
r=$(who_as ann@example.net "who wrongpw")
check "1: a member with a wrong password is refused, told so" grep -q "the password is wrong" <<<"$r"
r=$(who_as ann@example.net "who annpw")
check "1: a member with their password sees the roster, obscured" grep -q "^ *ann at example.net$" <<<"$r"
check "1: ... without a plain address" bash -c '! grep -q "^ *[a-z]*@example.net" <<<"$1"' _ "$r"
check "1: ... without the concealed member" bash -c '! grep -q "hidden" <<<"$1"' _ "$r"
r=$(who_as stranger@example.com "who annpw address=ann@example.net")
check "1: address= with that member's password works from elsewhere" grep -q "^ *bob at example.net$" <<<"$r"
r=$(who_as stranger@example.com "who adminpw")
check "1: the admin password shows every member, plain" grep -q "^ *hidden@example.net$" <<<"$r"

# --- obscure_addresses no ---------------------------------------------------------
H config set $L obscure_addresses no >/dev/null
r=$(who_as ann@example.net "who annpw")
check "obscure_addresses no: plain addresses" grep -q "^ *bob@example.net$" <<<"$r"
check "obscure_addresses no: the concealed member still hidden" bash -c '! grep -q "hidden" <<<"$1"' _ "$r"

# --- private_roster 0: anyone --------------------------------------------------
H config set $L private_roster anyone >/dev/null
r=$(who_as stranger@example.com "who")
check "0: a stranger without a password sees the roster" grep -q "^ *ann@example.net$" <<<"$r"
check "0: ... but not the concealed member" bash -c '! grep -q "hidden" <<<"$1"' _ "$r"

# --- private_roster 2: administrators only ------------------------------------------
H config set $L private_roster admin >/dev/null
r=$(who_as ann@example.net "who annpw")
check "2: a member's own password is not enough" grep -q "open only to its administrators" <<<"$r"
r=$(who_as ann@example.net "who adminpw")
check "2: the admin password is" grep -q "^ *hidden@example.net$" <<<"$r"
t_done
