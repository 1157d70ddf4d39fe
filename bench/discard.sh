# bench/discard.sh - sourced by the shell benches: bench_discard DIR removes
# a run's scratch directory, or, with HERALD_BENCH_KEEP=DIR set, moves it
# there to be removed later. On this test machine's ext4 (no journal),
# creating files in the minutes after many were deleted is slower (ext4
# passes over recently freed inodes), so a run right after another run's
# clean-up measures that one's deletions: keep the dirs while measuring,
# remove them after (docs/PERFORMANCE.md).
bench_discard() {
	if [ -n "${HERALD_BENCH_KEEP:-}" ]; then
		mkdir -p "$HERALD_BENCH_KEEP" && mv "$1" "$HERALD_BENCH_KEEP/"
	else
		rm -rf "$1"
	fi
}
