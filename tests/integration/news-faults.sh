#!/usr/bin/env bash
# The mail-news gateway against a fake NNTP server (tests/tools/
# fakenntp.py) for the faults a real one will not make on demand:
#   - a post to the list goes to the news queue and is posted once, its
#     headers cleaned as Mailman's NewsRunner cleans them (Newsgroups
#     added, server headers gone, duplicates renamed, the Message-ID the
#     list's own, the subject prefix kept or not);
#   - a 4xx answer, or no server at all, posts it later; a 5xx gives it
#     up into bad/ with a log line; the same post twice is one article;
#   - news.gate: the first run catches up, later runs gate the new
#     articles once, never the list's own; an article cut off in the
#     middle is taken on the next run; pulls killed at random moments
#     gate every article exactly once.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=gw@lists.test
N=$T_DIR/nntp
H() { "$HERALD" --var "$V" "$@"; }
mkdir -p "$N"
python3 "$HERALD_TOP/tests/tools/fakenntp.py" "$N" "$N/port" 2>"$T_DIR/fakenntp.err" &
NNTP_PID=$!
wait_for 10 test -f "$N/port" || { not_ok "the fake NNTP server starts"; t_done; }
NPORT=$(cat "$N/port")
pipeline_runners "$V"
H site set runner.news.handler news
H site set news.retry_wait 1
H site set news.timeout 3
H lists create $L --owner owner@lists.test >/dev/null
echo member@lists.test | H members add $L >/dev/null
H config set $L nntp_host "127.0.0.1:$NPORT" >/dev/null
H config set $L linked_newsgroup test.herald >/dev/null
H config set $L gateway_to_news yes >/dev/null

post() {	# post ID SUBJECT: a member's post, through the pipeline
	printf 'From: Member <member@lists.test>\nTo: %s\nTo: second@lists.test\nSubject: %s\nMessage-ID: <%s@lists.test>\nReceived: from x by y\nNNTP-Posting-Host: 10.0.0.1\nPath: a!b\nXref: h g:1\n\nHello %s.\n' \
		"$L" "$2" "$1" "$1" | H mta post $L --sender member@lists.test >/dev/null &&
		H runner in --once >>"$T_DIR/in.log" 2>&1
}
news_queued() { find "$V/queue/news" -name '*.msg' | wc -l; }
posted() { ls "$N/posted" | wc -l; }

echo "441 try later" >"$N/post-answers"
post p1 "Hello news"
check "a post to the list is copied to the news queue" test "$(news_queued)" = 1
H runner news --once >>"$T_DIR/news.log" 2>&1
check "a 4xx answer keeps it for later" test "$(posted)$(news_queued)" = 01
check "the retry is logged" grep -q "441 try later; again in 1 s" -r "$V/logs"
sleep 1.2
H runner news --once >>"$T_DIR/news.log" 2>&1
check "it is posted once on the next try" test "$(posted)$(news_queued)" = 10
A=$N/posted/1
check "the article names the newsgroup" grep -qx "Newsgroups: test.herald" "$A"
check "the server's headers are gone" bash -c "! grep -Eiq '^(Received|NNTP-Posting-Host|Path|Xref):' '$A'"
check "a second To is renamed X-Original-To" bash -c "grep -c '^To:' '$A' | grep -qx 1 && grep -q '^X-Original-To: second@lists.test' '$A'"
check "the Message-ID is the list's own" grep -Eq "^Message-ID: <[0-9a-f]{32}\.news\.$L>" "$A"
check "the subject keeps its prefix (news_prefix_subject_too)" grep -q '^Subject: \[Gw\] Hello news' "$A"
check "the list's X-BeenThere is in the article" grep -q "^X-BeenThere: $L" "$A"
check "no Approved: header for an unmoderated group" bash -c "! grep -q '^Approved:' '$A'"

H config set $L news_prefix_subject_too no >/dev/null
H config set $L news_moderation open_moderated >/dev/null
post p2 "Plain subject"
H runner news --once >>"$T_DIR/news.log" 2>&1
check "news_prefix_subject_too no: the poster's subject" grep -qx 'Subject: Plain subject' "$N/posted/2"
check "open_moderated: Approved: the list" grep -qx "Approved: $L" "$N/posted/2"

post p2 "Plain subject"
H runner news --once >>"$T_DIR/news.log" 2>&1
check "the same post again is the same article, taken once" test "$(posted)$(news_queued)" = 20
check "the duplicate is not given up" bash -c "! ls '$V/queue/bad/'*.msg 2>/dev/null | grep -q ."

H config set $L news_moderation moderated >/dev/null
post p9 "To a moderated group"
check "news_moderation moderated: the list holds the post" \
	bash -c "grep -l 'Posting to a moderated newsgroup' '$V/lists/$L/held/'*.msg >/dev/null"
