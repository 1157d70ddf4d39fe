#!/usr/bin/env bash
# A brief fuzzing run: `make fuzz` builds the libFuzzer targets
# (fuzz/fuzz-message.c: message_parse, the serialisation round trip and the
# posting pipeline; fuzz/fuzz-lmtp.c: the LMTP session state machine; both
# under ASan and UBSan), fuzz/run.sh runs the first for FUZZ_SECONDS (60)
# and fuzz/run-lmtp.sh the second for FUZZ_LMTP_SECONDS (20), each from
# its seed corpus.  Any crash, hang, leak or sanitizer report fails the
# test, naming the input it kept.  Skipped when clang or its libFuzzer
# runtime is missing, and in the sanitizer build's pass of tests/run: the
# fuzzers are built and sanitized on their own, so one run per `make check`
# is enough.  docs/fuzzing.md has the longer runs.
. "$(dirname "$0")/../lib.sh"
SECS=${FUZZ_SECONDS:-60}
LMTP_SECS=${FUZZ_LMTP_SECONDS:-20}

case $(basename "$BUILD") in
*san*)
	skip "the fuzzer runs once, in the pass of the normal build ($HERALD_BUILD is a sanitizer build)"
	t_done ;;
esac
CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null; then
	skip "no $CC: cannot build the fuzzer"
	t_done
fi
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$T_DIR/probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined -o "$T_DIR/probe" "$T_DIR/probe.c" 2>"$T_DIR/probe.log"; then
	skip "$CC has no libFuzzer runtime: $(head -1 "$T_DIR/probe.log")"
	t_done
fi

if make -C "$HERALD_TOP" fuzz >"$T_DIR/make.log" 2>&1; then
	ok "make fuzz builds build-fuzz/fuzz-message and build-fuzz/fuzz-lmtp"
else
	not_ok "make fuzz builds build-fuzz/fuzz-message and build-fuzz/fuzz-lmtp"
	tail -20 "$T_DIR/make.log" | sed 's/^/# /'
	t_done
fi

# run_fuzzer NAME RUNNER SECONDS MIN-EXECS: runs a target through its
# script (fuzz/run.sh, fuzz/run-lmtp.sh) with the fuzzer's own sanitizer
# settings: reports on its standard error (not lib.sh's files), leaks
# detected, and UBSan fatal with its stack.  Any crash fails, naming the
# input, which is kept in build-fuzz/artifacts/.
run_fuzzer() {
	local name=$1 runner=$2 secs=$3 min=$4 rc execs speed last artifacts a
	local log=$T_DIR/$name.log
	FUZZ_OUT=$T_DIR/$name ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		timeout -k 10 $((secs + 120)) "$HERALD_TOP/fuzz/$runner" "$secs" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	diag "$name, $secs s: ${execs:-?} inputs, ${speed:-?}/s; last status: ${last:-none}"
	artifacts=$(find "$T_DIR/$name/artifacts" -type f 2>/dev/null)
	if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
		grep -E -A25 'ERROR: |runtime error:|CRITICAL|fuzz-message: (herald cannot|the serial)|fuzz-lmtp: |deadly signal|Test unit written' \
			"$log" | head -60 | sed 's/^/# /'
		for a in $artifacts; do
			mkdir -p "$HERALD_TOP/build-fuzz/artifacts" &&
			cp "$a" "$HERALD_TOP/build-fuzz/artifacts/" &&
			diag "kept as build-fuzz/artifacts/$(basename "$a"); replay: build-fuzz/$name build-fuzz/artifacts/$(basename "$a")"
		done
	fi
	check "$name ran $secs s without a crash, hang or leak (status $rc)" \
		test "$rc" -eq 0 -a -z "$artifacts"
	# A run cut short by a crash says nothing about its speed.
	if [ "$rc" -eq 0 ]; then
		check "$name ran its inputs (${execs:-0} executed)" \
			test "${execs:-0}" -gt "$min"
	fi
}

run_fuzzer fuzz-message run.sh "$SECS" 100
# The LMTP session state machine: thousands of sessions a second, so a
# short run says as much.
run_fuzzer fuzz-lmtp run-lmtp.sh "$LMTP_SECS" 1000
t_done
