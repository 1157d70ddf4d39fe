#!/usr/bin/env bash
# bench/roster.sh - the roster's figures through the command line:
#   bulk add of N members from a file, in one command   (goal < 2 s at 100,000)
#   peak RSS and time of a process loading the roster   (goal < 30 MB)
#   10,000 subscriptions, one `herald members add` each (goal < 5 s)
# and the in-process load time (bench-roster).  Usage: bench/roster.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
SUBS=${SUBS:-10000}
make -j2 >/dev/null && make -j2 bench >/dev/null
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-roster-cli.XXXXXX")
trap 'rm -rf "$D"' EXIT
H="build/herald --var $D/v"
$H init >/dev/null
$H lists create big@example.org --owner owner@example.org >/dev/null
$H lists create subs@example.org --owner owner@example.org >/dev/null
python3 -c "
for i in range($N): print(f'User {i} <user{i}@domain{i % 100}.example>')" >"$D/in.txt"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(nproc) cores, $(df -T "$D" | awk 'NR==2{print $2}') at $D"
/usr/bin/time -f "bulk add: $N members from a file in one command: %e s, peak RSS %M KB" \
	$H members add big@example.org <"$D/in.txt" >/dev/null
for i in 1 2 3; do
	/usr/bin/time -f "members show on $N members (process start + load + look-up): %e s, peak RSS %M KB" \
		$H members show big@example.org user5@domain5.example >/dev/null
done
/usr/bin/time -f "baseline: herald lists (process start only): %e s, peak RSS %M KB" $H lists >/dev/null
for i in 1 2 3; do build/bench/bench-roster-load "$D/v" big@example.org; done
start=$(date +%s%N)
for i in $(seq 1 "$SUBS"); do
	echo "sub$i@domain$((i % 100)).example"
done | while read -r a; do echo "$a" | $H members add subs@example.org >/dev/null; done
end=$(date +%s%N)
echo "one at a time: $SUBS \`herald members add\` commands (each its own lock and write): $(( (end - start) / 1000000 )) ms; members: $($H members list subs@example.org | wc -l)"
HERALD_BENCH_DIR=$D build/bench/bench-roster "$N" 2>/dev/null | grep -v scratch
