#!/usr/bin/env bash
# The archive end to end: `archive add` numbers messages in arrival order
# under Pipermail's URLs and prints the page, the pages say what they
# should (golden page, escaping, links, quoting, obscured addresses,
# threads), `archive import` takes a real site's mbox as it comes
# (unquoted From lines, CR LF, NULs, no Date, duplicate Message-IDs),
# numbers never change on rebuild, `archive check` finds and repairs a
# lost page, index and search index, search answers words, phrases,
# from:, subject: and dates, archive_private moves the tree apart, the
# archive runner honours archive and X-No-Archive, and archive.gzip
# compresses ended periods.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=arch@example.org
G=$HERALD_TOP/tests/data/archive
"$HERALD" --var "$V" lists create $L --owner admin@example.org >/dev/null
msg() {	# msg N SUBJECT [HEADERS]: a post
	printf 'From: Poster %s <poster%s@example.org>\nSubject: %s\nMessage-ID: <m%s@example.org>\nDate: Sun, 6 Dec 2026 1%s:00:00 +0000\n%b\nBody of message %s.\n' \
		"$1" "$1" "$2" "$1" "$1" "${3:-}" "$1"
}
check "the first message is 000000" test "$(msg 0 'First' | "$HERALD" --var "$V" archive add $L)" = 000000
check "the next is 000001" test "$(msg 1 'Re: First' 'In-Reply-To: <m0@example.org>\n' | "$HERALD" --var "$V" archive add $L)" = 000001
H=$("$HERALD" --var "$V" archive path $L)
check "archive path is the public tree" test "$H" = "$V/archives/public/$L"
check "a public tree does not offer the raw mbox" test ! -e "$H/$L.mbox"
check "the page has Pipermail's URL" test -f "$H/2026-December/000000.html"
check "the period has its four indexes" bash -c "cd '$H/2026-December' && test -f thread.html -a -f date.html -a -f subject.html -a -f author.html -a -L index.html"
check "the list index links the period" grep -q 'href="2026-December/thread.html"' "$H/index.html"
check "the first page links the next one" grep -q 'Next message: <a href="000001.html">Re: First</a>' "$H/2026-December/000000.html"
check "the reply is threaded under the first" bash -c "tr -d '\n' < '$H/2026-December/thread.html' | grep -q '<li id=\"0\">.*</li><li><ul><li id=\"1\">'"
check "the period's text archive has both" test "$(grep -c '^Subject: ' "$H/2026-December.txt")" = 2

# A golden page: quoting, links, escaping, obscured addresses, an
# attachment, an HTML part through html2text, a charset, RFC 2047.
num=$("$HERALD" --var "$V" archive add $L <"$G/golden.eml")
sed 's/[0-9]\{8\}\/[0-9a-f]\{8\}/DATE\/HASH/' "$H/2026-December/$num.html" >"$T_DIR/golden.html"
if [ -n "${ARCHIVE_GOLDEN_UPDATE:-}" ]; then cp "$T_DIR/golden.html" "$G/golden.html"; fi
check "the golden page is as expected" diff -u "$G/golden.html" "$T_DIR/golden.html"
check "the attachment is scrubbed to its own file" bash -c "ls '$H'/attachments/*/*/attachment.pdf"

# Import: a real site's mbox, as it comes.
python3 - "$T_DIR/site.mbox" <<'PY'
import sys
m = []
m.append(b"From someone@example.org Mon Jan  5 10:00:00 2015\r\nFrom: a@example.org\r\nSubject: crlf\r\nMessage-ID: <dup@example.org>\r\nDate: Mon, 5 Jan 2015 10:00:00 +0000\r\n\r\nline one\r\n\r\nFrom the body, unquoted, no date here\r\n>From quoted\r\n\r\n")
m.append(b"From someone@example.org Tue Jan  6 10:00:00 2015\nFrom: b@example.org\nSubject: no date\nMessage-ID: <dup@example.org>\n\nNUL here:\x00 and on\n\n")
m.append(b"From someone@example.org Wed Jan  7 10:00:00 2015\nFrom: c@example.org\nSubject: broken date\nDate: yesterday-ish\nMessage-ID: <x@example.org>\n\nbody\n\n")
m.append(b"From someone@example.org Thu Feb  5 10:00:00 2015\nFrom: d@example.org\nSubject: february\nDate: Thu, 5 Feb 2015 10:00:00 +0000\n\nbody\n")
open(sys.argv[1], "wb").write(b"".join(m))
PY
check "a site's mbox imports" "$HERALD" --var "$V" archive import $L "$T_DIR/site.mbox"
check "its 4 messages are numbered on (3..6)" test "$(grep '^next ' "$V/archives/$L/state")" = "next 7"
check "the unquoted From line stays in its message" grep -q 'From the body, unquoted' "$H/2015-January/000003.html"
check "a missing Date takes the From line's (January)" test -f "$H/2015-January/000004.html"
check "a broken Date too" test -f "$H/2015-January/000005.html"
check "February is a period of its own" test -f "$H/2015-February/000006.html"
check "the NUL is shown as U+FFFD" grep -q $'NUL here:\xef\xbf\xbd and on' "$H/2015-January/000004.html"

