#!/usr/bin/env bash
# bench/web-admin.sh - the owners' settings pages under load (issue 15's
# goal: p99 under 50 ms at 50 concurrent clients): `ab` fetches the admin
# page of every settings category (and the site administrator's page) of a
# list of N members (default 100,000) with an owner's session cookie, 50
# at a time; prints p50 and p99 per page, the mean time of one request
# with one client at a time, and the web service's peak RSS (the logins'
# Argon2id verification takes 64 MiB for a moment).
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
# row NAME COOKIE PATH: ab at 50 clients (p50, p99, max) and at one
# client (the mean: what one request costs, without waiting for others).
row() {
	ab -q -n "$REQ" -c 50 -C "herald_session=$2" "$BASE$3" >"$D/ab.out" 2>&1
	if grep -q '^Non-2xx responses' "$D/ab.out"; then
		echo "$3: errors"; cat "$D/ab.out"; exit 1
	fi
	ab -q -n 200 -c 1 -C "herald_session=$2" "$BASE$3" >"$D/ab1.out" 2>&1
	printf '%-28s %7s %7s %7s %9s %8s\n' "$1" \
		"$(awk '$1 == "50%" { print $2 }' "$D/ab.out")" "$(awk '$1 == "99%" { print $2 }' "$D/ab.out")" \
		"$(awk '$1 == "100%" { print $2 }' "$D/ab.out")" \
		"$(awk '/^Time per request/ { print $4; exit }' "$D/ab1.out")" \
		"$(awk '/^Document Length/ { print $3 }' "$D/ab.out")"
}
printf '%-28s %7s %7s %7s %9s %8s\n' page p50_ms p99_ms max_ms c1_ms bytes
for p in "" $($H config show $L | sed -n 's/^\[\(.*\)\]$/\1/p') privacy/sender; do
	row "admin/LIST/$p" "$OWNER" "/admin/big%40example.org/$p"
done
row "admin/ (site)" "$SITE" /admin/
echo "web service peak RSS: $(awk '/VmHWM/ { print $2, $3 }' /proc/$WEB/status)"
