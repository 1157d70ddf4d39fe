#!/usr/bin/env bash
# The members' pages of the web interface (page_options.c, page_roster.c):
# every POST needs the CSRF token; a member sees and changes only their
# own options on their own list; a moderator may not change a member's
# options, an owner may; each option change lands in `herald members
# show`; path parameters that are no list or address are refused; the
# roster follows private_roster, hides members who chose "hide" from all
# but the moderators, and comes in pages; a change of address is
# confirmed by the new address and moves the member on every list.  Then
# the browser (tests/web/options.mjs): a member logs in with a password,
# changes options and name, unsubscribes; another logs in by the link
# that was mailed to them and sees all their lists.
#
# No runner sends the notices (new_var), so herald's mail waits in the
# virgin queue, where the tests read it.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
A=alpha@example.org
B=beta@example.org
H lists create $A --owner owner@example.org >/dev/null
H lists create $B --owner owner@example.org >/dev/null
H config set $A password owner-secret
H config set $A mod_password mod-secret
printf 'ann@example.com\nbob@example.com\ncarol@example.com\ndan@example.com\n' | H members add $A >/dev/null
printf 'ann@example.com\ncarol@example.com\n' | H members add $B >/dev/null
for who in ann bob carol dan; do
	H members set $A $who@example.com password "$who-secret"
done
web_serve "$V" || { not_ok "the web server starts"; t_done; }

# --- helpers ---------------------------------------------------------------
# csrf JAR PATH: the CSRF token of the page at PATH, fetched with JAR.
csrf() { curl -s -b "$1" -c "$1" "$WEB_BASE$2" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1; }
# status JAR METHOD PATH [curl args]: the HTTP status of a request.
status() {
	local jar=$1 method=$2 path=$3; shift 3
	curl -s -o "$T_DIR/body" -w '%{http_code}' -b "$jar" -c "$jar" -X "$method" "$@" "$WEB_BASE$path"
}
# login JAR ROLE LIST EMAIL PASSWORD: a session in JAR; the status.
login() {
	local t
	t=$(csrf "$1" "options/$3")
	status "$1" POST login --data-urlencode "csrf=$t" --data-urlencode "role=$2" \
		--data-urlencode "list=$3" --data-urlencode "email=$4" \
		--data-urlencode "password=$5" --data-urlencode "next=/"
}
show() { H members show "$1" "$2"; }
member() { H members show "$1" "$2" >/dev/null 2>&1; }
field() { show "$1" "$2" | sed -n "s/^$3: //p"; }
ANN=options/$A/ann%40example.com
BOB=options/$A/bob%40example.com

# --- logging in --------------------------------------------------------------
check "options/LIST without a session is the member login (401)" test "$(status "$T_DIR/anon" GET options/$A)" = 401
check "which offers the login link by mail" grep -q 'value="link"' "$T_DIR/body"
check "a member's page without a session is the login too" test "$(status "$T_DIR/anon" GET $ANN)" = 401
check "a wrong password logs nobody in" test "$(login "$T_DIR/bad" member $A ann@example.com wrong)" = 403
check "ann logs in with her password" test "$(login "$T_DIR/ann" member $A ann@example.com ann-secret)" = 303
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -b "$T_DIR/ann" "$WEB_BASE"options/$A)
check "options/LIST takes her on to her own page ($code)" test "$code" = "303 ${WEB_BASE}options/alpha%40example.org/ann%40example.com"
check "her page shows her options" test "$(status "$T_DIR/ann" GET $ANN)" = 200
check "and all her lists, the other one by a login link" bash -c 'grep -q "beta@example.org" "$1" && grep -q "Email me a login link" "$1"' _ "$T_DIR/body"
TOK=$(csrf "$T_DIR/ann" $ANN)

# --- CSRF ----------------------------------------------------------------------
check "a POST without the CSRF token is refused (403)" test "$(status "$T_DIR/ann" POST $ANN -d do=options -d name=Mallory -d delivery=on -d mode=regular)" = 403
check "a POST with a wrong token is refused" test "$(status "$T_DIR/ann" POST $ANN -d csrf=x$TOK -d do=options -d name=Mallory -d delivery=on)" = 403
check "an unsubscription without the token is refused" test "$(status "$T_DIR/ann" POST $ANN -d do=unsubscribe -d confirm=on)" = 403
check "a password change without the token is refused" test "$(status "$T_DIR/ann" POST $ANN -d do=password -d pw=x -d pw2=x)" = 403
check "an address change without the token is refused" test "$(status "$T_DIR/ann" POST $ANN -d do=address -d new_address=evil@example.net)" = 403
check "nothing changed" test -z "$(field $A ann@example.com name)"
check "ann is still a member" member $A ann@example.com

