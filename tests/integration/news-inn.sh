#!/usr/bin/env bash
# The mail-news gateway end to end: Debian's INN (inn2) on loopback, run
# from its own directory tree under the test's directory (INNCONF; the
# machine's /etc/news is not read), herald behind the private Postfix of
# tests/postfix/instance.sh with `herald start`'s runners:
#   - a post to the list appears in the newsgroup once (read back over
#     NNTP) and reaches the members once;
#   - an article posted to the group reaches the members once (news.gate);
#   - nothing loops: after several runs of news.gate the group holds just
#     those two articles and each member one copy of each;
#   - pulls killed at random moments gate every new article exactly once.
# sanitizer build: skip (end to end through INN and the real Postfix; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
INND=/usr/lib/news/bin/innd
PF=$T_DIR/postfix
MAIL=$T_DIR/mail
V=$T_DIR/var
I=$T_DIR/inn
L=gw@lists.test
GROUP=test.herald
ANN=ann@members.test
BOB=bob@members.test
OWNER=owner@members.test
# innd takes a few seconds to stop on SIGTERM: then SIGKILL.
stop_inn() {
	local pid
	[ -f "$I/run/innd.pid" ] && pid=$(cat "$I/run/innd.pid") || return 0
	kill "$pid" 2>/dev/null && wait_for 8 bash -c "! kill -0 $pid 2>/dev/null" ||
		kill -9 "$pid" 2>/dev/null
}
trap '"$INSTANCE" "$PF" stop >/dev/null 2>&1; stop_inn;
      "$HERALD" --var "$V" stop >/dev/null 2>&1; t_cleanup' EXIT
H() { "$HERALD" --var "$V" "$@"; }

if [ ! -x "$INND" ] || ! getent passwd news >/dev/null || [ "$(id -u)" != 0 ]; then
	skip "news-inn: inn2 is not installed (scripts/install-deps.sh), or not root"
	t_done
fi

# INN's own tree: every path of inn.conf under $I, a port of our own on
# 127.0.0.1, one group, readers and posters from loopback only.
NPORT=$(free_port)
chmod o+x "$T_DIR"
mkdir -p "$I"/{etc,db,run,spool/articles,spool/overview,spool/tmp,log,tmp,http}
cat >"$I/etc/inn.conf" <<EOF
organization: "herald test"
pathhost: herald-test.localdomain
domain: localdomain
pathnews: /usr/lib/news
pathbin: /usr/lib/news/bin
pathetc: $I/etc
pathdb: $I/db
pathrun: $I/run
pathspool: $I/spool
patharticles: $I/spool/articles
pathoverview: $I/spool/overview
pathincoming: $I/spool/incoming
pathoutgoing: $I/spool/outgoing
patharchive: $I/spool/archive
pathlog: $I/log
pathtmp: $I/tmp
pathhttp: $I/http
ovmethod: tradindexed
hismethod: hisv6
enableoverview: true
port: $NPORT
bindaddress: 127.0.0.1
nnrpdpostport: $NPORT
pgpverify: false
docancels: none
mta: "/bin/true %s"
mailcmd: /bin/true
doinnwatch: false
EOF
echo 'ME:*::' >"$I/etc/newsfeeds"
# Addresses only: a name would be looked up in the DNS, slowly or not at
# all here.
echo 'peer ME { hostname: "127.0.0.1" }' >"$I/etc/incoming.conf"
cat >"$I/etc/readers.conf" <<'EOF'
auth "local" { hosts: "127.0.0.1" default: "<local>" }
access "local" { users: "<local>" newsgroups: "*" access: RPA }
EOF
echo 'method tradspool { newsgroups: * class: 0 }' >"$I/etc/storage.conf"
touch "$I/etc/control.ctl" "$I/etc/control.ctl.local" "$I/etc/expire.ctl"
printf 'control 0000000000 0000000001 n\ncontrol.cancel 0000000000 0000000001 n\njunk 0000000000 0000000001 n\n%s 0000000000 0000000001 y\n' $GROUP >"$I/db/active"
printf '%s herald test group\n' $GROUP >"$I/db/newsgroups"
touch "$I/db/active.times" "$I/db/history"
chown -R news:news "$I"
as_news() { su -s /bin/sh news -c "INNCONF='$I/etc/inn.conf' $*"; }
as_news /usr/lib/news/bin/makedbz -i -o -s 1000 -f "$I/db/history" >"$T_DIR/inn-setup" 2>&1
as_news "$INND -f" >"$T_DIR/innd.out" 2>&1 &
nntp() {	# nntp PY-ARGS...: tests/tools-style NNTP client (below)
	python3 - "$NPORT" "$@" <<'PY'
import socket, sys
port, what = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), 10)
f = s.makefile("rwb")
def cmd(c):
    if c is not None:
        f.write(c.encode() + b"\r\n"); f.flush()
    return f.readline().decode().rstrip("\r\n")
