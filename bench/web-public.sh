#!/usr/bin/env bash
# bench/web-public.sh - the web interface's public pages under load, at 50
# concurrent clients (wrk, keep-alive) against `herald web serve`:
#   - RFC 8058 one-click unsubscribe POSTs, each for another member of a
#     100,000-member list (every POST is a durable, fsync'ed queue entry);
#   - the listinfo page of that list (GET);
#   - an archive message page (GET, a file of the tree).
# Prints p50/p90/p99 and requests/s per case, and the web service's peak
# RSS. Not a test. Usage: bench/web-public.sh [DURATION_S]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-10}
H=${HERALD:-$PWD/build/herald}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
W=$(mktemp -d /tmp/herald-bench-web.XXXXXX)
. bench/discard.sh
trap 'kill $PID 2>/dev/null; bench_discard "$W"' EXIT
V=$W/var
L=big@example.org
"$H" --var "$V" init >/dev/null
sed -i '/^\[runner\./,$d' "$V/etc/herald.conf"
"$H" --var "$V" lists create $L --owner owner@example.org >/dev/null
python3 -c 'for i in range(100000): print(f"m{i}@example.com")' |
	"$H" --var "$V" members add $L >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B=http://127.0.0.1:$PORT
"$H" --var "$V" site set web.listen "127.0.0.1:$PORT"
"$H" --var "$V" site set web.base_url "$B/"
[ -n "${THREADS:-}" ] && "$H" --var "$V" site set web.threads "$THREADS"
"$H" --var "$V" web serve 2>"$W/web.log" &
PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "$B/" && break; sleep 0.1; done
curl -s -o /dev/null "$B/unsubscribe/$L?m=x%40y.z&t=x"   # makes the site key
printf 'From: a@example.com\nSubject: A post\nMessage-ID: <a@example.com>\nDate: Mon, 07 Dec 2026 10:00:00 +0000\n\nHello.\n' |
	"$H" --var "$V" archive add $L >/dev/null
PAGE=$(cd "$("$H" --var "$V" archive path $L)" && ls */0*.html | head -1)

python3 - "$V/etc/site.key" "$L" >"$W/urls.lua" <<'PY'
import base64, hashlib, hmac, sys
key = open(sys.argv[1], 'rb').read()
print('urls = {')
for i in range(60000):
    a = f'm{i}@example.com'
    msg = b''.join(s.encode() + b'\0' for s in ('herald-token-1', 'unsubscribe', sys.argv[2], a))
    t = base64.urlsafe_b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode().rstrip('=')
    print(f'"/unsubscribe/{sys.argv[2]}?m=m{i}%40example.com&t={t}",')
print('}')
PY
cat >>"$W/urls.lua" <<'EOF2'
-- Each connection's requests take the next member's URL: no member is
-- unsubscribed twice while the URLs last.
local counter = 0
local threads = {}
function setup(thread)
	thread:set("id", #threads)
	table.insert(threads, thread)
end
function init(args)
	n = 0
end
request = function()
	n = n + 1
	local i = (id + (n - 1) * 2) % #urls + 1
	return wrk.format("POST", urls[i], {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
end
EOF2
run() {	# run NAME WRK-ARGS...: one case, its percentiles
	local name=$1; shift
	wrk -t2 -c50 -d"${D}s" --latency "$@" >"$W/out" 2>&1
	printf '%-28s %s  p50 %s  p90 %s  p99 %s  (%s requests)\n' "$name" \
		"$(awk '/Requests\/sec/ {print $2 " req/s"}' "$W/out")" \
		"$(awk '$1 == "50%" {print $2}' "$W/out")" \
		"$(awk '$1 == "90%" {print $2}' "$W/out")" \
		"$(awk '$1 == "99%" {print $2}' "$W/out")" \
		"$(awk '/requests in/ {print $1}' "$W/out")"
	grep -q 'Non-2xx' "$W/out" && grep 'Non-2xx' "$W/out"
	true
}
echo "# herald web interface, 50 connections, ${D} s per case, web.threads $("$H" --var "$V" site get web.threads)"
run "one-click unsubscribe POST" -s "$W/urls.lua" "$B/"
run "listinfo (100,000 members)" "$B/listinfo/$L"
run "archive message page" "$B/archives/$L/$PAGE"
echo "queued one-click entries: $(find "$V/queue/commands" -name '*.msg' -exec cat {} + | grep -c '^kind: oneclick$') in $(find "$V/queue/commands" -name '*.msg' | wc -l) files"
echo "web service peak RSS: $(awk '/VmHWM/ {print $2 " " $3}' /proc/$PID/status)"
