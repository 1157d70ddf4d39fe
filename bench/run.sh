#!/usr/bin/env bash
# bench/run.sh - builds the benchmarks and runs them, printing their figures.
#
# Benchmarks measure; they do not pass or fail (bench-queue says whether
# its goal was met, bench-queue-list prints a median to compare with the
# 100 ms goal).  Each program makes and removes its own scratch directory
# under $HERALD_BENCH_DIR (default /var/tmp), so the figures are for the
# filesystem that directory lives on; this script prints which one.
#   bench/run.sh            every benchmark once
#   bench/run.sh -n 2       every benchmark twice (the machine is shared:
#                           quote the range, never one lucky run)
#   bench/run.sh lock       only the benchmarks whose name contains "lock"
set -euo pipefail
cd "$(dirname "$0")/.."

times=1
if [ "${1:-}" = "-n" ]; then
	times=${2:?"-n needs a count"}
	shift 2
fi
filter=${1:-}
export HERALD_BENCH_DIR=${HERALD_BENCH_DIR:-/var/tmp}

make -j2 bench >/dev/null

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
	"$(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
echo "# scratch under $HERALD_BENCH_DIR: $(df -T "$HERALD_BENCH_DIR" | awk 'NR == 2 { print $2 " on " $1 }')"

run() {
	local name=$1; shift
	case $name in *"$filter"*) ;; *) return 0 ;; esac
	for ((i = 1; i <= times; i++)); do
		echo "## $name $* (run $i of $times)"
		"build/bench/$name" "$@"
	done
}

# The default arguments are the ones docs/PERFORMANCE.md quotes.
run bench-lock
run bench-lock 1000 8 200 200	# 200 us outside the lock between rounds
run bench-queue
run bench-queue-list
run bench-bounce tests/data/sisimai/maildir/bsd 5	# detection over the corpus
