#!/usr/bin/env bash
# The web interface's public pages and its defences, over HTTP with curl:
# listinfo and the subscribe form (CSRF token required), the confirmation
# link (a GET changes nothing, the POST acts once), RFC 8058 one-click
# unsubscribe (a POST with List-Unsubscribe=One-Click and a valid token
# unsubscribes with no cookie; a forged, malformed or other member's
# token, a GET, or a POST without the body changes nothing), moderators'
# signed links, logins (wrong passwords counted and blocked, a new session
# id at every login, cookies HttpOnly and SameSite), private archives,
# path traversal, and malformed or oversized requests.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@example.org
H lists create $L --owner owner@example.org >/dev/null
H config set $L real_name Demo >/dev/null
H config set $L password ownerpw >/dev/null
H config set $L mod_password modpw >/dev/null
H site set web.login_attempts 4 >/dev/null
H site set runner.commands.handler commands >/dev/null
web_serve "$V" || { not_ok "the web interface starts"; t_done; }
ok "the web interface starts ($WEB_BASE)"
LE=demo%40example.org
C=$T_DIR/curl
mkdir -p "$C"
# get PATH [CURL ARGS]: the body; status in $C/status, headers in $C/headers
get() { local p=$1; shift; curl -s -o "$C/body" -D "$C/headers" -w '%{http_code}' "$@" "$WEB_BASE$p" >"$C/status"; cat "$C/body"; }
status() { cat "$C/status"; }
# csrf: an anonymous form's token from the listinfo page
csrf() { get "listinfo/$LE" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4; }
virgin() { grep -l -- "$1" "$V"/queue/virgin/*.msg 2>/dev/null | wc -l; }
members() { H members list $L | sort | tr '\n' ' '; }
# commands: what the commands runner does with what the pages queued
commands() { H runner commands --once >/dev/null 2>&1; }
# token PURPOSE ADDRESS: a token.h token made independently in Python
token() {
	python3 - "$V/etc/site.key" "$1" "$L" "$2" <<'PY'
import base64, hashlib, hmac, sys
key = open(sys.argv[1], 'rb').read()
msg = b''.join(s.encode() + b'\0' for s in ('herald-token-1', sys.argv[2], sys.argv[3], sys.argv[4].lower()))
print(base64.urlsafe_b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode().rstrip('='))
PY
}

# --- pages and headers --------------------------------------------------
get "" >/dev/null
check "the overview answers 200" test "$(status)" = 200
check "it lists the advertised list" grep -q "listinfo/$LE" "$C/body"
get "listinfo/$LE" >"$C/listinfo.html"
check "listinfo answers 200" test "$(status)" = 200
check "listinfo is valid HTML5 (tidy)" html_ok "$C/listinfo.html"
for h in "Content-Security-Policy: default-src 'none'" "X-Frame-Options: DENY" \
	"X-Content-Type-Options: nosniff" "Referrer-Policy: same-origin" "Cache-Control: no-store"; do
	check "header $h" grep -qi "^$h" "$C/headers"
done
get "listinfo/nosuch@example.org" >/dev/null
check "an unknown list is 404" test "$(status)" = 404
get "static/herald.css" >/dev/null
check "the style sheet is served, cacheable" bash -c 'test "$(cat "$1/status")" = 200 && grep -qi "^Content-Type: text/css" "$1/headers" && grep -qi "^Cache-Control: public" "$1/headers"' _ "$C"
get "" -H 'Accept-Language: de-DE,de;q=0.9,en;q=0.5' >/dev/null
check "pages come in German for a German browser" grep -q '<h1>Mailinglisten</h1>' "$C/body"
get "listinfo/$LE" -X DELETE >/dev/null
check "DELETE is 405" test "$(status)" = 405

# --- subscribe, confirm -------------------------------------------------
get "listinfo/$LE" -d "email=anna@example.com" >/dev/null
check "a subscription without the CSRF token is refused (403)" test "$(status)" = 403
check "and asks nothing of anyone" test "$(virgin 'rcpt: anna@example.com')" -eq 0
get "listinfo/$LE" -d "csrf=123.forged&email=anna@example.com" >/dev/null
check "with a forged token too" test "$(status)" = 403
T=$(csrf)
get "listinfo/$LE" -d "csrf=$T&email=anna@example.com&fullname=Anna" >/dev/null
check "with the page's token it is taken (200)" test "$(status)" = 200
check "a confirmation goes to the address" test "$(virgin 'rcpt: anna@example.com')" -eq 1
check "anna is not a member yet" test "$(members)" = ""
TOK=$(ls "$V/lists/$L/pending/" | head -1)
check "the confirmation carries the confirm URL" grep -Eq "confirm/demo(@|%40)example.org/$TOK" $(grep -l 'rcpt: anna@example.com' "$V"/queue/virgin/*.msg)
get "confirm/$LE/$TOK" >/dev/null
check "the confirm page shows the request" grep -q "anna@example.com" "$C/body"
check "a GET of it changes nothing" test "$(members)" = ""
get "confirm/$LE/$TOK" -d "do=confirm" >/dev/null
check "its POST needs the CSRF token" test "$(status)" = 403
get "confirm/$LE/$TOK" -d "csrf=$T&do=confirm" >/dev/null
check "the POST confirms (200)" test "$(status)" = 200
check "anna is a member" test "$(members)" = "anna@example.com "
get "confirm/$LE/$TOK" -d "csrf=$T&do=confirm" >/dev/null
check "a second POST finds nothing (404)" test "$(status)" = 404
get "confirm/$LE/..%2F..%2Fetc%2Fpasswd" >/dev/null
check "a token that is none is 404" test "$(status)" = 404

# --- RFC 8058 one-click unsubscribe ----------------------------------
echo bob@example.com | H members add $L >/dev/null
TA=$(token unsubscribe anna@example.com)
TB=$(token unsubscribe bob@example.com)
U="unsubscribe/$LE?m=anna%40example.com&t=$TA"
get "$U" >/dev/null
check "a GET of the one-click URL shows a button (200)" test "$(status)" = 200
check "and unsubscribes nobody" test "$(members)" = "anna@example.com bob@example.com "
check "its button posts List-Unsubscribe=One-Click" grep -q 'name="List-Unsubscribe" value="One-Click"' "$C/body"
get "$U" -X POST >/dev/null
check "a POST without the body is refused (400)" test "$(status)" = 400
get "unsubscribe/$LE?m=anna%40example.com&t=$TB" -d "List-Unsubscribe=One-Click" >/dev/null
check "another member's token is refused (403)" test "$(status)" = 403
FORGED=$(python3 -c 'import sys; t=sys.argv[1]; print(t[:-1] + ("B" if t[-1] != "B" else "C"))' "$TA")
get "unsubscribe/$LE?m=anna%40example.com&t=$FORGED" -d "List-Unsubscribe=One-Click" >/dev/null
check "a forged token is refused (403)" test "$(status)" = 403
get "unsubscribe/$LE?m=anna%40example.com&t=$(token probe anna@example.com)" -d "List-Unsubscribe=One-Click" >/dev/null
check "a token made for another purpose is refused (403)" test "$(status)" = 403
get "unsubscribe/other@example.org?m=anna%40example.com&t=$TA" -d "List-Unsubscribe=One-Click" >/dev/null
check "on another list the token is nothing (404)" test "$(status)" = 404
commands
check "nobody was unsubscribed by those" test "$(members)" = "anna@example.com bob@example.com "
check "and nothing was queued for it" bash -c '! ls "$1"/queue/commands/*.msg >/dev/null 2>&1' _ "$V"
get "$U" -d "List-Unsubscribe=One-Click" >/dev/null
check "the one-click POST is taken, no cookie, no CSRF token (200)" test "$(status)" = 200
check "stored in the commands queue before the answer" test "$(ls "$V"/queue/commands/*.msg | wc -l)" -eq 1
commands
check "anna is gone, bob stays" test "$(members)" = "bob@example.com "
get "unsubscribe/$LE?m=ANNA%40Example.COM&t=$TA" -d "List-Unsubscribe=One-Click" >/dev/null
commands
check "the same link again does no harm (200)" bash -c 'test "$(cat "$1/status")" = 200 && ! ls "$2"/queue/bad/*.msg >/dev/null 2>&1 && ! ls "$2"/queue/shunt/*.msg >/dev/null 2>&1' _ "$C" "$V"

# --- moderators' signed links ---------------------------------------
H config set $L subscribe_policy 2 >/dev/null
T=$(csrf)
get "listinfo/$LE" -d "csrf=$T&email=carl@example.com" >/dev/null
TOK=$(grep -l 'rcpt: carl@example.com' "$V"/queue/virgin/*.msg | xargs grep -Eho "confirm/demo(@|%40)example.org/[A-Za-z0-9_-]*" | head -1 | cut -d/ -f3)
get "confirm/$LE/$TOK" -d "csrf=$T&do=confirm" >/dev/null
check "carl's confirmed request now waits for a moderator" grep -q "waits for the list" "$C/body"
APPROVE=$(grep -Eho "${WEB_BASE}moderate/demo(@|%40)example.org/[^ ]*/approve\?s=[A-Za-z0-9_-]*" "$V"/queue/virgin/*.msg | head -1)
check "the moderators' notice carries a signed approve link" test -n "$APPROVE"
P=${APPROVE#$WEB_BASE}
get "$P" >/dev/null
check "a GET of the link changes nothing" test "$(members)" = "bob@example.com "
get "${P%approve*}discard?s=${P##*s=}" -d "csrf=$T" >/dev/null
check "the approve signature does not discard (403)" test "$(status)" = 403
get "${P%s=*}s=AAAA${P##*s=}" -d "csrf=$T" >/dev/null
check "a tampered signature is refused (403)" test "$(status)" = 403
get "$P" -d "csrf=$T" >/dev/null
check "the link's POST approves" test "$(members)" = "bob@example.com carl@example.com "
get "$P" -d "csrf=$T" >/dev/null
check "a second click finds nothing (404)" test "$(status)" = 404

# --- logins ----------------------------------------------------------
T=$(csrf)
login() { get login -d "csrf=$T&role=$1&list=$L&password=$2&next=/listinfo/$LE" "${@:3}" >/dev/null; }
login owner wrongpw
check "a wrong password is 403" test "$(status)" = 403
check "and says so without saying which part" grep -q "address or password is wrong" "$C/body"
login owner ownerpw -H 'Cookie: herald_session=plantedbyanattackerplantedbyanattackerAAAA'
check "the right one logs in (303 to next)" bash -c 'test "$(cat "$1/status")" = 303 && grep -qi "^Location: /listinfo/demo@example.org" "$1/headers"' _ "$C"
SC=$(grep -i '^Set-Cookie:' "$C/headers")
check "the session cookie is HttpOnly and SameSite=Lax" bash -c 'grep -q HttpOnly <<<"$1" && grep -q "SameSite=Lax" <<<"$1"' _ "$SC"
check "a planted session id is not kept (a new one is made)" bash -c '! grep -q plantedbyanattacker <<<"$1"' _ "$SC"
SID=$(sed -n 's/.*herald_session=\([^;]*\);.*/\1/p' <<<"$SC" | tr -d '\r')
check "the session id appears nowhere in the var dir" bash -c '! grep -rqs "$1" "$2/web"' _ "$SID" "$V"
get "" -H "Cookie: herald_session=$SID" >/dev/null
check "the session is known on the next request" grep -q 'Log out' "$C/body"
get logout -H "Cookie: herald_session=$SID" -d "csrf=$T" >/dev/null
check "logging out needs the session's own CSRF token" test "$(status)" = 403
SCSRF=$(get "" -H "Cookie: herald_session=$SID" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
get logout -H "Cookie: herald_session=$SID" -d "csrf=$SCSRF" >/dev/null
check "logging out (303)" test "$(status)" = 303
get "" -H "Cookie: herald_session=$SID" >/dev/null
check "the session is gone" bash -c '! grep -q "Log out" "$1/body"' _ "$C"
for i in 1 2 3; do login moderator nope$i; done
check "a third wrong moderator password is still a plain 403" test "$(status)" = 403
login moderator modpw
check "web.login_attempts (4) failures from this client: even the right password is refused now (429)" test "$(status)" = 429
check "no password reached the log" bash -c '! grep -rqs -e modpw -e ownerpw -e nope1 "$1"/logs "$1"/web.log' _ "$V"
H site set web.login_attempts 10 >/dev/null

# --- archives --------------------------------------------------------
printf 'From: Bob <bob@example.com>\nTo: %s\nSubject: First post\nMessage-ID: <p1@example.com>\nDate: Mon, 07 Dec 2026 10:00:00 +0000\n\nHello <b>world</b>.\n' $L | H archive add $L >/dev/null
get "archives/$LE" >/dev/null
check "the archive folder without its slash redirects (301)" test "$(status)" = 301
get "archives/$LE/" >/dev/null
check "a public archive's index is served" bash -c 'test "$(cat "$1/status")" = 200 && grep -q "2026-December" "$1/body"' _ "$C"
PAGE=$(ls "$(H archive path $L)"/2026-December/0*.html | head -1)
get "archives/$LE/2026-December/$(basename "$PAGE")" >/dev/null
check "a message page is served" grep -q "First post" "$C/body"
check "its inline style is allowed by hash, nothing else" grep -qi "^Content-Security-Policy: default-src 'none'; style-src 'self' 'sha256-" "$C/headers"
get "archives/$LE/search?q=world" >/dev/null
check "the search finds the post" grep -q "First post" "$C/body"
for p in "archives/$LE/../../etc/herald.conf" "archives/$LE/%2e%2e/%2e%2e/etc/herald.conf" \
	"archives/$LE/..%2f..%2fetc%2fherald.conf" "archives/$LE/.%2e/mbox" "archives/..%2F$LE/mbox" \
	"listinfo/..%2f..%2fetc" "archives/$LE/2026-December%00.html"; do
	get "$p" --path-as-is >/dev/null
	check "path traversal $p is refused" bash -c 'test "$(cat "$1/status")" -ge 400 && ! grep -q "^\[" "$1/body" && ! grep -q "^From " "$1/body"' _ "$C"
done
ln -s "$V/etc" "$(H archive path $L)/etc-link"
get "archives/$LE/etc-link/herald.conf" >/dev/null
check "a symlink in the tree is not followed (404)" test "$(status)" = 404
H config set $L archive_private 1 >/dev/null
H archive path $L >/dev/null
get "archives/$LE/" >/dev/null
check "a private archive asks a stranger to log in (401)" bash -c 'test "$(cat "$1/status")" = 401 && ! grep -q "2026-December" "$1/body"' _ "$C"
H members set $L bob@example.com password bobpw >/dev/null
H config set $L available_languages $'en\nde' >/dev/null
H members set $L bob@example.com language de >/dev/null
T=$(csrf)
get login -d "csrf=$T&role=member&list=$L&email=bob@example.com&password=bobpw&next=/archives/$LE/" >/dev/null
BS=$(sed -n 's/.*herald_session=\([^;]*\);.*/\1/p' "$C/headers" | tr -d '\r')
get "archives/$LE/" -H "Cookie: herald_session=$BS" >/dev/null
check "a member reads the private archive" bash -c 'test "$(cat "$1/status")" = 200 && grep -q "2026-December" "$1/body"' _ "$C"
get "" -H "Cookie: herald_session=$BS" >/dev/null
check "a member's pages come in the member's language (de)" grep -q '<html lang="de">' "$C/body"
get "pipermail/demo/2026-December/$(basename "$PAGE")" >/dev/null
check "Pipermail's URL redirects to the list's archive (301)" bash -c 'test "$(cat "$1/status")" = 301 && grep -qi "^Location: /archives/demo%40example.org/2026-December/0" "$1/headers"' _ "$C"
get "mailman/listinfo/demo" >/dev/null
check "Mailman's listinfo URL redirects" grep -qi "^Location: /listinfo/demo%40example.org" "$C/headers"

for p in "" "listinfo/nosuch@example.org" "archives/$LE/search?q=post" \
	"unsubscribe/$LE?m=x%40example.com&t=bad" "admin/$LE" "login?list=$L&m=a%40b.c&e=1&t=x"; do
	get "$p" >"$C/page.html"
	check "page /$p is valid HTML5 (tidy)" html_ok "$C/page.html"
done

# --- malformed and oversized requests -------------------------------
PORT=${WEB_BASE##*:}; PORT=${PORT%/}
raw() { python3 - "$PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode().decode('unicode_escape').encode('latin-1'))
data = b''
try:
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
except socket.timeout:
    pass
print(data.split(b'\r\n')[0].decode('latin-1') if data else 'closed')
PY
}
r=$(raw 'POST /listinfo/demo@example.org HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n')
check "Content-Length with chunked Transfer-Encoding is refused ($r)" bash -c '[[ $1 == "HTTP/1.1 400"* ]]' _ "$r"
r=$(raw 'POST /listinfo/demo@example.org HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n')
check "a malformed Content-Length is refused ($r)" bash -c '[[ $1 == "HTTP/1.1 4"* ]]' _ "$r"
big=$(head -c 100000 /dev/zero | tr '\0' a)
r=$(raw "GET / HTTP/1.1\r\nHost: x\r\nX-Big: $big\r\nConnection: close\r\n\r\n")
check "100 KB of headers are refused ($r)" bash -c '[[ $1 == "HTTP/1.1 431"* || $1 == "HTTP/1.1 413"* || $1 == "HTTP/1.1 400"* ]]' _ "$r"
H site set web.max_body 2048 >/dev/null
H site set web.timeout 2 >/dev/null
kill -HUP "$WEB_PID"
sleep 1
wait_for 10 curl -s -o /dev/null "$WEB_BASE"
r=$(raw 'POST /listinfo/demo@example.org HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n')
check "a body over web.max_body is refused before it is read ($r)" bash -c '[[ $1 == "HTTP/1.1 413"* ]]' _ "$r"
slow=$(python3 - "$PORT" <<'PY'
import socket, sys, time
# A client that sends half a request and then nothing: the server must
# close it once web.timeout (2 s) has passed.
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
t0 = time.time()
s.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Half: ")
try:
    s.settimeout(20)
    closed = s.recv(100) == b""
except ConnectionResetError:
    closed = True
except socket.timeout:
    closed = False
print("%s %.0f" % ("closed" if closed else "open", time.time() - t0))
PY
)
check "a client that stops half-way through its request is cut off ($slow s)" bash -c '[[ $1 == closed* ]] && [ "${1#closed }" -le 6 ]' _ "$slow"
check "the server still answers" curl -sf -o /dev/null "$WEB_BASE"
check "nothing was logged as a server error" bash -c '! grep -q " web error:" "$1"/web.log' _ "$V"
t_done
