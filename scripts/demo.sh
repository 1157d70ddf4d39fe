#!/usr/bin/env bash
# scripts/demo.sh - herald's main job, as far as it is built today, on a
# fresh Debian 12 machine (as root):
#   installs the dependencies, builds herald, creates a var dir, starts the
#   master with two runners per queue (in -> out -> archive-demo), puts
#   posts into the in queue and shows them travel, shows `herald status`,
#   and stops.  `scripts/demo.sh stop` stops a demo left running.
#
# The MTA entry (Postfix over LMTP), the posting pipeline and SMTP delivery
# to members are the next issues; this script grows with them.
set -euo pipefail
cd "$(dirname "$0")/.."
VAR=${HERALD_DEMO_VAR:-/var/tmp/herald-demo}
H=build/herald

if [ "${1:-}" = stop ]; then
	[ -x "$H" ] && [ -d "$VAR" ] && "$H" --var "$VAR" stop
	exit 0
fi

echo "== installing dependencies and building"
bash scripts/install-deps.sh
make -j2 >/dev/null

echo "== var dir $VAR"
"$H" --var "$VAR" stop >/dev/null 2>&1 || true
rm -rf "$VAR"
"$H" --var "$VAR" init
"$H" --var "$VAR" site set runner.in.slices 2
"$H" --var "$VAR" site set runner.in.next out
"$H" --var "$VAR" site set runner.out.slices 2
"$H" --var "$VAR" site set runner.out.next archive-demo
"$H" --var "$VAR" site set master.lease_lifetime 10

echo "== starting the master"
"$H" --var "$VAR" start
sleep 1
"$H" --var "$VAR" status

echo "== posting 100 messages into the in queue"
for i in $(seq 1 100); do
	printf 'From: alice@example.org\nTo: demo@lists.example.org\nSubject: post %d\nMessage-ID: <demo-%d@example.org>\n\nHello from post %d.\n' "$i" "$i" "$i" |
		"$H" --var "$VAR" queue inject in --list demo@lists.example.org >/dev/null
done
for _ in $(seq 1 50); do
	n=$(ls "$VAR/queue/archive-demo" | grep -c '\.msg$' || true)
	[ "$n" -ge 100 ] && break
	sleep 0.1
done
"$H" --var "$VAR" queue
echo "== one of them, as stored:"
"$H" queue show "$(ls "$VAR"/queue/archive-demo/*.msg | head -1)"
echo "== status"
"$H" --var "$VAR" status
echo "== the master's log"
cat "$VAR"/logs/*/master
"$H" --var "$VAR" stop
echo "demo done: $n of 100 posts travelled in -> out -> archive-demo"
[ "$n" -ge 100 ]
