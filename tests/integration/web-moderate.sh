#!/usr/bin/env bash
# The moderators' and owners' pages of the web interface (page_held.c,
# page_members.c), over HTTP with curl, then in Chromium
# (tests/web/moderate.mjs):
#   - the pages need a login: a stranger gets the login form (401), a
#     member and a moderator of another list get 403; a moderator may not
#     see the roster (owners only);
#   - every POST needs the session's CSRF token: without it, or with
#     another session's, nothing changes;
#   - a moderator of list A cannot act on list B's held posts;
#   - a post held by the real pipeline and approved on the page goes back
#     to the in queue and on to the out queue; a rejection's reason reaches
#     the poster; "ban" and "accept" add the poster to ban_list and
#     accept_these_nonmembers; the bulk form decides every checked post;
#   - a held post's Subject, From name, text and HTML part reach the page
#     escaped: no <script> anywhere;
#   - a subscription waiting for approval is approved on the requests page;
#   - an owner mass-subscribes 1,000 addresses (a result each, every one
#     in `herald members list`), searches the roster and changes a
#     member's options; a change made by another process shows at once.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
pipeline_runners "$V"
H() { "$HERALD" --var "$V" "$@"; }
A=demo@lists.test
B=other@lists.test
H site set runner.commands.handler commands
H site set notice.max_autoresponses_per_day 0
for l in $A $B; do
	H lists create $l --owner owner@example.org >/dev/null
done
H config set $A password ownerpw >/dev/null
H config set $A mod_password modpw >/dev/null
H config set $B mod_password bmodpw >/dev/null
echo "Mem Ber <member@example.com>" | H members add $A >/dev/null 2>&1
H members set $A member@example.com password memberpw

