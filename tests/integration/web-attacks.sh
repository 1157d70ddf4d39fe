#!/usr/bin/env bash
# Stored and reflected XSS, and CSRF, through every page: XSS through
# every field that reaches a page: the
# list's name, description and info, members' names, posts' subjects,
# authors and bodies in the archive and in the moderation queue, search
# terms and form values sent back. Every page a stranger, a member, the
# owner and the site administrator can reach by links is crawled
# (tests/web/crawl.py) and must show the payloads only as text; every POST
# form found on the way is sent without its CSRF token and with a forged
# one (tests/web/forms.py) and must be refused, changing nothing.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
pipeline_runners "$V"
L=xss@example.org
LE=xss%40example.org
P1='<script>alert(1)</script>'
P2='"><img src=x onerror=alert(2)>'
P3="'><svg onload=alert(3)>"
H lists create $L --owner owner@example.org >/dev/null
H config set $L real_name "Evil $P1" >/dev/null
H config set $L description "Desc $P2" >/dev/null
H config set $L info "Info $P3
javascript:alert(4)" >/dev/null
H config set $L password ownerpw >/dev/null
H config set $L generic_nonmember_action 1 >/dev/null   # hold
H config set $L archive_private 0 >/dev/null
printf 'm%d@example.com\n' 1 2 3 | H members add $L >/dev/null
H members set $L m1@example.com name "Mal $P1" >/dev/null
H members set $L m2@example.com name "Mal $P2" >/dev/null
H members set $L m1@example.com password m1pw >/dev/null
printf 'sitepw\n' | H web password >/dev/null
post() {	# post FROM SUBJECT BODY: archived
	printf 'From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s@example.com>\nDate: Mon, 07 Dec 2026 10:00:00 +0000\n\n%s\n' \
		"$1" $L "$2" "$RANDOM$RANDOM" "$3" | H archive add $L >/dev/null
}
post "\"Eve $P1\" <eve@example.com>" "Subj $P2" "Body $P1 $P3 <a href=\"javascript:alert(5)\">x</a>"
post "eve@example.com" "=?utf-8?q?=3Cscript=3Ealert=286=29=3C=2Fscript=3E?=" "encoded subject"
# A held post with hostile headers and an HTML body.
printf 'From: "Held %s" <stranger@example.net>\nTo: %s\nSubject: Held %s\nMessage-ID: <held1@example.net>\nMIME-Version: 1.0\nContent-Type: text/html\n\n<html><body>%s<iframe src=x></iframe></body></html>\n' \
	"$P1" $L "$P2" "$P3" | H queue inject in --list $L >/dev/null
H runner in --once >/dev/null 2>&1
check "the hostile post is held" test "$(H held list $L | wc -l)" -ge 1
web_serve "$V" || { not_ok "web serve"; t_done; }
CRAWL=$HERALD_TOP/tests/web/crawl.py
# session ROLE PASSWORD [EMAIL]: a session cookie
session() {
	local t
	t=$(curl -s "${WEB_BASE}listinfo/$LE" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
	curl -s -o /dev/null -D - -d "csrf=$t&role=$1&list=$L&password=$2&email=${3:-}" "${WEB_BASE}login" |
		sed -n 's/^Set-Cookie: \(herald_session=[^;]*\);.*/\1/p' | tr -d '\r'
}
result() { while IFS= read -r l; do case $l in "ok - "*) ok "${l#ok - }" ;; "not ok - "*) not_ok "${l#not ok - }" ;; esac; done; }
result < <(python3 "$CRAWL" "$WEB_BASE" "" 200 "" "listinfo/$LE" "archives/$LE/" "roster/$LE" \
	"archives/$LE/search?q=%3Cscript%3Ealert(1)%3C/script%3E" \
	"login?list=$LE&m=%22%3E%3Cscript%3Ealert(7)%3C/script%3E&e=1&t=x" \
	"archives/$LE/search?q=Subj")
MS=$(session member m1pw m1@example.com)
check "a member logs in" test -n "$MS"
result < <(python3 "$CRAWL" "$WEB_BASE" "$MS" 200 "options/$LE" "options/$LE/m1%40example.com" "roster/$LE")
OS=$(session owner ownerpw)
check "the owner logs in" test -n "$OS"
result < <(python3 "$CRAWL" "$WEB_BASE" "$OS" 300 "admin/$LE" "admin/$LE/members" "admin/$LE/held" \
	"admin/$LE/requests" "admin/$LE/members?q=%3Cscript%3E")
SS=$(session site sitepw)
check "the site administrator logs in" test -n "$SS"
result < <(python3 "$CRAWL" "$WEB_BASE" "$SS" 100 "admin/" "")
# Reflected: values sent in a form come back escaped.
T=$(curl -s "${WEB_BASE}listinfo/$LE" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
curl -s -d "csrf=$T&role=member&list=$L&email=%22%3E%3Cscript%3Ealert(8)%3C%2Fscript%3E%40x.org&password=x" \
	"${WEB_BASE}login" >"$T_DIR/reflect.html"
check "a login form sent back does not carry live markup" bash -c '! grep -qi "<script>alert(8)" "$1"' _ "$T_DIR/reflect.html"
check "the list page shows the payload as text" grep -q 'Evil &lt;script&gt;alert(1)&lt;/script&gt;' <(curl -s "${WEB_BASE}listinfo/$LE")
# CSRF: every POST form each of them can reach, sent without its token
# and with a forged one, is refused, and changes nothing.
FORMS=$HERALD_TOP/tests/web/forms.py
result < <(python3 "$FORMS" "$WEB_BASE" "" "$V" 100 "" "listinfo/$LE" "admin/$LE" "admin/")
result < <(python3 "$FORMS" "$WEB_BASE" "$MS" "$V" 100 "options/$LE" "options/$LE/m1%40example.com")
result < <(python3 "$FORMS" "$WEB_BASE" "$OS" "$V" 200 "admin/$LE" "admin/$LE/members" "admin/$LE/held" "admin/$LE/requests")
result < <(python3 "$FORMS" "$WEB_BASE" "$SS" "$V" 100 "admin/")

# The crawler is no blind eye: a site template with a script in it is
# caught.
mkdir -p "$V/etc/templates/web"
sed 's|</main>|</main><script>planted()</script>|' "$HERALD_TOP/templates/web/foot.html" >"$V/etc/templates/web/foot.html"
check "the crawler catches live markup (a planted site template)" \
	bash -c 'python3 "$1" "$2" "" 3 "" | grep "^not ok - .*live markup <script>" >/dev/null' _ "$CRAWL" "$WEB_BASE"
t_done
