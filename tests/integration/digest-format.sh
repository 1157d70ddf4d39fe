#!/usr/bin/env bash
# The digest renditions read by an independent reader (Python's email
# package, tests/tools/digestcheck.py), not GMime which built them: the
# golden files of tests/unit/test-digest.c (posts with attachments, HTML
# only, subjects and bodies in several charsets) are a multipart/mixed
# with one multipart/digest of one message/rfc822 per post and only the
# kept headers, and a text/plain digest in RFC 1153's layout (a table,
# 70 dashes, "Message: N" sections in 30 dashes, the headers in RFC 1153's
# order, "End of ..." and its asterisks); both hold the same seven posts.
. "$(dirname "$0")/../lib.sh"
D=$HERALD_TOP/tests/data/digest
CHECK=$HERALD_TOP/tests/tools/digestcheck.py
mime=$(python3 "$CHECK" mime "$D/mime.eml" 2>"$T_DIR/err"); r=$?
check "the MIME digest reads as RFC 2046 ($(head -c 200 "$T_DIR/err"))" test $r = 0
check "one message/rfc822 per post: 7" test "$(echo "$mime" | wc -l)" = 7
plain=$(python3 "$CHECK" plain "$D/plain.eml" 2>"$T_DIR/err"); r=$?
check "the plain digest reads as RFC 1153 ($(head -c 200 "$T_DIR/err"))" test $r = 0
check "one section per post: 7" test "$(echo "$plain" | wc -l)" = 7
check "the same posts in the same order" test \
	"$(echo "$mime" | cut -d' ' -f1 | sed 's/^None$/-/')" = "$(echo "$plain" | cut -d' ' -f1)"
# The checker itself catches a broken digest.
sed 's/^------------------------------$/-----------------------------/' "$D/plain.eml" >"$T_DIR/bad.eml"
check "a plain digest with a short separator is refused" bash -c "! python3 '$CHECK' plain '$T_DIR/bad.eml' 2>/dev/null"
t_done
