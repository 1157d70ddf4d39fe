#!/usr/bin/env bash
# A brief fuzzing run: `make fuzz` builds the libFuzzer target
# (fuzz/fuzz-message.c: message_parse, the serialisation round trip and the
# posting pipeline under ASan and UBSan), and fuzz/run.sh runs it for
# FUZZ_SECONDS (60) from the seed corpus.  Any crash, hang, leak or
# sanitizer report fails the test, naming the input it kept.  Skipped when
# clang or its libFuzzer runtime is missing, and in the sanitizer build's
# pass of tests/run: the fuzzer is built and sanitized on its own, so one
# run per `make check` is enough.  docs/fuzzing.md has the longer runs.
. "$(dirname "$0")/../lib.sh"
SECS=${FUZZ_SECONDS:-60}

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
	ok "make fuzz builds build-fuzz/fuzz-message"
else
	not_ok "make fuzz builds build-fuzz/fuzz-message"
	tail -20 "$T_DIR/make.log" | sed 's/^/# /'
	t_done
fi

# The fuzzer's own sanitizer settings: reports on its standard error (not
# lib.sh's files), leaks detected, and UBSan fatal with its stack.
FUZZ_OUT=$T_DIR/fuzz ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	timeout -k 10 $((SECS + 120)) "$HERALD_TOP/fuzz/run.sh" "$SECS" >"$T_DIR/fuzz.log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$T_DIR/fuzz.log")
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$T_DIR/fuzz.log")
last=$(grep -E '^#[0-9]+' "$T_DIR/fuzz.log" | tail -1)
diag "$SECS s: ${execs:-?} inputs, ${speed:-?}/s; last status: ${last:-none}"
artifacts=$(find "$T_DIR/fuzz/artifacts" -type f 2>/dev/null)
if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
	grep -E -A25 'ERROR: |runtime error:|CRITICAL|fuzz-message: (herald cannot|the serial)|deadly signal|Test unit written' \
		"$T_DIR/fuzz.log" | head -60 | sed 's/^/# /'
	for a in $artifacts; do
		mkdir -p "$HERALD_TOP/build-fuzz/artifacts" &&
		cp "$a" "$HERALD_TOP/build-fuzz/artifacts/" &&
		diag "kept as build-fuzz/artifacts/$(basename "$a"); replay: build-fuzz/fuzz-message build-fuzz/artifacts/$(basename "$a")"
	done
fi
check "the fuzzer ran $SECS s without a crash, hang or leak (status $rc)" \
	test "$rc" -eq 0 -a -z "$artifacts"
# A run cut short by a crash says nothing about its speed.
if [ "$rc" -eq 0 ]; then
	check "it ran the inputs through the pipeline (${execs:-0} executed)" \
		test "${execs:-0}" -gt 100
fi
t_done
