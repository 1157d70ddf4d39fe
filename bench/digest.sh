#!/usr/bin/env bash
# bench/digest.sh - how long a big digest takes: 1,000 posts to 10,000
# digest members (5,000 MIME, 5,000 plain), each step timed with
# /usr/bin/time (wall seconds, CPU seconds, peak RSS):
#   1. append: `herald runner digest --once` adds the 1,000 posts of the
#      digest queue to the list's pending digest (one fsync'ed file and
#      one list lock each);
#   2. build: `herald digests send` claims them, builds the MIME and the
#      plain rendition and hands both to the out queue with their
#      recipients;
#   3. send: `herald runner out --once` delivers both to Postfix's
#      smtp-sink on loopback (bulk, delivery.max_recipients 500).
# A benchmark: it prints figures and never fails on them.
#   bench/digest.sh [POSTS [MEMBERS]]    (default 1000 10000)
# HERALD_BUILD names the build directory (default build; built by make
# only when unset).  Scratch under $HERALD_BENCH_DIR (default /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
POSTS=${1:-1000}
MEMBERS=${2:-10000}
if [ -z "${HERALD_BUILD:-}" ]; then
	make -j2 >/dev/null
fi
H=$PWD/${HERALD_BUILD:-build}/herald
SINK=/usr/sbin/smtp-sink
TIME=/usr/bin/time
for p in "$SINK" "$TIME"; do
	[ -x "$p" ] || { echo "bench/digest.sh: $p is missing" >&2; exit 1; }
done
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-digest.XXXXXX")
SINK_PID=
cleanup() {
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
V=$D/var
L=bench@lists.test
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
	"$(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)," \
	"scratch on $(df -T "$D" | awk 'NR == 2 { print $2 " on " $1 }')"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# timed WHAT CMD...: runs CMD under /usr/bin/time and prints a line.
timed() {
	local what=$1; shift
	"$TIME" -f '%e %U %S %M' -o "$D/time" "$@" >"$D/out" 2>&1 ||
		{ cat "$D/out" >&2; exit 1; }
	read -r W U S RSS <"$D/time"
	printf '%-8s %8.2f s wall %8.2f s CPU %8d KB peak RSS   %s\n' "$what" "$W" \
		"$(python3 -c "print($U + $S)")" "$RSS" "$(tr '\n' ' ' <"$D/out" | cut -c1-90)"
}

"$H" --var "$V" init >/dev/null
"$H" --var "$V" lists create $L --owner owner@example.org >/dev/null
"$H" --var "$V" config set $L digest_size_threshhold 0 >/dev/null
"$H" --var "$V" config set $L mime_is_default_digest yes >/dev/null
awk -v n=$((MEMBERS / 2)) 'BEGIN { for (i = 0; i < n; i++) printf "mime%d@d%d.example\n", i, i % 100 }' |
	"$H" --var "$V" members add $L --digest >/dev/null
"$H" --var "$V" config set $L mime_is_default_digest no >/dev/null
awk -v n=$((MEMBERS - MEMBERS / 2)) 'BEGIN { for (i = 0; i < n; i++) printf "plain%d@d%d.example\n", i, i % 100 }' |
	"$H" --var "$V" members add $L --digest >/dev/null
# Posts of about 2.5 KB, as the pipeline leaves them (list headers on).
python3 - "$D/posts" "$POSTS" <<'PY'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
words = "digest list member post reply thread archive subject volume issue".split()
random.seed(1)
for i in range(n):
    body = "\n".join(" ".join(random.choice(words) for _ in range(12)) for _ in range(30))
    msg = ("From: Poster %d <poster%d@example.net>\nTo: bench@lists.test\n"
           "Subject: [Bench] topic %d\nMessage-ID: <digest-bench-%d@example.net>\n"
           "Date: Sat, 28 Nov 2026 12:00:00 +0000\nList-Id: <bench.lists.test>\n"
           "List-Post: <mailto:bench@lists.test>\nPrecedence: list\n"
           "Content-Type: text/plain; charset=utf-8\n\n%s\n" % (i % 50, i % 50, i, i, body))
    open(os.path.join(out, "%05d.eml" % i), "w").write(msg)
PY
for f in "$D"/posts/*.eml; do
	"$H" --var "$V" queue inject digest --list $L <"$f" >/dev/null
done
echo "# $POSTS posts ($(cat "$D"/posts/*.eml | wc -c) bytes) in the digest queue; $MEMBERS digest members"
"$H" --var "$V" site set runner.digest.handler digest
timed append "$H" --var "$V" runner digest --once
"$H" --var "$V" digests status $L
timed build "$H" --var "$V" digests send $L
for f in "$V"/queue/out/*.msg; do
	echo "# $(grep -m1 '^kind: ' "$f"): $(grep -c '^rcpt: ' "$f") recipients, $(wc -c <"$f") bytes"
done
SINK_PORT=$(free_port)
"$SINK" -u nobody -c "127.0.0.1:$SINK_PORT" 1000 >"$D/sink.out" 2>&1 &
SINK_PID=$!
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $SINK_PORT), 1)" 2>/dev/null && break
	sleep 0.05
done
"$H" --var "$V" site set mta.smtp_port "$SINK_PORT"
"$H" --var "$V" site set delivery.max_recipients 500
timed send "$H" --var "$V" runner out --once
echo "# smtp-sink counted $(tr '\r' '\n' <"$D/sink.out" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2) transactions;" \
	"deliver log: $(grep -h 'deliver info' "$V"/logs/*/deliver | sed 's/.*deliver info: //' | tr '\n' ' ' | cut -c1-300)"
