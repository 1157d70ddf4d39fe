#!/usr/bin/env bash
# `herald import mailman2` end to end, on a Mailman 2.1 var prefix that
# tests/tools/mailman2-vardir.py writes (config.pck as Python 2's cPickle
# wrote it; 192 members covering every option bit, mode and delivery
# status; two held posts, two requests, 300 archived posts with their mbox
# and Pipermail pages):
#   - --dry-run reports and changes nothing in the var dir;
#   - an import killed half-way leaves no list and no archive visible, and
#     the next run imports the list whole;
#   - the list's settings, members (modes, options, statuses, bounce info),
#     held posts and requests are there; what is not carried is named;
#   - every Pipermail page NNNNNN.html has herald's page at the same
#     PERIOD/NNNNNN.html, holding the same post;
#   - the rewrite rules send /pipermail/NAME/ and /mailman/listinfo/NAME;
#   - a second run changes nothing;
#   - through a real Postfix: a member's post reaches a member's Maildir; a
#     nonmember's post approved with Mailman's admin password (kept as
#     SHA-1) goes out, and the password is then an Argon2id hash; an
#     imported held post, approved, goes out.
# sanitizer build: skip (end to end through the real Postfix; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
PF=$T_DIR/postfix
MAIL=$T_DIR/mail
V=$T_DIR/var
MM=$T_DIR/mailman
LIST=team@lists.test
MEMBER=m00000@example.org
trap '"$INSTANCE" "$PF" stop >/dev/null 2>&1;
      "$HERALD" --var "$V" stop >/dev/null 2>&1; t_cleanup' EXIT
H() { "$HERALD" --var "$V" "$@"; }

python3 "$HERALD_TOP/tests/tools/mailman2-vardir.py" "$MM" --list team \
	--host lists.test --members 192 --passwords 4 --messages 300 --held
postfix_herald "$V" "$PF" "$MAIL" "$MEMBER"
snapshot() { (cd "$V" && find . -path ./logs -prune -o -path ./locks -prune -o -print | sort; cat etc/herald.conf); }

# --- a dry run ------------------------------------------------------------
snapshot >"$T_DIR/before"
H import mailman2 "$MM" --dry-run >"$T_DIR/dry" 2>&1
check "--dry-run succeeds" test $? -eq 0
check "and says it is one" grep -q "dry run: nothing written" "$T_DIR/dry"
check "it reports the members and the Pipermail pages" \
	grep -q "192 members;.* 0 of 300 Pipermail pages" "$T_DIR/dry"
snapshot >"$T_DIR/after"
check "it changes nothing in the var dir" cmp -s "$T_DIR/before" "$T_DIR/after"

# --- killed half-way --------------------------------------------------------
"$HERALD" --var "$V" import mailman2 "$MM" >/dev/null 2>&1 &
pid=$!
staged() { [ -d "$V/import/stage-$LIST/archives/$LIST" ]; }
if wait_for 30 staged; then
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	check "killed half-way: no list" test -z "$(H lists)"
	check "and no archive in sight" test ! -e "$V/archives/$LIST" -a ! -e "$V/archives/private/$LIST"
else
	not_ok "the import never reached its staging archive"
	wait $pid
fi

# --- the import -------------------------------------------------------------
H import mailman2 "$MM" >"$T_DIR/report" 2>&1
check "the import succeeds after the kill" test $? -eq 0
sed 's/^/# /' "$T_DIR/report" | grep -v 'not carried:' | head -20
check "the report counts the list, members, archive, held posts, requests" \
	grep -q "total: 1 lists imported, 0 there already; 192 members; .* 300 archived messages; 0 of 300 Pipermail pages without a page at the same URL; 2 held posts, 2 requests" "$T_DIR/report"
check "it names each setting not carried and why" \
	grep -q "not carried: web_page_url: herald's URLs come from the site setting web.base_url" "$T_DIR/report"
check "the news gateway's settings are carried" \
	test "$(H config get $LIST gateway_to_news) $(H config get $LIST news_prefix_subject_too)" = "no yes"
check "and not reported as not carried" bash -c "! grep -q 'not carried: .*news' '$T_DIR/report'"
check "and what it kept aside" grep -q "kept aside: .*heldmsg-team-9.txt" "$T_DIR/report"
check "the kept file is there" test -f "$V/import/kept-$LIST/heldmsg-team-9.txt"
check "the list exists" test "$(H lists)" = "$LIST"
check "no staging dir is left" test ! -e "$V/import/stage-$LIST"
check "no marker of an unfinished import is left" test ! -e "$V/archives/$LIST/import-incomplete"