# --- each option lands in the roster -------------------------------------------
post_ann() { status "$T_DIR/ann" POST $ANN --data-urlencode "csrf=$TOK" "$@"; }
# available_languages: only English at first (the list's default).
check "with only English available, her page offers no German" bash -c '! curl -s -b "$1" "$2" | grep -q "Deutsch"' _ "$T_DIR/ann" "$WEB_BASE$ANN"
check "and German is refused (400)" test "$(post_ann -d do=options -d mode=mime -d language=de)" = 400
check "members set refuses it too" bash -c '! "$1" --var "$2" members set "$3" ann@example.com language de 2>/dev/null' _ "$HERALD" "$V" $A
"$HERALD" --var "$V" config set $A available_languages $'en\nde' >/dev/null
check "once the list offers German, her page does" bash -c 'curl -s -b "$1" "$2" | grep -q "Deutsch"' _ "$T_DIR/ann" "$WEB_BASE$ANN"
check "the options form saves (303)" test "$(post_ann -d do=options -d mode=mime -d ack=on -d notmetoo=on -d hide=on -d nodupes=on -d language=de --data-urlencode 'name=Ann Äxample')" = 303
check "delivery off by the member" bash -c 'echo "$1" | grep -q "^delivery: byuser"' _ "$(show $A ann@example.com)"
check "MIME digests" test "$(field $A ann@example.com mode)" = mime
check "ack, notmetoo, hide, nodupes" test "$(field $A ann@example.com options)" = "ack,notmetoo,hide,nodupes"
check "language German" test "$(field $A ann@example.com language)" = de
check "the display name" test "$(field $A ann@example.com name)" = "Ann Äxample"
check "the page is German now (her language)" bash -c 'curl -s -b "$1" "$2" | grep -q "Ihr Abonnement"' _ "$T_DIR/ann" "$WEB_BASE$ANN?done=options"
check "plain digests, delivery on, options off" test "$(post_ann -d do=options -d mode=plain -d delivery=on -d language= -d name=Ann)" = 303
check "delivery on again" test "$(field $A ann@example.com delivery)" = enabled
check "plain digests" test "$(field $A ann@example.com mode)" = plain
check "no options" test "$(field $A ann@example.com options)" = "(none)"
check "the list's language" test "$(field $A ann@example.com language)" = "(the list's)"
check "back to each post" test "$(post_ann -d do=options -d mode=regular -d delivery=on -d name=Ann)" = 303
check "regular" test "$(field $A ann@example.com mode)" = regular
H config set $A digestable no
check "no digests where the list has none (400)" test "$(post_ann -d do=options -d mode=mime -d delivery=on -d name=Ann)" = 400
check "the mode stayed" test "$(field $A ann@example.com mode)" = regular
H config set $A digestable yes
check "a name with a line break is refused" test "$(post_ann -d do=options -d mode=regular -d delivery=on --data-urlencode $'name=Ann\nBcc: x')" = 400
check "an unknown language is refused" test "$(post_ann -d do=options -d mode=regular -d delivery=on -d language=../../etc)" = 400
check "different passwords are refused" test "$(post_ann -d do=password -d pw=one -d pw2=two)" = 400
check "a new password is taken (303)" test "$(post_ann -d do=password -d pw=new-ann-secret -d pw2=new-ann-secret)" = 303
check "the old password no longer logs in" test "$(login "$T_DIR/old" member $A ann@example.com ann-secret)" = 403
check "the new one does" test "$(login "$T_DIR/new" member $A ann@example.com new-ann-secret)" = 303