# Rebuild keeps numbers and pages.
before=$(cd "$H" && find . -name '*.html' -type f | sort | xargs md5sum)
check "rebuild succeeds" "$HERALD" --var "$V" archive rebuild $L
check "rebuild gives the same URLs and pages" test "$before" = "$(cd "$H" && find . -name '*.html' -type f | sort | xargs md5sum)"

# Check and repair.
check "check finds nothing on a sound archive" "$HERALD" --var "$V" archive check $L
rm "$H/2026-December/000001.html" "$H/2015-January/date.html"
sed -i 's/data-count="[0-9]*"/data-count="1"/' "$H/2015-January/thread.html"
: >"$H/2015-February.txt"
sqlite3 "$V/archives/$L/search.db" "DELETE FROM msg WHERE num = 2" 2>/dev/null || true
out=$("$HERALD" --var "$V" archive check $L)
check "check reports the lost page" bash -c "echo \"\$1\" | grep -q '000001.html: missing'" _ "$out"
check "check reports the text archive cut short" bash -c "echo \"\$1\" | grep -q '2015-February.txt: shorter'" _ "$out"
check "check reports the index that does not count" bash -c "echo \"\$1\" | grep -q '2015-January: the indexes'" _ "$out"
check "check exits 1 on differences" bash -c "! '$HERALD' --var '$V' archive check $L >/dev/null"
check "check --repair repairs" bash -c "'$HERALD' --var '$V' archive check --repair $L >/dev/null; '$HERALD' --var '$V' archive check $L"
check "the lost page is back" test -f "$H/2026-December/000001.html"
check "the lost index is back" test -f "$H/2015-January/date.html"
check "the emptied text archive is whole again" grep -q 'Subject: february' "$H/2015-February.txt"

# Search.
s() { "$HERALD" --var "$V" archive search $L "$@"; }
check "a word finds its message" bash -c "s() { '$HERALD' --var '$V' archive search $L \"\$@\"; }; s february | grep -q '^2015-February/000006.html	2015-02-05T10:00:00Z	d@example.org	february\$'"
check "a phrase matches words in order" test "$(s '"message 1"' | cut -f1)" = 2026-December/000001.html
check "a phrase does not match them apart" test -z "$(s '"1 message"')"
check "from: matches the author" test "$(s from:poster1 | cut -f1)" = 2026-December/000001.html
check "subject: matches the subject" test "$(s subject:crlf | cut -f1)" = 2015-January/000003.html
check "a date range narrows" test "$(s after:2015-01-06 before:2015-02-01 | wc -l)" = 2
check "words and a date range" test "$(s body after:2015-01-06 before:2015-02-01 | cut -f1)" = 2015-January/000005.html
check "a bad date is refused" bash -c "! '$HERALD' --var '$V' archive search $L before:soon 2>/dev/null"
check "markup in a query is only words" bash -c "'$HERALD' --var '$V' archive search $L 'NEAR(\"a\" OR' >/dev/null"

# archive.gzip: ended periods are compressed, the list index links them.
check "archive.gzip runs" "$HERALD" --var "$V" tasks run archive.gzip
check "an ended period has its .txt.gz" bash -c "gzip -dc '$H/2015-January.txt.gz' | grep -q 'Subject: crlf'"
check "the list index links the .txt.gz" grep -q '2015-January.txt.gz' "$H/index.html"

# archive_private: the tree moves to the private side, apart.
"$HERALD" --var "$V" config set $L archive_private 1 >/dev/null
check "a private list's tree is under archives/private" test "$("$HERALD" --var "$V" archive path $L)" = "$V/archives/private/$L"
check "nothing of it stays public" test ! -e "$V/archives/public/$L"
check "a private tree offers the whole mbox" cmp "$V/archives/private/$L/$L.mbox" "$V/archives/$L/mbox"
check "a message added to a private list goes there" bash -c "msg() { printf 'From: p@example.org\nSubject: private\nMessage-ID: <pv@x>\n\nsecret\n'; }; msg | '$HERALD' --var '$V' archive add $L >/dev/null && grep -rq secret '$V/archives/private/$L/'"

# The runner: through the archive queue, honouring archive and X-No-Archive.
"$HERALD" --var "$V" site set runner.archive.handler archive
msg 7 'by the runner' | "$HERALD" --var "$V" queue inject archive --list $L >/dev/null
msg 8 'not me' 'X-No-Archive: yes\n' | "$HERALD" --var "$V" queue inject archive --list $L >/dev/null
"$HERALD" --var "$V" runner archive --once >/dev/null 2>&1
check "the runner archives a post" bash -c "'$HERALD' --var '$V' archive search $L subject:runner | grep -q runner"
check "but not one marked X-No-Archive" test -z "$(s subject:not)"
"$HERALD" --var "$V" config set $L archive no >/dev/null
msg 9 'archive off' | "$HERALD" --var "$V" queue inject archive --list $L >/dev/null
"$HERALD" --var "$V" runner archive --once >/dev/null 2>&1
check "nor any post of a list with archive off" test -z "$(s off)"
check "the queue is empty" test -z "$(find "$V/queue/archive" -name '*.msg' -o -name '*.bak')"
t_done
