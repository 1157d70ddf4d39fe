#!/usr/bin/env bash
# bench/api.sh - the REST API's figures (docs/PERFORMANCE.md, "REST API"):
#   10,000 single-member subscriptions, one POST each over keep-alive
#   connections                                          (goal < 5 s)
#   a page of 1,000 members from a 100,000-member list   (goal < 20 ms)
#   the web service's memory (peak RSS)                  (goal < 30 MB)
# The subscriptions are timed twice: from a Python client, then from a C
# one (bench/bench-api-subscribe.c) that leaves the service the CPU.
# Usage: bench/api.sh [SUBS] [N] [CONNECTIONS]; BUILD=dir picks the build,
# THREADS=n sets web.threads, WELCOME=0 leaves the welcomes out; NO_MAKE=1
# BUILD=/elsewhere/build CLIENT=build/bench/bench-api-subscribe measures
# another tree's build with this client.
set -euo pipefail
cd "$(dirname "$0")/.."
SUBS=${1:-10000}
N=${2:-100000}
CONNS=${3:-4}
BUILD=${BUILD:-build}
CLIENT=${CLIENT:-$BUILD/bench/bench-api-subscribe}
if [ -z "${NO_MAKE:-}" ]; then
	make BUILD="$BUILD" -j2 >/dev/null
	make BUILD="$BUILD" "$CLIENT" >/dev/null
fi
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-api.XXXXXX")
WEB=
. bench/discard.sh
trap '[ -n "$WEB" ] && kill $WEB; bench_discard "$D"' EXIT
H="$BUILD/herald --var $D/v"
$H init >/dev/null
$H lists create big@example.org --owner owner@example.org >/dev/null
$H lists create subs@example.org --owner owner@example.org >/dev/null
$H lists create csubs@example.org --owner owner@example.org >/dev/null
python3 -c "
for i in range($N): print(f'User {i} <user{i}@domain{i % 100}.example>')" |
	$H members add big@example.org >/dev/null
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$H site set web.listen "127.0.0.1:$PORT"
$H site set web.base_url "http://127.0.0.1:$PORT/"
TOK=$($H api token create bench)
if [ -n "${THREADS:-}" ]; then $H site set web.threads "$THREADS"; fi
$H web serve 2>"$D/web.log" &
WEB=$!
for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(nproc) cores, $(df -T "$D" | awk 'NR==2{print $2}') at $D, web.threads $($H site get web.threads)"
python3 - "$PORT" "$TOK" "$SUBS" "$CONNS" "${WELCOME:-1}" <<'EOF'
import http.client, json, sys, threading, time
port, tok, subs, conns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
def get(c, path):
    t = time.perf_counter()
    c.request("GET", path, headers=h)
    r = c.getresponse(); body = r.read()
    return time.perf_counter() - t, r.status, body
c = http.client.HTTPConnection("127.0.0.1", port)
base = "/api/v1/lists/big@example.org/members?limit=1000"
times = []
cursor = None
for i in range(30):
    t, st, body = get(c, base + ("&cursor=" + cursor if cursor else ""))
    assert st == 200, body[:200]
    page = json.loads(body)
    assert len(page["members"]) == 1000
    cursor = page["next_cursor"]
    times.append(t * 1000)
print("a page of 1,000 members from %d: first %.1f ms (load and sort), then median %.1f ms, max %.1f ms over %d pages"
      % (page["total"], times[0], sorted(times[1:])[len(times[1:]) // 2], max(times[1:]), len(times) - 1))
errors = []
WELCOME = bool(int(sys.argv[5]))
def client(k):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for i in range(k, subs, conns):
        c.request("POST", "/api/v1/lists/subs@example.org/members", headers=h,
                  body=json.dumps({"address": "sub%d@domain%d.example" % (i, i % 100), "welcome": WELCOME}))
        r = c.getresponse(); r.read()
        if r.status != 201:
            errors.append(r.status)
t = time.perf_counter()
ts = [threading.Thread(target=client, args=(k,)) for k in range(conns)]
for x in ts: x.start()
for x in ts: x.join()
t = time.perf_counter() - t
import resource
ru = resource.getrusage(resource.RUSAGE_SELF)
print("%d single-member subscriptions, one POST each over %d keep-alive connections: %.2f s (%.0f a second), %d errors; the client's CPU %.2f s"
      % (subs, conns, t, subs / t, len(errors), ru.ru_utime + ru.ru_stime))
EOF
echo "members of subs@example.org: $($H members list subs@example.org | wc -l)"
cpu() { awk '{print ($14 + $15) / 100}' /proc/$WEB/stat; }
CPU1=$(cpu)
echo "web service: CPU $CPU1 s so far"
# The same again from a C client (bench/bench-api-subscribe.c), on a list
# of its own: the Python client's CPU is taken from the service's cores.
"$CLIENT" -c "$CONNS" -n "$SUBS" -w "${WELCOME:-1}" \
	"$PORT" "$TOK" csubs@example.org
echo "members of csubs@example.org: $($H members list csubs@example.org | wc -l)"
# The welcomes are owed in the roster and sent by the service's sender
# thread: how long after the last answer until all are stored.
welcomes() { find "$D/v/queue/virgin" -name '*.msg' -exec cat {} + 2>/dev/null | grep -c '^kind: notice$' || true; }
if [ "${WELCOME:-1}" = 1 ]; then
	t0=$(date +%s.%N)
	while [ "$(welcomes)" -lt $((2 * SUBS)) ] && [ "$(echo "$(date +%s.%N) - $t0 < 60" | bc)" = 1 ]; do
		sleep 0.05
	done
	echo "all $((2 * SUBS)) welcomes stored $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s after the C client's last answer"
fi
echo "web service: CPU $(echo "$(cpu) - $CPU1" | bc) s for the C client's subscriptions"
echo "web service: peak RSS $(awk '/VmHWM/ {print $2}' /proc/$WEB/status) KB, now $(awk '/VmRSS/ {print $2}' /proc/$WEB/status) KB"
echo "welcomes queued: $(welcomes) in $(find "$D/v/queue/virgin" -name '*.msg' | wc -l) files"
