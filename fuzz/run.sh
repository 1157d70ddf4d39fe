#!/usr/bin/env bash
# fuzz/run.sh [SECONDS [LIBFUZZER-OPTION...]] - runs the message fuzzer
# (build-fuzz/fuzz-message, `make fuzz`) for SECONDS (default 60).
#
# It starts from the seed corpus (every message in tests/data, and the
# small hostile messages in fuzz/seeds) with fuzz/message.dict, keeps what
# it learns in $FUZZ_OUT/corpus and writes a crashing or hanging input to
# $FUZZ_OUT/artifacts (FUZZ_OUT defaults to build-fuzz).  Exit 0 when
# nothing crashed, libFuzzer's status otherwise.  Inputs are cut to 64 KiB
# (-max_len): the big messages are the integration test's business
# (tests/integration/hostile-mail.sh), and short inputs keep the run fast.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
out=${FUZZ_OUT:-$top/build-fuzz}
bin=${FUZZ_BIN:-$top/build-fuzz/fuzz-message}
seeds=$out/seeds
mkdir -p "$seeds" "$out/corpus" "$out/artifacts" || exit 1

# The seed corpus: every message file of tests/data (not the READMEs,
# licences and expected outputs), decompressed, and fuzz/seeds.
while IFS= read -r f; do
	name=$(echo "${f#"$top"/}" | tr '/' '_')
	case $f in
	*.gz) gzip -dc "$f" >"$seeds/${name%.gz}" ;;
	*) cp "$f" "$seeds/$name" ;;
	esac
done < <(find "$top/tests/data" "$top/fuzz/seeds" -type f \
	! -iname 'README*' ! -name LICENSE ! -name COPYING ! -name '*.exp' \
	! -name '*.tsv' ! -name '*.md')

# The fuzzer's var dirs (one per process; a crashed one leaves its own):
# on a tmpfs when there is one, since every enqueue fsyncs.
tmp=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo "$out")/herald-fuzz-run.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$bin" -max_total_time="$secs" -max_len=65536 -timeout=30 \
	-rss_limit_mb=2048 -dict="$top/fuzz/message.dict" \
	-artifact_prefix="$out/artifacts/" -print_final_stats=1 \
	"$@" "$out/corpus" "$seeds"
exit $?