def body():
    out = []
    while True:
        l = f.readline().decode("utf-8", "replace").rstrip("\r\n")
        if l == ".": return out
        out.append(l[1:] if l.startswith("..") else l)
assert cmd(None)[:3] in ("200", "201")
cmd("MODE READER")
if what == "count":	# how many articles the group holds
    a = cmd("GROUP " + sys.argv[3])
    if not a.startswith("211"):
        sys.exit("GROUP: " + a)
    print(a.split()[1])
elif what == "heads":	# every article's Message-ID and Subject
    a = cmd("GROUP " + sys.argv[3]).split()
    for n in range(int(a[2]), int(a[3]) + 1):
        if cmd("HEAD %d" % n).startswith("221"):
            h = body()
            print(" | ".join(l for l in h if l.split(":")[0].lower() in ("message-id", "subject")))
elif what == "post":	# post GROUP ID SUBJECT FROM
    g, mid, subj, frm = sys.argv[3:7]
    assert cmd("POST").startswith("340")
    f.write(("From: %s\r\nNewsgroups: %s\r\nSubject: %s\r\nMessage-ID: <%s@news.test>\r\n\r\nNews body %s.\r\n.\r\n"
             % (frm, g, subj, mid, mid)).encode()); f.flush()
    r = cmd(None)
    assert r.startswith("240"), r