N=0
# hold LIST FROM SUBJECT [FILE]: a non-member's post (FILE: the whole
# message), through the in runner, which holds it.
hold() {
	N=$((N + 1))
	if [ $# -ge 4 ]; then cat "$4"; else
		printf 'From: %s\nTo: %s\nSubject: %s\nMessage-ID: <p%d@example.net>\n\nHello from %s.\n' \
			"$2" "$1" "$3" $N "$2"; fi |
		H mta post "$1" --sender "$2" && H runner in --once >/dev/null 2>&1
}
held_id() { H held list "$1" | awk -F'\t' -v s="$2" '$4 == s { print $1 }'; }

web_serve "$V" || { not_ok "herald web serve does not answer"; t_done; }
U=${WEB_BASE}admin

# csrf_of JAR URL: the CSRF token of the page's first form.
csrf_of() {
	curl -s -b "$1" -c "$1" "$2" | grep -o 'name="csrf" value="[^"]*"' |
		head -1 | sed 's/.*value="//; s/"$//'
}
# login JAR ROLE LIST PASSWORD [EMAIL]: a new session in cookie jar JAR.
login() {
	local t
	t=$(csrf_of "$1" "${WEB_BASE}listinfo/$3")
	curl -s -o /dev/null -w '%{http_code}' -b "$1" -c "$1" --data-urlencode "csrf=$t" \
		-d "role=$2" --data-urlencode "list=$3" --data-urlencode "password=$4" \
		--data-urlencode "email=${5:-}" -d do=login "${WEB_BASE}login"
}
# code JAR URL [curl args]: the HTTP status.
code() { local j=$1 u=$2; shift 2; curl -s -o /dev/null -w '%{http_code}' -b "$j" "$@" "$u"; }
# act JAR URL FIELDS...: a POST with the page's CSRF token; the page to stdout.
act() {
	local j=$1 u=$2 t; shift 2
	t=$(csrf_of "$j" "$u")
	curl -s -b "$j" --data-urlencode "csrf=$t" "$@" "$u"
}

# --- held posts, held by the real pipeline -------------------------------------
hold $A stranger@example.net "first post"
hold $A reject-me@example.net "second post"
hold $A spam1@example.net "spam one"
hold $A spam2@example.net "spam two"
hold $A banme@example.net "ban me"
hold $B other@example.net "other list post"
cat >"$T_DIR/xss.eml" <<'EOF'
From: "<script>alert('from')</script>" <xss@example.net>
To: demo@lists.test
Subject: <script>alert('subject')</script> =?UTF-8?B?PHNjcmlwdD5hbGVydCgnZW5jb2RlZCcpPC9zY3JpcHQ+?=
Message-ID: <xss@example.net>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b"

--b
Content-Type: text/plain; charset=utf-8

Body <script>alert('body')</script> <img src=x onerror=alert(1)>
--b
Content-Type: text/html; charset=utf-8

<html><body><script>alert('html')</script><b>bold</b></body></html>
--b--
EOF
hold $A xss@example.net "" "$T_DIR/xss.eml"
check "seven posts are held (six on $A, one on $B)" \
	test "$(H held list $A | wc -l) $(H held list $B | wc -l)" = "6 1"
P1=$(held_id $A "first post") P2=$(held_id $A "second post")
S1=$(held_id $A "spam one") S2=$(held_id $A "spam two")
PB=$(held_id $A "ban me") PO=$(held_id $B "other list post")
PX=$(H held list $A | awk -F'\t' '$3 == "xss@example.net" { print $1 }')

# --- who may see what ---------------------------------------------------------------
J0=$T_DIR/stranger.jar JM=$T_DIR/mod.jar JB=$T_DIR/modb.jar
JO=$T_DIR/owner.jar JU=$T_DIR/member.jar
check "a stranger gets the login form for the held posts (401)" \
	test "$(code "$J0" "$U/$A/held")" = 401
check "the moderator of $A logs in" test "$(login "$JM" moderator $A modpw)" = 303
check "the moderator of $B logs in" test "$(login "$JB" moderator $B bmodpw)" = 303
check "the owner of $A logs in" test "$(login "$JO" owner $A ownerpw)" = 303
check "a member of $A logs in" test "$(login "$JU" member $A memberpw member@example.com)" = 303
check "the moderator sees $A's held posts" test "$(code "$JM" "$U/$A/held")" = 200
check "a member may not see them (403)" test "$(code "$JU" "$U/$A/held")" = 403
check "a member may not see the roster (403)" test "$(code "$JU" "$U/$A/members")" = 403
check "nor the requests (403)" test "$(code "$JU" "$U/$A/requests")" = 403
check "a moderator may not see the roster (owners only, 403)" \
	test "$(code "$JM" "$U/$A/members")" = 403
check "the moderator of $B may not see $A's held posts (403)" \
	test "$(code "$JB" "$U/$A/held")" = 403
check "the owner may moderate too" test "$(code "$JO" "$U/$A/held")" = 200
check "a held post id that is no number is 404" test "$(code "$JM" "$U/$A/held/..%2F1")" = 404
check "a path past the pages is 404" test "$(code "$JM" "$U/$A/held/$P1/x")" = 404

# --- CSRF and the other list --------------------------------------------------------
c=$(code "$JM" "$U/$A/held/$P1" -d do=approve)
check "an approval without a CSRF token is refused (403)" test "$c" = 403
tb=$(csrf_of "$JB" "$U/$B/held")
c=$(code "$JM" "$U/$A/held/$P1" --data-urlencode "csrf=$tb" -d do=approve)
check "and with another session's token (403)" test "$c" = 403
check "so the post is still held" test -n "$(held_id $A "first post")"
ta=$(csrf_of "$JM" "$U/$A/held")
c=$(code "$JM" "$U/$B/held/$PO" --data-urlencode "csrf=$ta" -d do=approve)
check "$A's moderator cannot approve $B's post, even with a good token (403)" test "$c" = 403
c=$(code "$JM" "$U/$B/held" --data-urlencode "csrf=$ta" -d do=discard -d "post-$PO=1")
check "nor discard it through the bulk form (403)" test "$c" = 403
check "$B's post is still held" test "$(H held list $B | wc -l)" = 1

# --- escaping ---------------------------------------------------------------------
curl -s -b "$JM" "$U/$A/held" >"$T_DIR/held.html"
curl -s -b "$JM" "$U/$A/held/$PX" >"$T_DIR/xss.html"
check "the held posts page has no <script>" sh -c "! grep -qi '<script' '$T_DIR/held.html'"
check "it shows the Subject escaped" grep -q "&lt;script&gt;alert(&#39;subject&#39;)" "$T_DIR/held.html"
check "the post's page has no <script> and no <img>" \
	sh -c "! grep -qiE '<script|<img' '$T_DIR/xss.html'"
check "it shows the decoded Subject escaped" grep -q "&lt;script&gt;alert(&#39;encoded&#39;)" "$T_DIR/xss.html"
check "the From name escaped" grep -q "&lt;script&gt;alert(&#39;from&#39;)" "$T_DIR/xss.html"
check "the text escaped" grep -q "Body &lt;script&gt;alert(&#39;body&#39;)&lt;/script&gt; &lt;img src=x" "$T_DIR/xss.html"
check "the HTML part is not shown, only named" \
	sh -c "! grep -q \"alert(&#39;html&#39;)\" '$T_DIR/xss.html' && grep -q 'text/html' '$T_DIR/xss.html'"

# --- decisions ---------------------------------------------------------------------
out=$(act "$JM" "$U/$A/held/$P1" -d do=approve)
check "approving on the page says so" grep -q "approved" <<<"$out"
check "the post is no longer held" test -z "$(held_id $A "first post")"
H runner in --once >/dev/null 2>&1
check "it went on to the out queue" \
	sh -c "grep -l '^Subject: .*first post' '$V'/queue/out/*.msg >/dev/null 2>&1"
act "$JM" "$U/$A/held/$P2" -d do=reject --data-urlencode "reason=Off topic here" >/dev/null
check "a rejected post is no longer held" test -z "$(held_id $A "second post")"
check "its poster is told the reason" \
	sh -c "grep -l '^rcpt: reject-me@example.net' '$V'/queue/virgin/*.msg | xargs grep -l 'Off topic here' >/dev/null"
act "$JM" "$U/$A/held/$PB" -d do=discard -d ban=1 -d accept=1 >/dev/null
check "discard with ban adds the poster to ban_list" sh -c "\"$HERALD\" --var '$V' config get $A ban_list | grep -qx banme@example.net"
check "and with accept to accept_these_nonmembers" sh -c "\"$HERALD\" --var '$V' config get $A accept_these_nonmembers | grep -qx banme@example.net"
out=$(act "$JM" "$U/$A/held" -d do=discard -d "post-$S1=1" -d "post-$S2=1")
check "the bulk form discards both checked posts" \
	test -z "$(held_id $A "spam one")$(held_id $A "spam two")"
check "and leaves the others" test -n "$(H held list $A | awk -F'\t' '$3 == "xss@example.net"')"
out=$(act "$JM" "$U/$A/held" -d do=discard)
check "the bulk form with nothing checked says so" grep -q "Check the posts" <<<"$out"

# --- requests ---------------------------------------------------------------------
H config set $A subscribe_policy 2 >/dev/null
printf 'From: joe@example.com\nTo: demo-request@lists.test\nSubject: subscribe\nMessage-ID: <s1@example.com>\n\nsubscribe\n' |
	H mta auto --sender joe@example.com --recipient demo-request@lists.test &&
	H runner commands --once >/dev/null 2>&1
curl -s -b "$JM" "$U/$A/requests" >"$T_DIR/req.html"
check "joe's subscription waits on the requests page" grep -q "joe@example.com" "$T_DIR/req.html"
tok=$(grep -o 'name="token" value="[^"]*"' "$T_DIR/req.html" | head -1 | sed 's/.*value="//; s/"$//')
c=$(code "$JM" "$U/$A/requests" -d "token=$tok" -d do=approve)
check "approving it without a CSRF token is refused" test "$c" = 403
act "$JM" "$U/$A/requests" -d "token=$tok" -d do=approve >/dev/null
check "approved on the page, joe is a member" sh -c "\"$HERALD\" --var '$V' members list $A | grep -q joe@example.com"
H config set $A subscribe_policy 1 >/dev/null

# --- the roster -----------------------------------------------------------------
seq -f "mass%04g@example.net" 1 1000 >"$T_DIR/mass.txt"
t0=$(date +%s%N)
act "$JO" "$U/$A/members/mass" -d what=subscribe -d notify=no \
	--data-urlencode "addresses@$T_DIR/mass.txt" >"$T_DIR/mass.html"
t1=$(date +%s%N)
diag "mass subscription of 1,000: $(( (t1 - t0) / 1000000 )) ms"
check "the mass subscription gives one result per address" \
	test "$(grep -c '<tr><td>mass[0-9]*@example.net</td><td>' "$T_DIR/mass.html")" = 1000
check "each is done" test "$(grep -c '<td>done</td>' "$T_DIR/mass.html")" = 1000
H members list $A >"$T_DIR/members.txt"
check "every one of the 1,000 is in herald members list" \
	test "$(grep -cxf "$T_DIR/mass.txt" <(cut -d' ' -f1 "$T_DIR/members.txt" | sed 's/^<//; s/>$//'))" = 1000
out=$(act "$JO" "$U/$A/members/mass" -d what=subscribe -d notify=no --data-urlencode $'addresses=mass0001@example.net\nnot an address')
check "a second run says already a member" grep -q "already a member" <<<"$out"
check "a bad line gets its own result" grep -q "not an address" <<<"$out"
curl -s -b "$JO" "$U/$A/members?q=MASS05" >"$T_DIR/search.html"
check "a search finds the 100 addresses holding mass05 (any case)" \
	grep -q "1 to 50 of 100 members matching, of 1002" "$T_DIR/search.html"
H config set $A admin_member_chunksize 20 >/dev/null
check "admin_member_chunksize sets the page's size" \
	bash -c 'curl -s -b "$1" "$2" | grep -q "1 to 20 of 100 members matching, of 1002"' _ "$JO" "$U/$A/members?q=MASS05"
H config set $A admin_member_chunksize 50 >/dev/null
curl -s -b "$JO" "$U/$A/members?start=1000&per=100" >"$T_DIR/last.html"
check "the last page holds the last two members" \
	test "$(grep -c '<tr><td><a href=' "$T_DIR/last.html")" = 2
out=$(act "$JO" "$U/$A/members/member@example.com" -d do=save -d "name=New Name" -d mode=regular -d delivery=disabled -d mod=1 -d ack=1)
check "the owner saves a member's options" grep -q "Saved." <<<"$out"
H members show $A member@example.com >"$T_DIR/show.txt"
check "the name, delivery and options changed" \
	sh -c "grep -q '^name: New Name' '$T_DIR/show.txt' && grep -q '^delivery: byowner' '$T_DIR/show.txt' && grep -q '^options: ack,mod' '$T_DIR/show.txt'"
out=$(act "$JO" "$U/$A/members/member@example.com" -d do=save -d $'name=x\ny' -d mode=regular)
check "a name with a line break is refused" grep -q "control characters" <<<"$out"
check "the roster page shows the change at once" \
	sh -c "curl -s -b '$JO' '$U/$A/members?q=member%40example.com' | grep -q 'New Name'"
echo "Late Comer <late@example.net>" | H members add $A >/dev/null 2>&1
check "a member added by another process shows on the next page (the index is rebuilt)" \
	sh -c "curl -s -b '$JO' '$U/$A/members?q=late%40' | grep -q 'Late Comer'"
H members remove $A <<<"late@example.net" >/dev/null 2>&1
check "and is gone once removed" \
	sh -c "curl -s -b '$JO' '$U/$A/members?q=late%40' | grep -q 'No members found.'"
c=$(code "$JO" "$U/$A/members/mass" -d what=unsubscribe --data-urlencode "addresses=mass0001@example.net")
check "a mass unsubscription without a CSRF token is refused" test "$c" = 403
check "and changes nothing" sh -c "\"$HERALD\" --var '$V' members list $A | grep -q mass0001@example.net"

# --- in the browser ---------------------------------------------------------------
hold $A browser1@example.net "browser approve"
hold $A browser2@example.net "browser reject"
check "mass0042 does not have the ack option yet" \
	sh -c "! \"$HERALD\" --var '$V' members show $A mass0042@example.net | grep -q '^options: .*ack'"
browser moderate.mjs "$A" modpw ownerpw
check "the browser's approval left the post's queue" test -z "$(held_id $A "browser approve")"
check "the browser's rejection too" test -z "$(held_id $A "browser reject")"
check "the browser's reason reached the poster" \
	sh -c "grep -l '^rcpt: browser2@example.net' '$V'/queue/virgin/*.msg | xargs grep -l 'Please post in English' >/dev/null"
check "the owner's change in the browser is in the roster" \
	sh -c "\"$HERALD\" --var '$V' members show $A mass0042@example.net | grep -q '^options: ack'"
t_done
