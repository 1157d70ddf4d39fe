#!/usr/bin/env bash
# bench/import-mailman2.sh - issue 17's figure: `herald import mailman2` of
# one list of N members (default 100,000) with an archive of M messages
# (default 100,000) and its Pipermail pages, written by
# tests/tools/mailman2-vardir.py; time and peak RSS of the whole command.
#
# Mailman 2.1 gives every member a password, and herald hashes each with
# Argon2id (64 MiB, 2 passes: tens of milliseconds each, on every
# processor at once).  That cost is linear and apart from the rest, so
# P members (default 1,000) have one, and the time of P hashes is printed
# on its own line: the import of N passwords costs about N/P times it more.
# Usage: bench/import-mailman2.sh [N] [M] [P]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
M=${2:-100000}
P=${3:-1000}
B=${BUILD:-build}
make BUILD="$B" -j2 >/dev/null
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-import.XXXXXX")
trap 'rm -rf "$D"' EXIT
H="$B/herald --var $D/v"
$H init >/dev/null
python3 tests/tools/mailman2-vardir.py "$D/mm" --list big --host lists.example.org \
	--members "$N" --passwords "$P" --messages "$M"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(df -T "$D" | awk 'NR==2{print $2}') at $D"
echo "# config.pck $(du -k "$D/mm/lists/big/config.pck" | cut -f1) KB; mbox $M messages, $(du -m "$D/mm/archives/private/big.mbox/big.mbox" | cut -f1) MB; $P of $N members with a password"
/usr/bin/time -f "import mailman2 of $N members and $M messages: %e s wall (%U s user, %S s system), peak RSS %M KB" \
	-o "$D/time.out" $H import mailman2 "$D/mm" >"$D/report"
cat "$D/time.out"
tail -1 "$D/report"
# The passwords alone: a list of P members, no archive.
python3 tests/tools/mailman2-vardir.py "$D/pw" --list pw --host lists.example.org \
	--members "$P" --passwords "$P" --messages 0
/usr/bin/time -f "import mailman2 of $P members with passwords (no archive): %e s wall (%U s user)" \
	-o "$D/time2.out" $H import mailman2 "$D/pw" >/dev/null
cat "$D/time2.out"
