#!/usr/bin/env bash
# fuzz/run-lmtp.sh [SECONDS [LIBFUZZER-OPTION...]] - runs the LMTP session
# fuzzer (build-fuzz/fuzz-lmtp, `make fuzz`) for SECONDS (default 60).
#
# It starts from the sessions in fuzz/lmtp-seeds (each file: a control byte,
# then what a client sends; fuzz/fuzz-lmtp.c says what the byte steers)
# with fuzz/lmtp.dict, keeps what it learns in $FUZZ_OUT/lmtp-corpus and
# writes a failing input to $FUZZ_OUT/artifacts/lmtp-* (FUZZ_OUT defaults to
# build-fuzz).  Exit 0 when nothing failed, libFuzzer's status otherwise.
# Inputs are cut to 64 KiB: past the 1 KiB and 64 KiB message limits the
# fuzzer steers between, longer inputs reach nothing new.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
out=${FUZZ_OUT:-$top/build-fuzz}
bin=${FUZZ_BIN:-$top/build-fuzz/fuzz-lmtp}
mkdir -p "$out/lmtp-corpus" "$out/artifacts" || exit 1

# The fuzzer's var dir (its two lists) on a tmpfs when there is one.
tmp=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo "$out")/herald-fuzz-lmtp-run.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$bin" -max_total_time="$secs" -max_len=65536 -timeout=30 \
	-rss_limit_mb=2048 -dict="$top/fuzz/lmtp.dict" \
	-artifact_prefix="$out/artifacts/lmtp-" -print_final_stats=1 \
	"$@" "$out/lmtp-corpus" "$top/fuzz/lmtp-seeds"
exit $?