# --- settings -------------------------------------------------------------
check "real_name" test "$(H config get $LIST real_name)" = "Team"
check "description, from Latin-1" test "$(H config get $LIST description)" = "A café list"
check "ban_list, regexes kept" test "$(H config get $LIST ban_list | tr '\n' ' ')" = 'banned@example.net ^.*@spam\.example$ '
check "header_filter_rules: Mailman's tuples as ACTION REGEX lines, one a pattern" \
	test "$(H config get $LIST header_filter_rules | tr '\n' '|')" = "discard ^subject: .*viagra|discard ^x-spam: yes|hold ^x-hold:|"
check "accept_these_nonmembers" test "$(H config get $LIST accept_these_nonmembers | head -1)" = friend@example.net
check "acceptable_aliases from Mailman's text" test "$(H config get $LIST acceptable_aliases)" = alias@example.org
check "seconds become days (bounce_info_stale_after)" test "$(H config get $LIST bounce_info_stale_after)" = 7
check "owner and moderator" test "$(H config get $LIST owner) $(H config get $LIST moderator)" = "owner@example.org mod@example.org"
check "archive_private" test "$(H config get $LIST archive_private)" = 1

# --- members ---------------------------------------------------------------
check "192 members" test "$(H members list $LIST | wc -l)" = 192
show() { H members show $LIST "$1"; }
# The fixture's rules: member i has option combination i (bits notmetoo,
# ack, plain, hide, mod, nodupes), mode (i / 64) % 3, status (i / 3) % 4.
check "m00000: regular, enabled, no options" \
	bash -c "'$HERALD' --var '$V' members show $LIST m00000@example.org | grep -qx 'options: (none)\|options: ' || '$HERALD' --var '$V' members show $LIST m00000@example.org | grep -q '^mode: regular'"
check "m00063: every option bit but plain (regular)" \
	bash -c "'$HERALD' --var '$V' members show $LIST m00063@example.org | grep -qx 'options: ack,notmetoo,hide,mod,nodupes'"
check "m00137: plain digest, off by the member, notmetoo and hide" \
	test "$(show m00137@example.org | grep -E '^(mode|delivery|options):' | cut -d' ' -f2 | tr '\n' ' ')" = "plain byuser notmetoo,hide "
check "m00064: MIME digest" test "$(show m00064@example.org | grep '^mode:')" = "mode: mime"
check "m00006: off by the owner" bash -c "'$HERALD' --var '$V' members show $LIST m00006@example.org | grep -q '^delivery: byadmin\|^delivery: byowner'"
check "m00009: off by bounces, with the bounce info" \
	bash -c "'$HERALD' --var '$V' members show $LIST m00009@example.org | grep -q '^delivery: bybounce' && '$HERALD' --var '$V' members show $LIST m00009@example.org | grep -q '^bounce score: 5.0 (last 2015-03-24'"
check "names from Latin-1" test "$(show m00009@example.org | grep '^name:')" = "name: Member é 9"
check "a member's own language" test "$(show m00007@example.org | grep '^language:')" = "language: de"
check "members' topic choices (topics_userinterest)" \
	test "$(show m00001@example.org | grep '^topics:') / $(show m00002@example.org | grep '^topics:')" = "topics: Kernel / topics: Kernel,Web"
check "passwords hashed (the first four members have one)" \
	test "$(show m00003@example.org | grep '^password:') $(show m00004@example.org | grep '^password:')" = "password: (set) password: (not set)"

# --- held posts and requests ----------------------------------------------
check "two held posts" test "$(H held list $LIST | wc -l)" = 2
check "with Mailman's reasons" bash -c "'$HERALD' --var '$V' held list $LIST | grep -q 'Message body is too big'"
check "the multipart one is whole" bash -c "'$HERALD' --var '$V' held show $LIST 2 | grep -q 'second part'"
check "the subscription request awaits a moderator" bash -c "'$HERALD' --var '$V' requests list $LIST | grep -q 'subscribe  joiner@example.net (Joe Joiner)'"

