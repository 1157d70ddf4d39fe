#!/usr/bin/env bash
# The commands runner, through `herald mta auto` and `herald runner
# commands --once`: a stranger's subscribe to LIST-request brings a
# confirmation (Subject "confirm TOKEN", Reply-To LIST-confirm+TOKEN) and
# a results reply; the reply a mail client makes ("Re:" subject, quoted
# body) makes them a member with a welcome; replayed, expired and forged
# tokens are refused with a clear reply; LIST-leave and a reply to
# LIST-confirm+TOKEN remove them (goodbye, owners told); LIST-join acts
# on the sender; mail that is Auto-Submitted, bulk, from the null sender
# or from a list's own address gets no reply and changes nothing; 50
# commands stop at commands.max_lines; info, who, lists, help, password,
# set; autorespond_requests; mail to -request with no command gets no
# reply; an unparsable entry goes to bad/; every message accounted for.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@example.org
H lists create $L --owner owner@example.org >/dev/null
H site set runner.commands.handler commands
H site set notice.max_autoresponses_per_day 0	# the limit is tested last
STRANGER=stranger@example.net

# send FROM TO SUBJECT BODY [HEADER...]: the message through the MTA pipe
# (envelope sender FROM), then one pass of the commands runner.
N=0
send() {
	local from=$1 to=$2 subject=$3 body=$4; shift 4
	N=$((N + 1))
	{ printf 'From: %s\nTo: %s\nSubject: %s\nMessage-ID: <m%d@example.net>\n' "$from" "$to" "$subject" "$N"
	  for h in "$@"; do printf '%s\n' "$h"; done
	  printf '\n%b' "$body"; } >"$T_DIR/msg.$N"
	H mta auto --sender "$from" --recipient "$to" <"$T_DIR/msg.$N" || return 1
	H runner commands --once >/dev/null 2>&1
}
# last_to ADDR: the newest virgin entry for ADDR (its file name)
last_to() { grep -l "^rcpt: $1\$" "$V"/queue/virgin/*.msg 2>/dev/null | tail -1; }
count_to() { grep -l "^rcpt: $1\$" "$V"/queue/virgin/*.msg 2>/dev/null | wc -l; }
members() { H members list $L; }
token_in() { grep -m1 '^Subject: confirm ' "$1" | awk '{print $3}'; }
clear_virgin() { rm -f "$V"/queue/virgin/*.msg; }

# --- a subscription by mail, confirmed by a reply ---------------------------
send $STRANGER demo-request@example.org "subscribe" ""
check "the commands queue is worked" test -z "$(ls "$V/queue/commands/" 2>/dev/null | grep -v '^\.')"
conf=$(grep -l '^Subject: confirm ' $(grep -l "^rcpt: $STRANGER\$" "$V"/queue/virgin/*.msg) | head -1)
TOKEN=$(token_in "$conf")
check "the stranger gets a confirmation with a token (${TOKEN:0:8}...)" test ${#TOKEN} -eq 43
check "its Reply-To is LIST-confirm+TOKEN" grep -q "^Reply-To: demo-confirm+$TOKEN@example.org" "$conf"
check "and a results reply quoting the command" grep -lq '^> subscribe$' $(grep -l "^rcpt: $STRANGER\$" "$V"/queue/virgin/*.msg)
check "they are no member yet" test -z "$(members)"
clear_virgin
send $STRANGER demo-request@example.org "Re: confirm $TOKEN" "Yes please.\n\nOn Monday the list wrote:\n> Please confirm\n> confirm $TOKEN\n"
check "the reply a mail client makes subscribes them" test "$(members)" = $STRANGER
check "the welcome arrives" grep -q "You are subscribed as $STRANGER" $(grep -l "^rcpt: $STRANGER\$" "$V"/queue/virgin/*.msg)
clear_virgin
send $STRANGER demo-request@example.org "Re: confirm $TOKEN" ""
check "a replayed token is refused with a clear reply" grep -q "No request waits for this code" "$(last_to $STRANGER)"
send $STRANGER demo-request@example.org "confirm AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" ""
check "a forged token too" grep -q "No request waits for this code" "$(last_to $STRANGER)"
send $STRANGER demo-request@example.org "subscribe" ""
check "subscribing again says so" grep -q "$STRANGER: the address is a member already" "$(last_to $STRANGER)"

# --- leaving by LIST-leave, confirmed by a reply to -confirm+TOKEN ----------
H config set $L admin_notify_mchanges yes
clear_virgin
send $STRANGER demo-leave@example.org "" ""
conf=$(grep -l '^Subject: confirm ' $(grep -l "^rcpt: $STRANGER\$" "$V"/queue/virgin/*.msg) | head -1)
T2=$(token_in "$conf")
check "LIST-leave asks for a confirmation (${T2:0:8}...)" test ${#T2} -eq 43
check "they are still a member" test "$(members)" = $STRANGER
clear_virgin
send $STRANGER "demo-confirm+$T2@example.org" "Re: confirm $T2" "> quoted\n"
check "the reply to LIST-confirm+TOKEN removes them" test -z "$(members)"
check "the goodbye arrives" grep -q "$STRANGER is no longer subscribed" $(grep -l "^rcpt: $STRANGER\$" "$V"/queue/virgin/*.msg)
check "the owner is told (admin_notify_mchanges)" grep -q "$STRANGER is no longer a member" "$(last_to owner@example.org)"

# --- an expired token ---------------------------------------------------------
clear_virgin
send $STRANGER demo-join@example.org "" ""
T3=$(token_in "$(grep -l '^Subject: confirm ' "$V"/queue/virgin/*.msg | head -1)")
check "LIST-join asks the sender for a confirmation" test ${#T3} -eq 43
sed -i 's/^expires: .*/expires: 1/' "$V/lists/$L/pending/$T3"
send $STRANGER demo-request@example.org "confirm $T3" ""
check "an expired token is refused: it has expired" grep -q "This request has expired" "$(last_to $STRANGER)"
check "and makes no member" test -z "$(members)"

# --- no reply, no change ------------------------------------------------------
H config set $L subscribe_policy 0
clear_virgin
send robot@example.net demo-request@example.org "subscribe" "" "Auto-Submitted: auto-replied"
send bulk@example.net demo-request@example.org "subscribe" "" "Precedence: bulk"
send demo@example.org demo-request@example.org "subscribe" ""
send demo-owner@example.org demo-join@example.org "" ""
{ printf 'From: nobody@example.net\nSubject: subscribe\n\n'; } | H mta auto --sender "" --recipient demo-request@example.org && H runner commands --once >/dev/null 2>&1
check "Auto-Submitted, bulk, the list's own and null-sender mail get no reply" test -z "$(ls "$V"/queue/virgin/)"
check "and change nothing" test -z "$(members)"
check "each is logged as ignored" test "$(grep -c 'ignored: ' "$V"/logs/*/commands)" -ge 5
send human@example.net demo-request@example.org "subscribe" "" "Auto-Submitted: no"
check "Auto-Submitted: no is a person (subscribed at once under policy 0)" test "$(members)" = human@example.net

# --- the limit ----------------------------------------------------------------
clear_virgin
body=$(for i in $(seq 50); do echo info; done)
send human@example.net demo-request@example.org "help" "$body\n"
r=$(last_to human@example.net)
check "50 commands stop at commands.max_lines (25 of the body and the Subject)" test "$(grep -c '^> ' "$r")" -eq 26
check "the rest is reported as ignored" grep -q "Ignored: 25 more lines after the first 25" "$r"

# --- the other commands -------------------------------------------------------
clear_virgin
send human@example.net demo-request@example.org "" "info\nlists\nwho\nset show\nset ack on\nset authenticate wrong\npassword\nThanks!\nwho\n"
r=$(last_to human@example.net)
check "info names the list's addresses" grep -q "Commands:   demo-request@example.org" "$r"
check "lists names the advertised lists" grep -q "^ *demo@example.org$" "$r"
check "who is refused without a password (private_roster 1)" grep -q "is open only to its members" "$r"
check "set show shows the options" grep -q "^ *ack off$" "$r"
check "set ack needs set authenticate first" grep -q 'Give "set authenticate PASSWORD" first' "$r"
check "a wrong password is refused" grep -q "The password is wrong" "$r"
check "password alone cannot mail a password back" grep -q "keeps no password in clear" "$r"
check "reading stops at the first line that is no command" grep -q "reading stopped" "$r"
check "the reply carries the message" grep -q "^Content-Type: message/rfc822" "$r"
H config set $L password adminpw >/dev/null
clear_virgin
send human@example.net demo-request@example.org "" "set authenticate adminpw\nset ack on\nset digest mime\nwho adminpw\npassword adminpw newpw\n"
r=$(last_to human@example.net)
check "the admin password authenticates" grep -q "Authenticated as human@example.net" "$r"
check "set ack on changes the option" bash -c '"$1" --var "$2" members show "$3" human@example.net | grep -q "^options: ack"' _ "$HERALD" "$V" $L
check "set digest mime too" bash -c '"$1" --var "$2" members show "$3" human@example.net | grep -qx "mode: mime"' _ "$HERALD" "$V" $L
check "who with the admin password lists the members" grep -q "^ *human@example.net (digest)$" "$r"
check "password OLD NEW sets the member's password" bash -c '"$1" --var "$2" members show "$3" human@example.net | grep -qx "password: (set)"' _ "$HERALD" "$V" $L
H members set $L human@example.net delivery disabled
clear_virgin
send human@example.net demo-request@example.org "" "set authenticate newpw\nset delivery on\n"
check "delivery an owner turned off stays off" grep -q "turned off by the list's owner" "$(last_to human@example.net)"
clear_virgin
send human@example.net demo-request@example.org "unsubscribe newpw" ""
check "unsubscribe with the member's new password is at once" test -z "$(members)"
clear_virgin
send human@example.net demo-request@example.org "Hello" "I would like to know more.\n"
check "mail to -request with no command gets no reply" test -z "$(ls "$V"/queue/virgin/)"
send human@example.net demo-request@example.org "help" ""
check "help answers with the help text" grep -q "subscribe \[password\] \[digest|nodigest\]" "$(last_to human@example.net)"

# --- autorespond_requests -----------------------------------------------------
H config set $L autorespond_requests 1
H config set $L autoresponse_request_text 'Requests to %(listname)s are closed.'
clear_virgin
send late@example.net demo-request@example.org "subscribe" ""
check "autorespond_requests 1: the text is sent, variables filled" grep -q "Requests to demo are closed." "$(last_to late@example.net)"
check "and the request is dropped" test -z "$(members)"
send late@example.net demo-request@example.org "subscribe" ""
check "one answer per autoresponse_graceperiod" test "$(count_to late@example.net)" -eq 1
H config set $L autorespond_requests 2
send late2@example.net demo-request@example.org "subscribe" ""
check "autorespond_requests 2: answered and worked" bash -c '[ "$(grep -l "^rcpt: late2@example.net" "$1"/queue/virgin/*.msg | wc -l)" -eq 3 ] && "$2" --var "$1" members list "$3" | grep -qx late2@example.net' _ "$V" "$HERALD" $L

# --- the daily limit of automatic replies -------------------------------------
H site set notice.max_autoresponses_per_day 3
clear_virgin
for i in 1 2 3 4 5; do send busy@example.net demo-request@example.org "info" ""; done
check "replies stop at notice.max_autoresponses_per_day, with one notice that they stop (Mailman's nomoretoday)" test "$(count_to busy@example.net)" -eq 4
check "(that notice is the fourth)" bash -c 'grep -l "^rcpt: busy@example.net" "$1"/queue/virgin/*.msg | xargs grep -l "^Subject: Last autoresponse notification for today" | wc -l | grep -qx 1' _ "$V"

# --- accounted for ------------------------------------------------------------
printf 'garbage without a header' | H queue inject commands --list $L --meta kind=request --meta sender=x@example.net >/dev/null
H runner commands --once >/dev/null 2>&1
check "an unparsable entry goes to bad/" test "$(ls "$V/queue/bad/" | grep -c '\.msg$')" -eq 1
check "the commands queue is empty" test -z "$(ls "$V/queue/commands/")"
check "nothing was shunted" test -z "$(ls "$V/queue/shunt/" 2>/dev/null)"
t_done
