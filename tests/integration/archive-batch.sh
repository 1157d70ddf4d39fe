#!/usr/bin/env bash
# The archive runner archives a burst of posts as one batch
# (archive_add_batch): one commit for the list's posts of a runner batch,
# every post with its page, each index page listing all of them, the
# search finding each once; posts of two periods in one batch; and the
# pages a writer that stopped after its commit left unmade are made by the
# next one (archive.c, recover).
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=batch@example.org
"$HERALD" --var "$V" lists create $L --owner admin@example.org >/dev/null
"$HERALD" --var "$V" site set runner.archive.handler archive
# Daily volumes: posts dated today and yesterday fall in two periods.
"$HERALD" --var "$V" config set $L archive_volume_frequency 4 >/dev/null
TODAY=$(date -u +%Y%m%d) YESTERDAY=$(date -u -d '-1 day' +%Y%m%d)
LOG=$V/logs/$(hostname)/archive
inject() {	# inject FIRST LAST [DATE]
	for i in $(seq "$1" "$2"); do
		printf 'From: poster%d@example.org\nSubject: batch post %d\nMessage-ID: <b%d@example.org>\nDate: %s\n\nbody of batch post %d\n' \
			"$i" "$i" "$i" "${3:-$(date -u -R)}" "$i" |
			"$HERALD" --var "$V" queue inject archive --list $L >/dev/null || return 1
	done
}
pages() { find "$V/archives/public/$L" -name '[0-9]*.html' | wc -l; }

# Eight posts, the last two dated the day before, in one pass.
inject 1 6
inject 7 8 "$(date -u -R -d '-1 day')"
"$HERALD" --var "$V" runner archive --once >/dev/null 2>&1
# A runner's batches start at one entry and double (runner.c): 1, 2, 4, 1
# on a quiet machine (a batch is also stored 100 ms after its first entry,
# so a slow one may make more).
commits=$(grep -c "$L: .* posts archived in one commit" "$LOG")
check "the runner archived several posts in one commit" \
	grep -qE "$L: ([2-9]) of \1 posts archived in one commit" "$LOG"
check "fewer commits than posts ($commits for 8)" test "$commits" -lt 8
check "the state counts 8 messages" test "$(grep '^next ' "$V/archives/$L/state")" = "next 8"
check "every post has its page ($(pages))" test "$(pages)" = 8
check "today's date index lists its 6 posts" \
	test "$(grep -c 'batch post' "$V/archives/public/$L/$TODAY/date.html")" = 6
check "yesterday's thread index lists its 2 posts" \
	test "$(grep -c 'batch post' "$V/archives/public/$L/$YESTERDAY/thread.html")" = 2
check "the list's index names both periods" \
	grep -q $YESTERDAY "$V/archives/public/$L/index.html"
n=$("$HERALD" --var "$V" archive search --limit 100 $L batch | wc -l)
check "search finds each post once ($n)" test "$n" = 8
check "each post's page links to the next in its period" \
	grep -q 'href="000001.html"' "$V/archives/public/$L/$TODAY/000000.html"
check "archive check finds no difference" "$HERALD" --var "$V" archive check $L

# A writer stopped after its commit, in the middle of writing the pages:
# the last three are missing.  The next addition makes them first.
rm "$V/archives/public/$L/$TODAY/000005.html" \
	"$V/archives/public/$L/$YESTERDAY/000006.html" \
	"$V/archives/public/$L/$YESTERDAY/000007.html"
inject 9 9
"$HERALD" --var "$V" runner archive --once >/dev/null 2>&1
check "the next writer finishes messages 5 to 7" \
	grep -q "$L: finishing the pages of messages 5 to 7" "$LOG"
check "every post has its page again ($(pages))" test "$(pages)" = 9
check "archive check finds no difference after the recovery" "$HERALD" --var "$V" archive check $L

t_done
