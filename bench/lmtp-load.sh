#!/usr/bin/env bash
# bench/lmtp-load.sh - the LMTP server under load, before and after a change,
# in one run (a benchmark: it prints figures and never fails on them).
#
#   bench/lmtp-load.sh [OLD-COMMIT]
#
# For each of two builds of herald, OLD (a worktree of OLD-COMMIT, default
# e379eb5, the tree before the LMTP limits of issue 10, built in
# $OLD_TREE, default /tmp/herald-old-<commit>) and NEW (this tree, built in
# $BUILD, default build), and for a unix socket and a loopback TCP port:
# `herald lmtp` in the foreground on a fresh var dir (one list, no
# runners), then bench-lmtp-load (bench/bench-lmtp-load.c) against it:
#   - the LHLO reply, 50 connections one at a time (median, p90);
#   - 200 concurrent clients each sending 100 small messages, pipelined:
#     messages/s, and the server's peak processes, RSS sum and PSS sum
#     (sampled every 100 ms).
# The two builds alternate, RUNS times (default 2): the machine is shared,
# so quote the range; TRANSPORTS="unix" (or "tcp") runs one of them.  First, bench-store-parallel: stores/s from 1, 4 and
# 32 processes at once, the figure behind a process per session.  The same client binary drives both.  Scratch under
# $HERALD_BENCH_DIR (default /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:-e379eb5}
RUNS=${RUNS:-2}
BUILD=${BUILD:-build}
OLD_TREE=${OLD_TREE:-/tmp/herald-old-$OLD}
CLIENTS=${CLIENTS:-200}
MESSAGES=${MESSAGES:-100}
TRANSPORTS=${TRANSPORTS:-unix tcp}

if [ ! -x "$OLD_TREE/build/herald" ]; then
	[ -d "$OLD_TREE" ] || git worktree add --detach "$OLD_TREE" "$OLD" >/dev/null
	make -C "$OLD_TREE" -j2 build/herald >/dev/null
fi
make BUILD="$BUILD" -j2 "$BUILD/herald" "$BUILD/bench/bench-lmtp-load" \
	"$BUILD/bench/bench-store-parallel" >/dev/null
CLIENT=$PWD/$BUILD/bench/bench-lmtp-load
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-lmtp.XXXXXX")
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$D"' EXIT

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), new: $(git rev-parse --short HEAD)" \
	"+ working tree, old: $(git -C "$OLD_TREE" rev-parse --short HEAD), $(nproc) cores," \
	"scratch on $(df -T "$D" | awk 'NR == 2 { print $2 }')"
echo "# $CLIENTS clients x $MESSAGES messages; LHLO over 50 connections one at a time"

# one VERSION HERALD TRANSPORT: a fresh var dir, the server, the client.
one() {
	local version=$1 h=$2 transport=$3 v addr port
	v=$(mktemp -d "$D/v.XXXXXX")
	"$h" --var "$v" init >/dev/null
	sed -i '/^\[runner\./,$d' "$v/etc/herald.conf"
	"$h" --var "$v" lists create bench@lists.test --owner owner@example.org >/dev/null
	# The old server has no session limit; the new one's must let all in.
	"$h" --var "$v" site set lmtp.max_sessions $((CLIENTS + 50)) 2>/dev/null || true
	if [ "$transport" = unix ]; then
		addr=unix:$v/run/lmtp.sock
	else
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		addr=127.0.0.1:$port
	fi
	"$h" --var "$v" site set lmtp.listen "$addr"
	"$h" --var "$v" lmtp 2>"$v/lmtp.log" &
	server=$!
	for _ in $(seq 50); do
		grep -q "listening on" "$v/lmtp.log" 2>/dev/null && break
		sleep 0.1
	done
	echo "## $version, $transport"
	"$CLIENT" -c "$CLIENTS" -m "$MESSAGES" -l 50 -p "$server" "$addr" || true
	kill "$server"
	wait "$server" || true
	server=
	echo "stored: $(find "$v/queue/in" -name '*.msg' | wc -l) queue entries"
	rm -rf "$v"
}

"$BUILD/bench/bench-store-parallel" 2000 1 4 32

for ((i = 1; i <= RUNS; i++)); do
	for transport in $TRANSPORTS; do
		one "old (run $i)" "$OLD_TREE/build/herald" "$transport"
		one "new (run $i)" "$PWD/$BUILD/herald" "$transport"
	done
done