cmd("QUIT")
PY
}
if ! wait_for 40 nntp count $GROUP >/dev/null 2>&1; then
	sed 's/^/# /' "$T_DIR/inn-setup" "$T_DIR/innd.out" "$I"/log/* 2>/dev/null | head -30
	not_ok "INN starts from its own tree on 127.0.0.1:$NPORT"
	t_done
fi
ok "INN starts from its own tree on 127.0.0.1:$NPORT"

postfix_herald "$V" "$PF" "$MAIL" "$ANN $BOB $OWNER"
H lists create $L --owner $OWNER >/dev/null
printf '%s\n' $ANN $BOB | H members add $L >/dev/null
H config set $L nntp_host "127.0.0.1:$NPORT" >/dev/null
H config set $L linked_newsgroup $GROUP >/dev/null
H config set $L gateway_to_news yes >/dev/null
H config set $L gateway_to_mail yes >/dev/null
H site set schedule.news.gate off >/dev/null
"$INSTANCE" "$PF" setup
H mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"
if ! command -v postfix >/dev/null || ! "$INSTANCE" "$PF" start >"$T_DIR/postfix-start" 2>&1; then
	sed 's/^/# /' "$T_DIR/postfix-start" 2>/dev/null
	skip "news-inn: the private Postfix cannot start here"
	t_done
fi
check "herald's master starts" bash -c "'$HERALD' --var '$V' start >/dev/null"
check "the first news.gate catches up" H tasks run news.gate

post() {	# post ID SUBJECT: a member's post to the list by SMTP
	python3 - "$PORT" "$L" "$1" "$2" "$ANN" <<'PY'
import smtplib, sys
port, rcpt, mid, subject, sender = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
msg = ("From: Ann <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@members.test>\r\n\r\nHello.\r\n"
       % (sender, rcpt, subject, mid))
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.sendmail(sender, [rcpt], msg.encode())
s.quit()
PY
}
maildir() { echo "$MAIL/${1#*@}/${1%@*}/new"; }
got() { grep -l "^Message-ID: <$2>" "$(maildir "$1")"/* 2>/dev/null | wc -l; }
settled() {
	[ -z "$(find "$V/queue/in" "$V/queue/out" "$V/queue/retry" "$V/queue/news" -name '*.msg' -o -name '*.bak' 2>/dev/null)" ] &&
		postqueue -c "$PF/etc" -p | grep -q 'Mail queue is empty'
}
count() { nntp count $GROUP; }

in_group() { [ "$(count 2>/dev/null)" = "$1" ]; }
both_got() { [ "$(got $ANN "$1")$(got $BOB "$1")" = 11 ]; }

post m1 "From the list"
check "the list's post appears in the newsgroup" wait_for 60 in_group 1
check "the members get the list's post" wait_for 60 both_got m1@members.test
nntp heads $GROUP >"$T_DIR/heads1"
check "the article has the list's subject and its own Message-ID" \
	grep -Eq "^Message-ID: <[0-9a-f]{32}\.news\.$L> \| Subject: \[Gw\] From the list$|Subject: \[Gw\] From the list \| Message-ID: <[0-9a-f]{32}\.news\.$L>$" "$T_DIR/heads1"

nntp post $GROUP n1 "From the group" reader@elsewhere.test
check "an article posted to the group is there" test "$(count)" = 2
check "news.gate runs" H tasks run news.gate
check "the members get the group's article" wait_for 60 both_got n1@news.test
for i in 1 2 3; do H tasks run news.gate >/dev/null; sleep 0.5; done
check "everything is delivered" wait_for 60 settled
check "no loop: the group holds the two articles only" test "$(count)" = 2
check "no loop: each member has one copy of each" test \
	"$(got $ANN m1@members.test)$(got $BOB m1@members.test)$(got $ANN n1@news.test)$(got $BOB n1@news.test)" = 1111

# Killed pulls: 25 articles, news.gate killed after 0.1 s, 0.2 s, ...
# (so that some kill lands in the middle of a pull whatever the machine's
# speed) until a run ends by itself; every article reaches each member
# exactly once.
for i in $(seq 1 25); do nntp post $GROUP k$i "Batch $i" reader@elsewhere.test; done
kills=0
for round in $(seq 1 20); do
	setsid "$HERALD" --var "$V" tasks run news.gate >>"$T_DIR/killed.log" 2>&1 &
	pid=$!
	sleep "$((round / 10)).$((round % 10))"
	if kill -0 $pid 2>/dev/null; then
		kill -9 -- -$pid 2>/dev/null
		kills=$((kills + 1))
		wait $pid 2>/dev/null
	else
		wait $pid 2>/dev/null
		break
	fi
done
diag "$kills pulls killed; they gated up to article $(sed -n 's/^usenet_next=//p' "$V/lists/$L/counters") of 28"
H tasks run news.gate >/dev/null
all_there() { [ "$(cat "$(maildir $BOB)"/* | grep -c '^Message-ID: <k[0-9]*@news.test>')" -ge 25 ]; }
check "the batch arrives" wait_for 90 all_there
check "everything is delivered" wait_for 60 settled
dups=0 missing=0
for i in $(seq 1 25); do
	for m in $ANN $BOB; do
		c=$(got $m k$i@news.test)
		[ "$c" -gt 1 ] && dups=$((dups + 1))
		[ "$c" -lt 1 ] && missing=$((missing + 1))
	done
done
check "killed pulls: no copy twice" test $dups = 0
check "killed pulls: none missing" test $missing = 0
check "still no loop: the group holds 27 articles" test "$(count)" = 27
t_done