# --- who may act on whom ---------------------------------------------------------
check "ann may not see bob's options (403)" test "$(status "$T_DIR/ann" GET $BOB)" = 403
check "nor change them" test "$(status "$T_DIR/ann" POST $BOB --data-urlencode "csrf=$TOK" -d do=options -d mode=regular -d name=Hacked)" = 403
check "nor unsubscribe him" test "$(status "$T_DIR/ann" POST $BOB --data-urlencode "csrf=$TOK" -d do=unsubscribe -d confirm=on)" = 403
check "bob is untouched" bash -c '[ -z "$(echo "$1" | sed -n "s/^name: //p")" ] && echo "$1" | grep -q "^delivery: enabled"' _ "$(show $A bob@example.com)"
check "ann's session does not reach her own options on list B (login form)" test "$(status "$T_DIR/ann" GET options/$B/ann%40example.com)" = 403
check "and it is the login form" grep -q 'name="password"' "$T_DIR/body"
check "nor can it change them" test "$(status "$T_DIR/ann" POST options/$B/ann%40example.com --data-urlencode "csrf=$TOK" -d do=options -d mode=regular -d name=Cross)" = 403
check "her B subscription is untouched" test -z "$(field $B ann@example.com name)"
check "a moderator logs in" test "$(login "$T_DIR/mod" moderator $A "" mod-secret)" = 303
MTOK=$(csrf "$T_DIR/mod" options/$A)
check "a moderator may not see a member's options" test "$(status "$T_DIR/mod" GET $BOB)" = 403
check "nor change them" test "$(status "$T_DIR/mod" POST $BOB --data-urlencode "csrf=$MTOK" -d do=options -d mode=regular -d name=Moderated)" = 403
check "bob's name is unchanged" test -z "$(field $A bob@example.com name)"
check "an owner logs in" test "$(login "$T_DIR/owner" owner $A "" owner-secret)" = 303
OTOK=$(csrf "$T_DIR/owner" options/$A)
check "options/LIST offers an owner a member to pick" test "$(status "$T_DIR/owner" GET options/$A)" = 200
check "an owner sees bob's options" test "$(status "$T_DIR/owner" GET $BOB)" = 200
check "saying so" grep -q "as the list&#39;s owner" "$T_DIR/body"
check "an owner changes them" test "$(status "$T_DIR/owner" POST $BOB --data-urlencode "csrf=$OTOK" -d do=options -d mode=regular -d name=Robert)" = 303
check "bob's name and delivery (turned off by an owner)" bash -c 'echo "$1" | grep -q "^name: Robert" && echo "$1" | grep -q "^delivery: byowner"' _ "$(show $A bob@example.com)"
BTOK=$(login "$T_DIR/bob" member $A bob@example.com bob-secret >/dev/null; csrf "$T_DIR/bob" $BOB)
check "bob may not turn on what an owner turned off" test "$(status "$T_DIR/bob" POST $BOB --data-urlencode "csrf=$BTOK" -d do=options -d mode=regular -d delivery=on -d name=Robert)" = 400
check "delivery stays off" bash -c 'echo "$1" | grep -q "^delivery: byowner"' _ "$(show $A bob@example.com)"
check "the owner turns it on" test "$(status "$T_DIR/owner" POST $BOB --data-urlencode "csrf=$OTOK" -d do=options -d mode=regular -d delivery=on -d name=Robert)" = 303
check "on" test "$(field $A bob@example.com delivery)" = enabled

# --- path parameters -------------------------------------------------------------
for p in "options/..%2F..%2Fetc" "options/$A/..%2F..%2F..%2Fetc%2Fpasswd" "options/$A/ann%40example.com%2F..%2F..%2Fconfig" \
	"options/..%2F$A/ann%40example.com" "roster/..%2F..%2Fetc" "options/$A/nobody%40example.com" "options/$A/ann%40example.com/x"; do
	check "$p is refused (404)" test "$(status "$T_DIR/owner" GET "$p")" = 404
done

# --- the roster ------------------------------------------------------------------
H config set $A private_roster 0
check "private_roster 0: anyone sees the roster" test "$(status "$T_DIR/anon" GET roster/$A)" = 200
check "bob is on it" grep -q "bob at example.com" "$T_DIR/body"
H members set $A carol@example.com hide yes
status "$T_DIR/anon" GET roster/$A >/dev/null
check "carol (hide) is not" bash -c '! grep -q "carol" "$1"' _ "$T_DIR/body"
check "only counted" grep -q "1 members chose not to be shown" "$T_DIR/body"
check "the owner sees her, marked hidden, addresses in clear" bash -c '[ "$(curl -s -b "$1" "$2")" ] && curl -s -b "$1" "$2" | grep -q "carol@example.com <span class=\"small\">(hidden)"' _ "$T_DIR/owner" "${WEB_BASE}roster/$A"
H config set $A private_roster 1
check "private_roster 1: a stranger gets the member login" test "$(status "$T_DIR/anon" GET roster/$A)" = 401
check "a member of the list sees it" test "$(status "$T_DIR/ann" GET roster/$A)" = 200
H members set $B ann@example.com password ann-b-secret
login "$T_DIR/annb" member $B ann@example.com ann-b-secret >/dev/null
check "a member of list B gets the login form for A's roster (403)" test "$(status "$T_DIR/annb" GET roster/$A)" = 403
H config set $A private_roster 2
check "private_roster 2: a member does not see it" test "$(status "$T_DIR/ann" GET roster/$A)" = 403
check "a moderator does" test "$(status "$T_DIR/mod" GET roster/$A)" = 200
# 1000 more: a view of the roster big enough to be kept between requests
# (web/memberview.h), so the pages below also prove it follows changes.
seq -f 'm%04g@example.net' 1 1000 | H members add $A >/dev/null
code=$(status "$T_DIR/owner" GET roster/$A)
check "1004 members: page 1 has 100 ($code)" test "$code" = 200
check "100 rows" test "$(grep -c '^<tr><td>' "$T_DIR/body")" = 100
check "and a next page" grep -q 'rel="next"' "$T_DIR/body"
status "$T_DIR/owner" GET "roster/$A?page=11" >/dev/null
check "page 11 has the last 4" test "$(grep -c '^<tr><td>' "$T_DIR/body")" = 4
check "and no next page" bash -c '! grep -q "rel=\"next\"" "$1"' _ "$T_DIR/body"
status "$T_DIR/owner" GET "roster/$A?page=99999999999999999999" >/dev/null
check "a page past the end shows the last" test "$(grep -c '^<tr><td>' "$T_DIR/body")" = 4
H config set $A private_roster 0
status "$T_DIR/anon" GET "roster/$A?page=6" >/dev/null
check "a stranger sees m0500 on page 6" grep -q "m0500 at example.net" "$T_DIR/body"
H members set $A m0500@example.net hide yes
status "$T_DIR/anon" GET "roster/$A?page=6" >/dev/null
check "once m0500 hides, the next page view leaves it out" bash -c '! grep -q "m0500" "$1"' _ "$T_DIR/body"
check "and counts two hidden" grep -q "2 members chose not to be shown" "$T_DIR/body"
check "the options page of a member of the big list follows changes too" bash -c '
	"$1" --var "$2" members set "$3" dan@example.com name "Dan Big" &&
	curl -s -b "$4" "$5" | grep -q "value=\"Dan Big\""' _ "$HERALD" "$V" $A "$T_DIR/owner" "${WEB_BASE}options/$A/dan%40example.com"
