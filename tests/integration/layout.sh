#!/usr/bin/env bash
# The layout rules of src/lib (docs/ARCHITECTURE.md, "Layers"): a folder
# includes only its own and lower layers, never a sibling concern; queue
# names and metadata keys are written only in store/names.h.  The check
# runs on the tree, then on copies with one planted violation each, which
# it must catch.
. "$(dirname "$0")/../lib.sh"
CHECK=$HERALD_TOP/tests/tools/check-layout.py

out=$(python3 "$CHECK" --top "$HERALD_TOP" 2>&1); rc=$?
[ -n "$out" ] && diag "$out"
check "the tree keeps the layout rules" test "$rc" -eq 0

plant() {	# plant NAME FILE TEXT: a copy of src/ with TEXT appended to FILE
	mkdir -p "$T_DIR/$1"
	cp -r "$HERALD_TOP/src" "$T_DIR/$1/"
	printf '%s\n' "$3" >>"$T_DIR/$1/src/lib/$2"
	python3 "$CHECK" --top "$T_DIR/$1" 2>&1
}
out=$(plant up base/log.c '#include "store/queue.h"')
check "a lower layer including a higher one is caught" \
	bash -c 'echo "$1" | grep -q "base includes store/queue.h, a higher layer"' _ "$out"
out=$(plant sibling deliver/verp_x.h '#include "pipeline/pipeline.h"')
check "a concern including a sibling concern is caught" \
	bash -c 'echo "$1" | grep -q "deliver includes pipeline/pipeline.h, a sibling concern"' _ "$out"
out=$(plant bare list/list.c '#include "queue.h"')
check "an include without its folder is caught" \
	bash -c 'echo "$1" | grep -q "without its folder"' _ "$out"
out=$(plant qname list/notice.c 'static void f(void) { queue_put(v, "out", m, s, n, NULL, e); }')
check "a queue name written as a literal is caught" \
	bash -c 'echo "$1" | grep -q "\"out\" written as a literal"' _ "$out"
out=$(plant mkey pipeline/post.c 'static void g(void) { queue_meta_set(m, "rcpt",
	x); }')
check "a metadata key written as a literal is caught, across lines" \
	bash -c 'echo "$1" | grep -q "\"rcpt\" written as a literal"' _ "$out"
out=$(plant comment pipeline/post.c '/* queue_meta_set(m, "rcpt", x) */')
check "a literal in a comment is not a violation" test -z "$out"
t_done