# --- the archive at Pipermail's numbers ---------------------------------
HTML=$(H archive path $LIST)
bad=0
for f in "$MM"/archives/private/team/*/[0-9]*.html; do
	rel=${f#"$MM/archives/private/team/"}
	n=$((10#$(basename "$rel" .html)))
	grep -q "post $n<\|post $n\b" "$HTML/$rel" 2>/dev/null || { bad=$((bad + 1)); [ $bad -lt 4 ] && diag "no $rel"; }
done
check "each of the 300 Pipermail pages has herald's page at the same URL with the same post" test $bad -eq 0
check "the archive's store agrees with its pages" H archive check $LIST

# --- the rewrite rules -----------------------------------------------------
NG=$V/import/rewrite-$LIST.nginx.conf
AP=$V/import/rewrite-$LIST.apache.conf
check "nginx: /pipermail/team/ goes to the archive, path kept" \
	grep -qF 'location ~ ^/pipermail/team(/.*)?$ {' "$NG"
check "nginx: to herald's archive URL" grep -q 'return 301 https://lists.test/archives/team%40lists.test$1;' "$NG"
check "nginx: /mailman/listinfo/team to the list's page" grep -q 'return 301 https://lists.test/listinfo/team%40lists.test;' "$NG"
check "apache: the same rules" grep -qF 'RewriteRule ^/pipermail/team(/.*)?$ https://lists.test/archives/team\%40lists.test$1 [R=301,L,NE]' "$AP"
if command -v nginx >/dev/null; then
	printf 'events {}\nhttp { server { listen 127.0.0.1:1; include %s; } }\n' "$NG" >"$T_DIR/nginx.conf"
	check "nginx accepts the rules" nginx -t -q -c "$T_DIR/nginx.conf" -p "$T_DIR"
fi

# --- twice ------------------------------------------------------------------
sum() { (cd "$V/lists/$LIST" && find . -type f ! -name '*.lock' -exec sha1sum {} + | sort); }
sum >"$T_DIR/sum1"
H import mailman2 "$MM" >"$T_DIR/report2" 2>&1
check "a second import succeeds" test $? -eq 0
check "and leaves the list as it was" bash -c "grep -q 'exists already' '$T_DIR/report2' && grep -q 'total: 0 lists imported, 1 there already' '$T_DIR/report2'"
sum >"$T_DIR/sum2"
check "its files unchanged" cmp -s "$T_DIR/sum1" "$T_DIR/sum2"

# --- through Postfix --------------------------------------------------------
"$INSTANCE" "$PF" setup
H mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"
if ! command -v postfix >/dev/null || ! "$INSTANCE" "$PF" start >"$T_DIR/postfix-start" 2>&1; then
	sed 's/^/# /' "$T_DIR/postfix-start" 2>/dev/null
	skip "import-mailman2: the private Postfix cannot start here"
	t_done
fi
ok "the private Postfix starts on 127.0.0.1:$PORT"
check "herald's master starts" bash -c "'$HERALD' --var '$V' start >/dev/null"
check "its LMTP socket is there" wait_for 10 test -S "$V/run/lmtp.sock"
post() {
	python3 - "$PORT" "$1" "$2" "$3" "$LIST" <<'PY'
import smtplib, sys
port, sender, subject, extra, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
extra = extra + "\r\n" if extra else ""
msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n%sMessage-ID: <%s@example.org>\r\n\r\n"
       "body of %s\r\n" % (sender, rcpt, subject, extra, subject.replace(" ", "."), subject))
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.sendmail(sender, [rcpt], msg.encode())
s.quit()
PY
}
box=$MAIL/example.org/m00000/new
got() { grep -lq "^Subject: .*$1" "$box"/* 2>/dev/null; }
post $MEMBER "after the move" ""
check "a member's post to the imported list reaches a member's Maildir" wait_for 60 got "after the move"
check "with the list's prefix" bash -c "grep -h '^Subject:' '$box'/* | grep -q '^Subject: \[team\] after the move'"
check "the admin password is Mailman's SHA-1 until used" \
	bash -c "'$HERALD' --var '$V' config export --show-secrets $LIST | grep -qx 'password=\$sha1\$'$(printf adminpw | sha1sum | cut -c1-40)"
post stranger@example.net "approved by password" "Approved: adminpw"
check "a post approved with Mailman's admin password goes out" wait_for 60 got "approved by password"
check "the admin password is now an Argon2id hash" \
	bash -c "'$HERALD' --var '$V' config export --show-secrets $LIST | grep -q '^password=\$argon2id\\$'"
H held approve $LIST 1 >/dev/null
check "an imported held post, approved, goes out" wait_for 60 got "held one"

# A member logs in on the web with the password Mailman kept for her (in
# clear there, an Argon2id hash here) and reads the private archive.
web_serve "$V" || not_ok "the web interface starts"
LE=${LIST/@/%40}
C=$T_DIR/curl
mkdir -p "$C"
login() {	# login EMAIL PASSWORD: the archive's status with the session got
	local t s
	t=$(curl -s "${WEB_BASE}listinfo/$LE" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
	curl -s -o /dev/null -D "$C/headers" -d "csrf=$t&role=member&list=$LIST&email=$1&password=$2&next=/archives/$LE/" "${WEB_BASE}login"
	s=$(sed -n 's/.*herald_session=\([^;]*\);.*/\1/p' "$C/headers" | tr -d '\r')
	curl -s -o /dev/null -w '%{http_code}' -H "Cookie: herald_session=$s" "${WEB_BASE}archives/$LE/"
}
check "a member logs in with her Mailman password and reads the private archive" \
	test "$(login m00001@example.org pw00001)" = 200
check "a wrong password does not let her in" test "$(login m00002@example.org pw00001)" = 401
t_done
