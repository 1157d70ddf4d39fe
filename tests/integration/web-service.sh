#!/usr/bin/env bash
# The web interface as the master's service: `herald start` runs it when
# web.listen is set (here a unix socket, as behind nginx), a restart after
# it is killed, SIGHUP moving it to a new socket, `herald stop` ending it
# and removing its socket; the proxy headers believed only from trusted
# proxies (X-Forwarded-For for the client, X-Forwarded-Proto for the
# cookie's Secure flag).
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@example.org
H lists create $L --owner owner@example.org >/dev/null
H config set $L password ownerpw >/dev/null
S=$V/run/web.sock
H site set web.listen "unix:$S" >/dev/null
H site set web.base_url "https://lists.example.org/mailman/" >/dev/null
H site set master.restart_backoff_max 1 >/dev/null
check "start" H start
check "the master starts the web service on its socket" wait_for 10 test -S "$S"
get() { curl -s --unix-socket "$S" -o "$T_DIR/body" -D "$T_DIR/headers" -w '%{http_code}' "$@"; }
check "it serves under web.base_url's path" test "$(get http://x/mailman/listinfo/$L)" = 200
check "and nothing outside it" test "$(get http://x/listinfo/$L)" = 404
get http://x/mailman/listinfo/$L >/dev/null
check "its links carry the base path" grep -q 'href="/mailman/static/herald.css"' "$T_DIR/body"
T=$(grep -o 'name="csrf" value="[^"]*"' "$T_DIR/body" | head -1 | cut -d'"' -f4)
get http://x/mailman/login -d "csrf=$T&role=owner&list=$L&password=ownerpw" -H 'X-Forwarded-Proto: https' >/dev/null
check "behind a trusted proxy (unix) that says https, the cookie is Secure" grep -qi '^Set-Cookie: herald_session=.*; Secure' "$T_DIR/headers"
check "and its path is the base path" grep -qi '^Set-Cookie: herald_session=.*Path=/mailman/;' "$T_DIR/headers"
H site set web.login_attempts 2 >/dev/null
login() { get http://x/mailman/login -d "csrf=$T&role=$1&list=$L&password=$2" "${@:3}"; }
login owner bad -H 'X-Forwarded-For: 10.1.1.1, 192.0.2.1' >/dev/null
login owner bad -H 'X-Forwarded-For: 192.0.2.1' >/dev/null
check "failures are counted per client named by X-Forwarded-For's last entry" test "$(login moderator bad -H 'X-Forwarded-For: 192.0.2.1')" = 429
check "another client is not blocked" test "$(login moderator bad -H 'X-Forwarded-For: 192.0.2.9')" = 403
H site set web.login_attempts 10 >/dev/null

web_pid() {
	for c in $(pgrep -P "$(cat "$V"/run/master.*.pid)"); do
		[ "$(cat /proc/$c/comm)" = herald-web ] && echo "$c"
	done
}
W=$(web_pid)
check "the web service is a child of the master" test -n "$W"
kill -9 "$W"
check "a killed web service is restarted" wait_for 15 bash -c 'for c in $(pgrep -P "$(cat "$1"/run/master.*.pid)"); do [ "$(cat /proc/$c/comm)" = herald-web ] && [ $c != "$2" ] && exit 0; done; exit 1' _ "$V" "$W"
check "on the same socket (a dead server's socket is taken over)" wait_for 10 bash -c 'test "$(curl -s --unix-socket "$1" -o /dev/null -w "%{http_code}" http://x/mailman/)" = 200' _ "$S"

S2=$V/run/web2.sock
H site set web.listen "unix:$S2" >/dev/null
kill -HUP "$(cat "$V"/run/master.*.pid)"
check "after SIGHUP with a new web.listen it serves on the new socket" wait_for 10 test -S "$S2"
check "and the old one is gone" wait_for 10 bash -c '! test -e "$1"' _ "$S"
check "stop" H stop
check "stop ends the web service and removes its socket" wait_for 10 bash -c '! test -e "$1"' _ "$S2"

# A TCP peer that is not a trusted proxy: its proxy headers are ignored.
H site set web.trusted_proxies "" >/dev/null
web_serve "$V" || not_ok "web serve"
T=$(curl -s "${WEB_BASE}listinfo/$L" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
curl -s -o /dev/null -D "$T_DIR/h2" -H 'X-Forwarded-Proto: https' \
	-d "csrf=$T&role=owner&list=$L&password=ownerpw" "${WEB_BASE}login"
check "an untrusted client's X-Forwarded-Proto gets no Secure cookie" bash -c 'grep -qi "^Set-Cookie: herald_session" "$1" && ! grep -qi "^Set-Cookie: .*Secure" "$1"' _ "$T_DIR/h2"
t_done