check "and nothing goes to the group meanwhile" test "$(posted)$(news_queued)" = 20
H config set $L news_moderation none >/dev/null

echo "502 posting not allowed" >"$N/post-answers"
post p3 "Refused"
H runner news --once >>"$T_DIR/news.log" 2>&1
check "a 5xx answer gives it up: nothing queued, nothing posted" test "$(posted)$(news_queued)" = 20
check "the given-up post is kept in bad/" bash -c "grep -l 'p3@lists.test' '$V/queue/bad/'* >/dev/null"
check "the refusal is logged" grep -q "given up after 1 attempt: news server .*502 posting not allowed" -r "$V/logs"

DEAD=$(free_port)
H config set $L nntp_host "127.0.0.1:$DEAD" >/dev/null
post p4 "No server"
H runner news --once >>"$T_DIR/news.log" 2>&1
check "no server: kept for later" test "$(posted)$(news_queued)" = 21
H config set $L nntp_host "127.0.0.1:$NPORT" >/dev/null
sleep 1.2
H runner news --once >>"$T_DIR/news.log" 2>&1
check "posted once the server is back" test "$(posted)$(news_queued)" = 30

# A 441 whose text speaks of a duplicate (INN's refusal of an article with
# a header field twice) is a refusal, not "the server has it": only STAT
# says that.
posted_logged() { grep -rh "posted to the group" "$V/logs" | wc -l; }
echo "441 Duplicate Subject header field" >"$N/post-answers"
post p5 "Refused with duplicate in its text"
before=$(posted_logged)
H runner news --once >>"$T_DIR/news.log" 2>&1
check "a 441 naming a duplicate header: not taken as posted, kept for later" \
	test "$(posted)$(news_queued)" = 31
check "the server was asked whether it has the article (STAT)" grep -q "^STAT <" "$N/log"
check "nothing logs it as posted" test "$(posted_logged)" = "$before"
sleep 1.2
H runner news --once >>"$T_DIR/news.log" 2>&1
check "and posted once the server takes it" test "$(posted)$(news_queued)" = 40

# A server that sends an endless line, or drips its answer a byte at a
# time: bounded memory, bounded time, a clear error.
echo 100000000 >"$N/flood"
/usr/bin/time -f %M -o "$T_DIR/flood.rss" "$HERALD" --var "$V" news catchup $L >"$T_DIR/flood.out" 2>&1
rm "$N/flood"
check "an endless line is refused: a line longer than 65536 bytes" grep -q "a line longer than 65536 bytes" "$T_DIR/flood.out"
rss=$(tail -1 "$T_DIR/flood.rss")
check "and read into bounded memory (max RSS $rss KB < 60 MB)" test "$rss" -lt 61440
H site set news.timeout 1
echo 0.3 >"$N/drip"
t0=$(date +%s)
"$HERALD" --var "$V" news catchup $L >"$T_DIR/drip.out" 2>&1
t1=$(date +%s)
rm "$N/drip"
H site set news.timeout 30
check "an answer dripped a byte at a time ends at the answer's deadline" grep -q "no whole answer within 4 s" "$T_DIR/drip.out"
check "within about that time ($((t1 - t0)) s)" test $((t1 - t0)) -le 8

