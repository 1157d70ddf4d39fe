#!/usr/bin/env bash
# bench/web-admin.sh - the owners' settings pages under load (issue 15's
# goal: p99 under 50 ms at 50 concurrent clients): `ab` fetches the admin
# page of every settings category (and the site administrator's page) of a
# list of N members (default 100,000) with an owner's session cookie, 50
# at a time; prints p50 and p99 per page, and the web service's peak RSS.
# Usage: bench/web-admin.sh [N [REQUESTS]]   (BUILD=build-x to pick a build)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
REQ=${2:-2000}
B=${BUILD:-build}
make BUILD="$B" -j2 >/dev/null
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-web-admin.XXXXXX")
WEB=
trap '[ -n "$WEB" ] && kill $WEB 2>/dev/null; rm -rf "$D"' EXIT
H="$B/herald --var $D/v"
L=big@example.org
$H init >/dev/null
$H lists create $L --owner owner@example.org >/dev/null
$H config set $L password bench-pw
echo site-pw | $H web password >/dev/null
seq 1 "$N" | sed 's/.*/user&@domain&.example/' | $H members add $L >/dev/null
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
$H site set web.listen "127.0.0.1:$PORT"
$H site set web.base_url "$BASE/"
$H web serve 2>"$D/web.log" &
WEB=$!
for _ in $(seq 50); do curl -s -o /dev/null "$BASE/" && break; sleep 0.1; done
# A session: the login form's token, then the login (the cookie).
login() {
	local jar=$D/jar.$1 c
	c=$(curl -s -c "$jar" "$BASE/admin/" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
	curl -s -o /dev/null -b "$jar" -c "$jar" --data-urlencode "csrf=$c" -d "role=$1" \
		--data-urlencode "list=$2" --data-urlencode "password=$3" -d next=/ "$BASE/login"
	awk '$6 == "herald_session" { print $7 }' "$jar"
}
OWNER=$(login owner $L bench-pw)
SITE=$(login site "" site-pw)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), web.threads $($H site get web.threads), $N members, $REQ requests a page, 50 concurrent"
printf '%-32s %8s %8s %8s %10s\n' page p50_ms p99_ms max_ms bytes
pages=$($H config show $L | sed -n 's/^\[\(.*\)\]$/\1/p')
for p in "" $pages privacy/sender; do
	cookie=$OWNER path=/admin/big%40example.org/$p
	ab -q -n "$REQ" -c 50 -C "herald_session=$cookie" "$BASE$path" >"$D/ab.out" 2>&1
	[ "$(awk '/^Non-2xx responses/ { print $3 }' "$D/ab.out")" = "" ] || { echo "$path: errors"; cat "$D/ab.out"; exit 1; }
	printf '%-32s %8s %8s %8s %10s\n' "admin/LIST/$p" \
		"$(awk '$1 == "50%" { print $2 }' "$D/ab.out")" "$(awk '$1 == "99%" { print $2 }' "$D/ab.out")" \
		"$(awk '$1 == "100%" { print $2 }' "$D/ab.out")" "$(awk '/^Document Length/ { print $3 }' "$D/ab.out")"
done
ab -q -n "$REQ" -c 50 -C "herald_session=$SITE" "$BASE/admin/" >"$D/ab.out" 2>&1
printf '%-32s %8s %8s %8s %10s\n' "admin/ (site)" \
	"$(awk '$1 == "50%" { print $2 }' "$D/ab.out")" "$(awk '$1 == "99%" { print $2 }' "$D/ab.out")" \
	"$(awk '$1 == "100%" { print $2 }' "$D/ab.out")" "$(awk '/^Document Length/ { print $3 }' "$D/ab.out")"
echo "web service peak RSS: $(awk '/VmHWM/ { print $2, $3 }' /proc/$WEB/status)"
