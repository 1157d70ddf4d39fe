#!/usr/bin/env bash
# bench/archive.sh - the archive's figures (issue 13's goals):
#   archive import of N generated messages: time and peak RSS  (goal <= 60 s, 200 MB at 100,000)
#   herald archive add of one message into it, the whole command (goal <= 10 ms, 30 MB)
#   100 posts through the archive runner (a batch)
#   in one process (bench-archive): search p50 for a word, a phrase and a
#   from: query (goal <= 10 ms), archive_add p50 (the phrases: two of the
#   commonest words, and two words of a subject half way through)
#   the size of a message page and a thread index, served as static files
# Usage: bench/archive.sh [N]   (the archive: bench/archive-gen.py N)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
B=${BUILD:-build}
make BUILD="$B" -j2 >/dev/null && make BUILD="$B" -j2 bench >/dev/null
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-archive.XXXXXX")
trap 'rm -rf "$D"' EXIT
H="$B/herald --var $D/v"
L=big@example.org
$H init >/dev/null
$H lists create $L --owner owner@example.org >/dev/null
python3 bench/archive-gen.py "$N" "$D/in.mbox"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(df -T "$D" | awk 'NR==2{print $2}') at $D"
echo "# mbox: $N messages, $(du -m "$D/in.mbox" | cut -f1) MB"
/usr/bin/time -f "archive import of $N messages: %e s wall (%U s user, %S s system), peak RSS %M KB" \
	$H archive import $L "$D/in.mbox" >/dev/null
for i in 1 2 3 4 5; do
	printf 'From: a@example.org\nSubject: one more %d\nMessage-ID: <more%d@example.org>\n\nadded by the command\n' $i $i >"$D/one.eml"
	/usr/bin/time -f "herald archive add of one message (whole command): %e s, peak RSS %M KB" \
		$H archive add $L <"$D/one.eml" >/dev/null
done
$H site set runner.archive.handler archive
for i in $(seq 1 100); do
	printf 'From: r@example.org\nSubject: batch %d\nMessage-ID: <batch%d@example.org>\n\nthrough the runner\n' $i $i |
		$H queue inject archive --list $L >/dev/null
done
/usr/bin/time -f "100 posts through the archive runner (one pass): %e s, peak RSS %M KB" \
	-o "$D/time.out" $H runner archive --once >/dev/null 2>&1; cat "$D/time.out"
# A phrase as people search: two words that stand together in a message
# half way through (the first phrase above is two of the commonest words).
PHRASE=$(awk -v n=$((N / 2)) '/^Subject: / && ++k == n { print $2, $3; exit }' "$D/in.mbox")
"$B/bench/bench-archive" "$D/v" $L 21 "$PHRASE"
T=$($H archive path $L)
P=$(ls -d "$T"/20*/ | sed -n 1p)
echo "a message page: $(stat -c %s "$(ls "$P"0*.html | sed -n 1p)") bytes; the thread index of $(basename "$P"): $(stat -c %s "$P/thread.html") bytes ($(grep -c '<li id=' "$P/thread.html") messages)"
echo "store: $(du -sm "$D/v/archives/$L" | cut -f1) MB (search index $(du -m "$D/v/archives/$L/search.db" | cut -f1) MB); HTML tree: $(du -sm "$T" | cut -f1) MB"