# --- news.gate ------------------------------------------------------------
article() {	# article N FROM [HEADERS]
	printf 'Path: news!not-for-mail\nFrom: %s\nNewsgroups: test.herald\nSubject: article %s\nMessage-ID: <a%s@news.test>\nXref: fake test.herald:%s\n%b\nBody of article %s.\n' \
		"$2" "$1" "$1" "$1" "${3:-}" "$1" >"$N/articles/$1"
}
gated_all() { cat "$V"/queue/in/*.msg 2>/dev/null | grep -c '^from-usenet: yes'; }
in_queued() { grep -l '^from-usenet: yes' "$V"/queue/in/*.msg 2>/dev/null | wc -l; }
gated() { grep -l "^Message-ID: <a$1@news.test>" "$V"/queue/in/*.msg 2>/dev/null | wc -l; }
article 1 reader@news.test
article 2 reader@news.test
H lists create quiet@lists.test --owner owner@lists.test >/dev/null
H tasks run news.gate >/dev/null 2>&1
check "news.gate leaves lists without the gateway untouched (no news folder)" \
	test ! -e "$V/lists/quiet@lists.test/news"
H config set $L gateway_to_mail yes >/dev/null
check "news.gate runs" H tasks run news.gate
check "the first run only catches up" test "$(in_queued)" = 0
check "the watermark is past the last article" grep -qx "usenet_next=3" "$V/lists/$L/counters"
article 3 outsider@news.test
article 4 member@lists.test "X-BeenThere: $L\n"
article 5 other@news.test
echo 5 >"$N/drop"
H tasks run news.gate >/dev/null 2>&1
check "a new article is gated" test "$(gated 3)" = 1
check "the list's own article is not gated back" test "$(gated 4)" = 0
check "the article cut off is not gated half" test "$(gated 5)" = 0
check "the watermark stops at the cut-off article" grep -qx "usenet_next=5" "$V/lists/$L/counters"
rm "$N/drop"
H tasks run news.gate >/dev/null 2>&1
H tasks run news.gate >/dev/null 2>&1
check "the cut-off article is gated on the next run, once" test "$(gated 5)$(gated 3)" = 11
check "it carries from-usenet" bash -c "grep -l '<a5@news.test>' '$V'/queue/in/*.msg | xargs grep -q '^from-usenet: yes'"

# A gated article through the pipeline: to the members, not to the group.
before=$(posted)
H runner in --once >>"$T_DIR/in.log" 2>&1
check "gated articles reach the out queue" test "$(grep -l '<a[35]@news.test>' "$V"/queue/out/*.msg | wc -l)" = 2
check "an outsider's article is not held as a nonmember's post" bash -c "! grep -l '<a[35]@news.test>' '$V/lists/$L/held/'* 2>/dev/null | grep -q ."
check "nothing goes back to the group" test "$(news_queued)$(posted)" = "0$before"

# Mailman's mass catch up: what the group holds now is never gated.
rm -f "$V"/queue/in/*.msg
article 46 reader@news.test
article 47 reader@news.test
check "news catchup" H news catchup $L
check "news status shows the watermark" bash -c "'$HERALD' --var '$V' news status $L | grep -qx 'next article: 48'"
H tasks run news.gate >/dev/null 2>&1
check "articles caught up with are not gated" test "$(gated_all)" = 0
# A catch-up while news.gate pulls waits for the run to end: the run's
# watermark (it pulls 15 of the 25 new articles) does not undo the
# catch-up, nor does the catch-up remove the run's staged articles.
for i in $(seq 48 72); do article $i reader@news.test; done
H site set news.gate_max 15
echo 0.1 >"$N/delay"
H tasks run news.gate >/dev/null 2>&1 &
gate_pid=$!
wait_for 5 grep -q "^ARTICLE 48" "$N/log"
H news catchup $L >"$T_DIR/catchup.out" 2>&1
wait $gate_pid
rm "$N/delay"
check "a catch-up during a pull waits for it, then catches up" grep -qx "usenet_next=73" "$V/lists/$L/counters"
check "the pull's articles are all gated, once" test "$(gated_all)" = 15
H tasks run news.gate >/dev/null 2>&1
check "and the next run gates nothing more" test "$(gated_all)" = 15
H site set news.gate_max 1000
rm -f "$V"/queue/in/*.msg "$N"/articles/4[89] "$N"/articles/[56][0-9] "$N"/articles/7[0-2]
rm "$N/articles/46" "$N/articles/47"
sed -i 's/^usenet_next=.*/usenet_next=6/' "$V/lists/$L/counters"

# Killed pulls: 40 articles, pulls killed at random moments until one
# finishes; each article is gated exactly once.
rm -f "$V"/queue/in/*.msg
for i in $(seq 6 45); do article $i reader@news.test; done
kills=0
for round in $(seq 1 30); do
	setsid "$HERALD" --var "$V" tasks run news.gate >>"$T_DIR/killed.log" 2>&1 &
	pid=$!
	sleep "0.$((RANDOM % 9 + 1))"
	if kill -0 $pid 2>/dev/null; then
		kill -9 -- -$pid 2>/dev/null; kills=$((kills + 1))
	fi
	wait $pid 2>/dev/null
	grep -qx "usenet_next=46" "$V/lists/$L/counters" && [ -z "$(ls "$V/lists/$L/news/pull")" ] && break
done
mark=$(sed -n 's/^usenet_next=//p' "$V/lists/$L/counters")
staged=$(gated_all)
H tasks run news.gate >/dev/null 2>&1
diag "$kills pulls killed; they moved the watermark to $mark and gated $staged articles"
check "the killed pulls made progress" test "$mark" -gt 6 -a "$staged" -gt 0
dups=0 missing=0
for i in $(seq 6 45); do
	c=$(gated $i)
	[ "$c" -gt 1 ] && dups=$((dups + 1))
	[ "$c" -lt 1 ] && missing=$((missing + 1))
done
check "killed pulls: no article gated twice" test $dups = 0
check "killed pulls: none lost" test $missing = 0
check "at least one pull was killed" test $kills -gt 0
[ -n "${NEWS_DEBUG:-}" ] && { setsid "$HERALD" --var "$V" tasks run news.gate; echo rc=$?; }
kill $NNTP_PID
t_done
