#!/usr/bin/env bash
# Moderation by mail: a held post's notice to the moderators (postauth)
# comes From LIST-request with Reply-To LIST-confirm+TOKEN, the post
# attached and signed approve/reject/discard links; the poster's notice
# (postheld) carries the confirm URL.  A moderator's reply with
# "Approved: PASSWORD" first in the body (the moderator's password, or
# as a header with the administrator's) approves the post: it goes on to
# the members.  A wrong password is refused with a reply and the post
# stays held.  A reply with no password discards it (Mailman 2.1).  The
# same for a subscription awaiting approval (subscribe_policy 2).
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@example.org
H lists create $L --owner owner@example.org >/dev/null
pipeline_runners "$V"
H site set runner.commands.handler commands
H site set notice.max_autoresponses_per_day 0
H config set $L mod_password modpw >/dev/null
H config set $L password adminpw >/dev/null
echo member@example.com | H members add $L >/dev/null

N=0
# post FROM SUBJECT: a post to the list, through the in runner
post() {
	N=$((N + 1))
	printf 'From: %s\nTo: %s\nSubject: %s\nMessage-ID: <p%d@example.net>\n\nHello.\n' "$1" $L "$2" $N |
		H mta post $L --sender "$1" && H runner in --once >/dev/null 2>&1
}
# reply FROM TO SUBJECT BODY [HEADER]: a moderator's reply, worked
reply() {
	N=$((N + 1))
	{ printf 'From: %s\nTo: %s\nSubject: %s\nMessage-ID: <r%d@example.net>\n' "$1" "$2" "$3" $N
	  [ $# -ge 5 ] && printf '%s\n' "$5"
	  printf '\n%b' "$4"; } | H mta auto --sender "$1" --recipient "$2" &&
		H runner commands --once >/dev/null 2>&1
}
held_ids() { H held list $L | cut -f1; }
notice_for() {	# notice_for SUBJECT-PART: the newest moderators' notice
	grep -l "^rcpt: owner@example.org" "$V"/queue/virgin/*.msg | xargs grep -l "$1" | tail -1
}
token_of() { grep -m1 '^Reply-To: demo-confirm+' "$1" | sed 's/.*demo-confirm+\([^@]*\)@.*/\1/'; }
posted() { grep -l "^Subject: \[Demo\] $1" "$V"/queue/in/*.msg "$V"/queue/out/*.msg 2>/dev/null | head -1; }

# --- approve by the password first in the body --------------------------------
post stranger@example.net "first"
check "a non-member's post is held" test "$(held_ids | wc -l)" -eq 1
n=$(notice_for "post from stranger@example.net requires approval")
T=$(token_of "$n")
check "the moderators' notice has Reply-To LIST-confirm+TOKEN (${T:0:8}...)" test ${#T} -eq 43
check "it comes from LIST-request" grep -q '^From: .*<demo-request@example.org>' "$n"
check "it carries the signed one-click links" grep -q "/moderate/$L/$T/approve?s=" "$n"
check "and the post" grep -q '^Content-Type: message/rfc822' "$n"
p=$(grep -l "^rcpt: stranger@example.net" "$V"/queue/virgin/*.msg | head -1)
check "the poster is told, with the confirm URL" grep -q "/confirm/$L/$T" "$p"
reply owner@example.org "demo-confirm+$T@example.org" "Re: Demo post from stranger@example.net requires approval" "Approved: wrongpw\n\n> quoted notice\n"
check "a wrong password is refused with a reply" grep -q "The password is wrong" "$(grep -l '^rcpt: owner@example.org' "$V"/queue/virgin/*.msg | xargs grep -l 'results of your commands' | tail -1)"
check "and the post stays held" test "$(held_ids | wc -l)" -eq 1
reply owner@example.org "demo-confirm+$T@example.org" "Re: Demo post from stranger@example.net requires approval" "Approved: modpw\n\n> quoted notice\n"
check "Approved: with the moderator's password approves it" test -z "$(held_ids)"
H runner in --once >/dev/null 2>&1
check "the post goes on to the members" bash -c 'grep -l "^Subject: \[Demo\] first" "$1"/queue/out/*.msg | xargs grep -q "^rcpt: member@example.com"' _ "$V"
check "the Approved: line does not reach the members" bash -c '! grep -l "^Subject: \[Demo\] first" "$1"/queue/out/*.msg | xargs grep -q "modpw"' _ "$V"
reply owner@example.org "demo-confirm+$T@example.org" "Re: again" "Approved: modpw\n"
check "the token is used up" grep -q "No request waits for this code" "$(grep -l '^rcpt: owner@example.org' "$V"/queue/virgin/*.msg | xargs grep -l 'results of your commands' | tail -1)"

# --- an Approved: header with the administrator's password --------------------
post stranger@example.net "second"
T=$(token_of "$(notice_for 'post from stranger@example.net requires approval')")
reply owner@example.org "demo-confirm+$T@example.org" "Re: x" "Looks fine.\n" "Approved: adminpw"
check "an Approved: header with the admin password approves" test -z "$(held_ids)"

# --- the password below the quoted notice (a bottom-posted reply) -------------
post stranger@example.net "bottom"
T=$(token_of "$(notice_for 'post from stranger@example.net requires approval')")
reply owner@example.org "demo-confirm+$T@example.org" "Re: x" "On Monday the list wrote:\n> the notice\n> Approved: quotedpw\n\nApproved: modpw\n"
check "an Approved: line below the quoted notice approves too" test -z "$(held_ids)"

# --- discard by a reply with the Subject unchanged -----------------------------
post stranger@example.net "third"
n=$(notice_for "post from stranger@example.net requires approval")
T=$(token_of "$n")
subject=$(grep -m1 '^Subject: ' "$n" | cut -d' ' -f2-)
reply owner@example.org "demo-confirm+$T@example.org" "Re: $subject" "> quoted\n"
check "a reply with no password discards it" test -z "$(held_ids)"
H runner in --once >/dev/null 2>&1
check "and it never reaches the members" test -z "$(posted third)"

# --- confirm TOKEN to LIST-request with an Approved: header --------------------
post stranger@example.net "fourth"
T=$(token_of "$(notice_for 'post from stranger@example.net requires approval')")
reply owner@example.org demo-request@example.org "confirm $T" "" "Approved: modpw"
check "confirm TOKEN to -request with Approved: approves" test -z "$(held_ids)"

# --- a subscription awaiting approval, by mail ---------------------------------
H config set $L subscribe_policy 2
reply joiner@example.net demo-request@example.org "subscribe" ""
n=$(notice_for "joiner@example.net")
T=$(token_of "$n")
check "the moderators are asked, with Reply-To LIST-confirm+TOKEN (${T:0:8}...)" test ${#T} -eq 43
reply owner@example.org "demo-confirm+$T@example.org" "Re: request" "Approved: badpw\n"
check "a wrong password leaves the request waiting" test "$(H requests list $L | wc -l)" -eq 1
reply owner@example.org "demo-confirm+$T@example.org" "Re: request" "Approved: modpw\n"
check "the right one subscribes them" bash -c '"$1" --var "$2" members list "$3" | grep -qx joiner@example.net' _ "$HERALD" "$V" $L
check "nothing is left waiting" test -z "$(H requests list $L --all)"
check "nothing went to bad/ or shunt/" test -z "$(ls "$V/queue/bad/" "$V/queue/shunt/" 2>/dev/null | grep msg)"
t_done
