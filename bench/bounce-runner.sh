#!/usr/bin/env bash
# bench/bounce-runner.sh - bounce processing in one runner (a benchmark: it
# prints figures and never fails on them).
#
#   bench/bounce-runner.sh [MEMBERS [BOUNCES]]
#
# A list of MEMBERS members (default 100,000) spread over 500 domains; BOUNCES
# DSNs (default 2,000), one for each of as many different members, stored in
# the bounces queue with `herald queue inject`; then one `herald runner
# bounces --once` works them all: detection, the member's score, the day's
# ledger, one roster change with fsync per DSN (bounce/process.c).  Prints
# DSNs/s and the runner's peak RSS.  Then the same with days passing: each
# member bounced on 5 days (faketime), the fifth disabling it (threshold 5),
# which adds a warning (a pending request and a notice) per member.
# Scratch under $HERALD_BENCH_DIR (default /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
MEMBERS=${1:-100000}
BOUNCES=${2:-2000}
BUILD=${BUILD:-build}
H=$PWD/$BUILD/herald
DIR=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-bounce.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
V=$DIR/v
"$H" --var "$V" init >/dev/null
sed -i '/^\[runner\./,$d' "$V/etc/herald.conf"
"$H" --var "$V" site set runner.bounces.handler bounces
L=bench@lists.test
"$H" --var "$V" lists create $L --owner owner@example.org >/dev/null
python3 -c "
for i in range($MEMBERS): print('m%d@d%d.example' % (i, i % 500))" | "$H" --var "$V" members add $L >/dev/null
dsn() {
	printf 'From: MAILER-DAEMON@mx.example\nTo: bench-bounces@lists.test\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n--B\nContent-Type: text/plain\n\nNot delivered.\n\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <%s>: user unknown\n\n--B--\n' "$1" "$1"
}
inject() {
	local i
	for i in $(seq 0 $((BOUNCES - 1))); do
		dsn "m$i@d$((i % 500)).example" | "$H" --var "$V" queue inject bounces --list $L --meta kind=bounces >/dev/null
	done
}
run() {
	local t0 t1 rss
	t0=$(date +%s.%N)
	/usr/bin/time -o "$DIR/rss" -f '%M' ${FAKE:+env LD_PRELOAD=$FAKELIB FAKETIME=$FAKE} "$H" --var "$V" runner bounces --once >/dev/null 2>&1
	rss=$(tail -1 "$DIR/rss")
	t1=$(date +%s.%N)
	python3 - "$1" "$BOUNCES" "$t0" "$t1" "$rss" <<'PY'
import sys
label, n, t0, t1, rss = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
print("%s: %d DSNs in %.2f s: %.0f DSNs/s, runner peak RSS %s KB" % (label, n, t1 - t0, n / (t1 - t0), rss))
PY
}
FAKELIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 | head -1)
echo "list of $MEMBERS members, $BOUNCES DSNs for as many members, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
inject; FAKE= run "day 1, scored"
for d in 1 2 3 4; do
	inject; FAKE=+${d}d run "day $((d + 1))$([ $d = 4 ] && echo ', each disabled and warned' || echo ', scored')"
done
echo "disabled: $("$H" --var "$V" members list $L --nomail | wc -l), notices: $(ls "$V/queue/virgin" | wc -l)"
