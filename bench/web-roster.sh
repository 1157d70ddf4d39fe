#!/usr/bin/env bash
# bench/web-roster.sh - the owner's roster page of a list of N members
# (default 100,000) under `ab` at C concurrent clients (default 50), with
# an owner's session cookie: the first page, a page in the middle, a
# search; p50 and p99 of each, and the web service's RSS (now and peak).
# Goals (issue 15): p99 under 50 ms, RSS under 30 MB.
# Usage: bench/web-roster.sh [N [C [REQUESTS]]]; BUILD=build-h for another
# build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
C=${2:-50}
REQ=${3:-2000}
BUILD=${BUILD:-build}
make BUILD="$BUILD" -j2 >/dev/null
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-web-roster.XXXXXX")
WEB_PID=
trap '[ -n "$WEB_PID" ] && kill "$WEB_PID" 2>/dev/null; rm -rf "$D"' EXIT
H="$BUILD/herald --var $D/v"
L=big@example.org
$H init >/dev/null
$H lists create $L --owner owner@example.org >/dev/null
$H config set $L password ownerpw >/dev/null
python3 -c "
for i in range($N): print(f'User {i} <user{i}@domain{i % 100}.example>')" |
	$H members add $L >/dev/null 2>&1
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
B=http://127.0.0.1:$PORT/
$H site set web.listen "127.0.0.1:$PORT" >/dev/null
$H site set web.base_url "$B" >/dev/null
$H web serve 2>"$D/web.log" &
WEB_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "$B" && break; sleep 0.1; done
# An owner's session: the login form's token, then the login.
J=$D/jar
T=$(curl -s -c "$J" "${B}listinfo/$L" | grep -o 'name="csrf" value="[^"]*"' | head -1 |
	sed 's/.*value="//; s/"$//')
curl -s -o /dev/null -b "$J" -c "$J" --data-urlencode "csrf=$T" -d role=owner \
	-d "list=$L" -d password=ownerpw -d do=login "${B}login"
S=$(awk '$6 == "herald_session" { print $7 }' "$J")
[ -n "$S" ] || { echo "no session: the login failed" >&2; exit 1; }
# The login's Argon2id check takes 64 MB for a moment: a new server (the
# session lives in the var dir) so that the peak measured is the pages'.
kill "$WEB_PID"
wait "$WEB_PID" 2>/dev/null || true
$H web serve 2>>"$D/web.log" &
WEB_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "$B" && break; sleep 0.1; done
rss() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$WEB_PID/status"; }
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)," \
	"$N members, $C clients, $REQ requests a page, web.threads" \
	"$($H site get web.threads)"
echo "RSS before the first roster page: $(rss VmRSS) KB"
t0=$(date +%s%N)
curl -s -o /dev/null -b "herald_session=$S" "${B}admin/$L/members"
t1=$(date +%s%N)
echo "first roster page (builds the process's index): $(( (t1 - t0) / 1000000 )) ms," \
	"RSS $(rss VmRSS) KB, peak $(rss VmHWM) KB"
for what in "first page|members" "middle page|members?start=$((N / 2))&per=100" \
	"search|members?q=user4242"; do
	name=${what%%|*} path=${what#*|}
	curl -s -o "$D/page.html" -b "herald_session=$S" "${B}admin/$L/$path"
	grep -q '<table class="roster">' "$D/page.html" || { echo "$name: no roster" >&2; exit 1; }
	# One client first: the service time of a request, without queueing.
	for c in 1 "$C"; do
		ab -q -n "$REQ" -c "$c" -C "herald_session=$S" "${B}admin/$L/$path" >"$D/ab.txt" 2>&1
		p50=$(awk '$1 == "50%" { print $2 }' "$D/ab.txt")
		p99=$(awk '$1 == "99%" { print $2 }' "$D/ab.txt")
		mean=$(awk '/^Time per request.*\(mean\)$/ { print $4 }' "$D/ab.txt")
		rps=$(awk '/^Requests per second/ { print $4 }' "$D/ab.txt")
		failed=$(awk '/^Failed requests/ { print $3 }' "$D/ab.txt")
		non2xx=$(awk '/^Non-2xx responses/ { print $3 }' "$D/ab.txt")
		echo "$name ($path), $c client(s): mean $mean ms, p50 ${p50} ms, p99 ${p99} ms," \
			"${rps} req/s, failed ${failed}, non-2xx ${non2xx:-0};" \
			"RSS $(rss VmRSS) KB, peak $(rss VmHWM) KB"
	done
done
echo "web service RSS after: $(rss VmRSS) KB, peak $(rss VmHWM) KB"