check "a POST to the roster is refused" test "$(status "$T_DIR/owner" POST roster/$A --data-urlencode "csrf=$OTOK")" = 404
H config set $A private_roster 0

# --- a change of address across lists --------------------------------------------
NTOK=$(csrf "$T_DIR/new" $ANN)
check "ann asks to move to ann@new.example on every list (303)" test "$(status "$T_DIR/new" POST $ANN --data-urlencode "csrf=$NTOK" -d do=address -d new_address=ann@new.example -d all_lists=on)" = 303
msg=$(grep -l 'rcpt: ann@new.example' "$V"/queue/virgin/*.msg | head -1)
check "the new address is asked to confirm" test -n "$msg"
ctok=$(sed -n 's/^Subject: confirm \([A-Za-z0-9_-]\{43\}\)$/\1/p' "$msg" | head -1)
check "with a token" test -n "$ctok"
check "nothing moved yet" member $A ann@example.com
check "the confirm page describes the move" bash -c 'curl -s "$1" | grep -q "Move the subscriptions of ann@example.com on every list to ann@new.example"' _ "${WEB_BASE}confirm/$A/$ctok"
t=$(csrf "$T_DIR/anon" "confirm/$A/$ctok")
check "confirming it" test "$(status "$T_DIR/anon" POST "confirm/$A/$ctok" --data-urlencode "csrf=$t" -d do=confirm)" = 200
check "ann@new.example is the member on A, her options kept" bash -c 'echo "$1" | grep -q "^name: Ann$"' _ "$(show $A ann@new.example)"
check "and on B" member $B ann@new.example
check "ann@example.com is gone from both" bash -c '! "$1" --var "$2" members show "$3" ann@example.com 2>/dev/null && ! "$1" --var "$2" members show "$4" ann@example.com 2>/dev/null' _ "$HERALD" "$V" $A $B

# --- unsubscribing -----------------------------------------------------------------
DTOK=$(login "$T_DIR/dan" member $A dan@example.com dan-secret >/dev/null; csrf "$T_DIR/dan" options/$A/dan%40example.com)
check "unsubscribing needs the box ticked (400)" test "$(status "$T_DIR/dan" POST options/$A/dan%40example.com --data-urlencode "csrf=$DTOK" -d do=unsubscribe)" = 400
check "dan is still a member" member $A dan@example.com
H config set $A unsubscribe_policy 1
check "under unsubscribe_policy 1 it waits for a moderator" test "$(status "$T_DIR/dan" POST options/$A/dan%40example.com --data-urlencode "csrf=$DTOK" -d do=unsubscribe -d confirm=on)" = 200
check "saying so" grep -q "waits for a moderator" "$T_DIR/body"
check "dan is still a member" member $A dan@example.com
check "the request waits" bash -c '"$1" --var "$2" requests list "$3" | grep -q "unsubscribe  dan@example.com"' _ "$HERALD" "$V" $A
H config set $A unsubscribe_policy 0

# --- the browser -------------------------------------------------------------------
H members set $A carol@example.com hide no
browser options.mjs "$V" "$A" "$B"
check "browser: bob's change of options was logged" grep -q "options of bob@example.com changed by the member" "$V/web.log"
check "browser: bob is unsubscribed" bash -c '! "$1" --var "$2" members show "$3" bob@example.com 2>/dev/null' _ "$HERALD" "$V" $A
t_done
