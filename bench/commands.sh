#!/usr/bin/env bash
# bench/commands.sh - the command processor's figures (issue 12):
#   N subscribe requests to LIST-request worked by one commands runner
#     (each: a pending request written, a confirmation and a results reply
#     to the virgin queue)
#   their N confirmations, as replies to LIST-confirm+TOKEN (each: the
#     claim, a roster change under the list lock, a welcome and a reply)
#   = N confirmed subscriptions end to end, and the commands per second.
# One runner process (`herald runner commands --once`), every write
# fsync'ed (group commit).  The entries are written into the queue by a
# script beforehand, so that only the runner is timed.
# Usage: BUILD=build bench/commands.sh [N]   (build it first: make)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
BUILD=${BUILD:-build}
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-commands.XXXXXX")
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$D"' EXIT
H="$BUILD/herald --var $D/v"
$H init >/dev/null
$H lists create demo@example.org --owner owner@example.org >/dev/null
$H site set runner.commands.handler commands
# LIMIT=0 turns the daily limit of automatic replies off (and with it
# the autoresponses ledger); the default, 10, is what sites run with.
$H site set notice.max_autoresponses_per_day "${LIMIT:-10}"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(nproc) cores, $(df -T "$D" | awk 'NR==2{print $2}') at $D, notice.max_autoresponses_per_day ${LIMIT:-10}"

# put KIND: one queue entry per line of standard input "FROM<TAB>RCPT<TAB>SUBJECT"
cat >"$D/put.py" <<'PY'
import hashlib, os, sys, time
qdir, kind = sys.argv[1], sys.argv[2]
os.makedirs(qdir, exist_ok=True)
for i, line in enumerate(sys.stdin):
    frm, rcpt, subject = line.rstrip("\n").split("\t")
    msg = ("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <b%d.%s@example.net>\n\n"
           "> quoted text of the confirmation\n" % (frm, rcpt, subject, i, kind)).encode()
    stamp = "%016d" % (int(time.time() * 1e6) + i)
    meta = ("herald-queue 1\nlist: demo@example.org\nkind: %s\nsender: %s\n"
            "recipient: %s\nreceived: %s\nsize: %d\n\n" % (kind, frm, rcpt, stamp, len(msg))).encode()
    name = "%s+%s" % (stamp, hashlib.sha1(msg).hexdigest())
    with open(os.path.join(qdir, name + ".tmp"), "wb") as f:
        f.write(meta + msg + b"herald-end\n")
    os.rename(os.path.join(qdir, name + ".tmp"), os.path.join(qdir, name + ".msg"))
PY
put() { python3 "$D/put.py" "$D/v/queue/commands" "$1"; }
timed() {	# timed WHAT: runs one runner pass, prints the time
	local s e
	s=$(date +%s%N)
	$H runner commands --once >/dev/null 2>&1
	e=$(date +%s%N)
	echo "$(( (e - s) / 1000000 ))"
}
for i in $(seq 1 "$N"); do printf 'user%d@example.net\tdemo-request@example.org\tsubscribe\n' "$i"; done | put request
ms1=$(timed)
echo "$N subscribe requests (policy 1: each a pending request, a confirmation and a reply): $ms1 ms, $(( N * 1000 / (ms1 > 0 ? ms1 : 1) )) a second"
# The confirmations' tokens, from the virgin queue, as mail clients' replies.
find "$D/v/queue/virgin" -name '*.msg' -print0 | xargs -0 grep -h '^Subject: confirm ' |
	awk '{print $3}' >"$D/tokens"
find "$D/v/queue/virgin" -name '*.msg' -delete
paste <(seq 1 "$N") "$D/tokens" | awk -F'\t' '{printf "user%d@example.net\tdemo-confirm+%s@example.org\tRe: confirm %s\n", $1, $2, $2}' | put confirm
ms2=$(timed)
members=$($H members list demo@example.org | wc -l)
echo "$N confirmations (replies to LIST-confirm+TOKEN: claim, roster change, welcome, reply): $ms2 ms, $(( N * 1000 / (ms2 > 0 ? ms2 : 1) )) a second; members: $members"
echo "$N confirmed subscriptions end to end (both passes): $(( ms1 + ms2 )) ms"
