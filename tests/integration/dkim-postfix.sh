#!/usr/bin/env bash
# DKIM signing end to end: keys made by `herald dkim keygen` (ed25519 and
# rsa-2048), published in a DNS server on loopback (dnsmasq), checked by
# `herald dkim check`, and every member's copy of a post, through herald's
# LMTP server, the delivery runner and a private Postfix into Maildirs
# (tests/postfix/instance.sh), verified by python3-dkim
# (tests/tools/dkimcheck.py): DKIM pass for the list's domain with the
# one-click headers covered and oversigned, for bulk and personalised
# copies, with one key and with two (a rotation); ARC sealing; and
# dmarc_unmunged_if_dkim_intact: a p=reject poster's post the list does not
# change keeps its From: and still verifies for the poster's domain.
. "$(dirname "$0")/../lib.sh"
INSTANCE=$HERALD_TOP/tests/postfix/instance.sh
DKIMCHECK=$HERALD_TOP/tests/tools/dkimcheck.py
DNSMASQ=${DNSMASQ:-/usr/sbin/dnsmasq}
EXTRA=()
PIDFILE=$T_DIR/dnsmasq.pid
PF=$T_DIR/postfix
MAIL=$T_DIR/mail
V=$T_DIR/var
SOCK=$V/run/lmtp.sock
LIST=demo@lists.test
MEMBERS="alice@members.test bob@members.test carol@members.test"
OWNER=owner@members.test
trap 'cp -r "$V/logs" /tmp/dkim-last-logs 2>/dev/null; cp "$PF/maillog" /tmp/dkim-last-maillog 2>/dev/null; "$INSTANCE" "$PF" stop >/dev/null 2>&1;
      "$HERALD" --var "$V" stop >/dev/null 2>&1;
      [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null; t_cleanup' EXIT
H() { "$HERALD" --var "$V" "$@"; }
not() { ! "$@"; }

for need in "$DNSMASQ" /usr/bin/python3; do
	[ -x "$need" ] || { skip "dkim-postfix: no $need"; t_done; }
done
/usr/bin/python3 -c 'import dkim, dns.resolver' 2>/dev/null ||
	{ skip "dkim-postfix: no python3-dkim"; t_done; }

chmod o+x "$T_DIR"
H init >/dev/null
chgrp postfix "$V" "$V/run" "$V/etc" && chmod g+s "$V/run"

# --- keys ---------------------------------------------------------------
check "dkim keygen makes an ed25519 key (selector herald)" \
	bash -c '"$1" --var "$2" dkim keygen lists.test --type ed25519 >"$3/ed.rec"' _ "$HERALD" "$V" "$T_DIR"
check "dkim keygen makes an rsa-2048 key (selector r1)" \
	bash -c '"$1" --var "$2" dkim keygen lists.test --selector r1 >"$3/rsa.rec" 2>/dev/null' _ "$HERALD" "$V" "$T_DIR"
check "the key files are 0600 in a 0700 directory" bash -c \
	'[ "$(stat -c %a "$1/etc/dkim/lists.test/herald.pem")" = 600 ] && [ "$(stat -c %a "$1/etc/dkim/lists.test/r1.pem")" = 600 ] && [ "$(stat -c %a "$1/etc/dkim/lists.test")" = 700 ]' _ "$V"
check "the records are TXT records for SELECTOR._domainkey.DOMAIN" bash -c \
	'grep -q "^herald._domainkey.lists.test. IN TXT \"v=DKIM1; k=ed25519; p=" "$1/ed.rec" && grep -q "^r1._domainkey.lists.test. IN TXT \"v=DKIM1; k=rsa; p=" "$1/rsa.rec"' _ "$T_DIR"
check "a second key for the same selector is refused" not H dkim keygen lists.test --type ed25519
H dkim keygen other.test --type ed25519 >/dev/null

# dnsmasq's --txt-record takes the strings comma-separated.
txt_arg() { sed 's/^\([^ ]*\)\. IN TXT "/\1,/; s/" "/,/g; s/"$//' "$1"; }
start_dnsmasq() {
	local user=() try
	[ "$(id -u)" = 0 ] && user=(-u root)
	for try in 1 2 3 4 5 6 7 8; do
		DNS_PORT=$((20000 + RANDOM % 40000))
		if "$DNSMASQ" --conf-file=/dev/null --port="$DNS_PORT" \
			--listen-address=127.0.0.1 --bind-interfaces \
			--no-resolv --no-hosts --no-negcache "${user[@]}" \
			--pid-file="$PIDFILE" --log-facility="$T_DIR/dnsmasq.log" \
			--auth-zone=test --auth-server=ns.test \
			--txt-record="$(txt_arg "$T_DIR/ed.rec")" \
			--txt-record="$(txt_arg "$T_DIR/rsa.rec")" \
			--txt-record=herald._domainkey.other.test,"v=DKIM1; k=ed25519; p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" \
			"${EXTRA[@]}" \
			2>"$T_DIR/dnsmasq.err"; then
			return 0
		fi
	done
	return 1
}
if ! start_dnsmasq; then
	not_ok "dnsmasq starts on 127.0.0.1 ($(head -1 "$T_DIR/dnsmasq.err"))"
	t_done
fi
ok "dnsmasq serves the keys on 127.0.0.1:$DNS_PORT"
H site set dkim.resolver "127.0.0.1:$DNS_PORT"
check "dkim check: the published ed25519 record matches" \
	bash -c '"$1" --var "$2" dkim check lists.test | grep -q "herald._domainkey.lists.test: published, matches the key"' _ "$HERALD" "$V"
check "dkim check: a published record of another key does not (exit 1)" not H dkim check other.test
check "dkim check: a selector not published is reported (exit 1)" not H dkim check nokey.test

# --- the private Postfix and herald ------------------------------------------
export PORT HERALD_TABLES=$V/etc/postfix HERALD_MAILDIRS=$MAIL
export HERALD_MAILBOXES="$MEMBERS $OWNER"
PORT=$(free_port)
H site set lmtp.listen "unix:$SOCK"
H site set lmtp.socket_group postfix
H site set mta.postfix_config "$PF/etc"
H site set mta.smtp_port "$PORT"
H site set master.restart_backoff_max 1
H lists create "$LIST" --owner "$OWNER" >/dev/null
for m in $MEMBERS; do echo "$m"; done | H members add "$LIST" >/dev/null
"$INSTANCE" "$PF" setup
H mta-config postfix --write >/dev/null
chgrp -R postfix "$HERALD_TABLES"
if ! command -v postfix >/dev/null || ! "$INSTANCE" "$PF" start >"$T_DIR/postfix-start" 2>&1; then
	sed 's/^/# /' "$T_DIR/postfix-start" 2>/dev/null
	skip "dkim-postfix: the private Postfix cannot start here"
	t_done
fi
ok "the private Postfix starts on 127.0.0.1:$PORT"
start_herald() { H start >/dev/null && wait_for 10 test -S "$SOCK"; }
restart_herald() { H stop >/dev/null && start_herald; }
check "herald's master starts" start_herald

post() {
	python3 - "$PORT" "$1" "$LIST" <<'PY'
import smtplib, sys
port, subject, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
msg = ("From: Alice <alice@members.test>\r\nTo: %s\r\nSubject: %s\r\n"
       "Message-ID: <%s@members.test>\r\n\r\nbody of %s\r\n"
       % (rcpt, subject, subject.replace(" ", "."), subject))
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.sendmail("alice@members.test", [rcpt], msg.encode())
s.quit()
PY
}
maildir() { echo "$MAIL/${1#*@}/${1%@*}/new"; }
# copy MEMBER SUBJECT: the member's copy of the post, its subject prefixed
# with $PREFIX.
PREFIX='\[Demo\] '
copy() { grep -l "^Subject: $PREFIX$2\$" "$(maildir "$1")"/* 2>/dev/null | head -1; }
all_have() {
	local m
	for m in $MEMBERS; do [ -n "$(copy "$m" "$1")" ] || return 1; done
}
every_copy() {
	local m f
	for m in $MEMBERS; do
		f=$(copy "$m" "$1")
		[ -n "$f" ] && "$2" "$m" "$f" || { diag "$m: $2 fails on ${f:-no copy}"; return 1; }
	done
}
# verify MEMBER FILE [COUNT]: every signature passes for d=lists.test,
# COUNT of them (default 1).
verify() {
	local out
	out=$(/usr/bin/python3 "$DKIMCHECK" --dns "127.0.0.1:$DNS_PORT" "$2") ||
		{ diag "$out"; return 1; }
	[ "$(grep -c ' dkim=pass d=lists.test ' <<<"$out")" -eq "${3:-1}" ] ||
		{ diag "$out"; return 1; }
}
verify_two() { verify "$1" "$2" 2; }
# one_click MEMBER FILE: h= names List-Unsubscribe and List-Unsubscribe-Post
# once more than the copy has them (oversigned).
one_click() {
	local h
	h=$(/usr/bin/python3 "$DKIMCHECK" --dns "127.0.0.1:$DNS_PORT" "$2")
	h=$(head -1 <<<"$h" | sed 's/.* h=//')
	for f in List-Unsubscribe List-Unsubscribe-Post From Subject List-Id; do
		n=$(grep -ci "^$f:" "$2")
		[ "$(tr ':' '\n' <<<"$h" | grep -cix "$f")" -eq $((n + 1)) ] ||
			{ diag "$f: $n in the copy, h=$h"; return 1; }
	done
}
tampered() {
	sed 's/^Subject: \[Demo\]/Subject: [Demo!]/' "$2" >"$T_DIR/tampered"
	! /usr/bin/python3 "$DKIMCHECK" --dns "127.0.0.1:$DNS_PORT" "$T_DIR/tampered" >/dev/null
}

# --- bulk, ed25519 ---------------------------------------------------------
post "first post"
check "the first post reaches every member" wait_for 30 all_have "first post"
check "each copy has a DKIM signature of lists.test that python3-dkim verifies" \
	every_copy "first post" verify
check "a copy changed after signing fails" every_copy "first post" tampered

# --- personalised, one-click, both keys (rotation) ------------------------------
H site set web.base_url https://lists.test/
H site set dkim.domains "lists.test=herald+r1"
H config set "$LIST" personalize 1 >/dev/null
H config set "$LIST" msg_footer '-- 
Sent to %(user_address)s' >/dev/null
check "herald restarts personalised, signing with herald and r1" restart_herald
check "dkim check: both selectors' records match, the RSA one in two TXT strings" \
	bash -c '[ "$("$1" --var "$2" dkim check lists.test | grep -c "published, matches the key")" -eq 2 ]' _ "$HERALD" "$V"
post "second post"
check "the second post reaches every member" wait_for 30 all_have "second post"
check "each personalised copy has two signatures (ed25519, rsa-sha256) that verify" \
	every_copy "second post" verify_two
check "the one-click headers, From, Subject and List-Id are covered and oversigned" \
	every_copy "second post" one_click
has_post() { grep -q "^List-Unsubscribe-Post: List-Unsubscribe=One-Click" "$2"; }
check "each personalised copy has List-Unsubscribe-Post" every_copy "second post" has_post

# --- notices: signed as they leave through delivery -----------------------------
# The owner is no member: the post is held and the owner told (both as
# poster and as owner), by mail that leaves through the out queue.
post_as_owner() {
	python3 - "$PORT" "$LIST" "$OWNER" <<'PY'
import smtplib, sys
port, rcpt, frm = int(sys.argv[1]), sys.argv[2], sys.argv[3]
msg = ("From: %s\r\nTo: %s\r\nSubject: from the owner\r\n"
       "Message-ID: <owner.post@members.test>\r\n\r\nheld\r\n" % (frm, rcpt))
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.sendmail(frm, [rcpt], msg.encode())
s.quit()
PY
}
owner_mail() { find "$(maildir "$OWNER")" -type f 2>/dev/null; }
check "a non-member's post is sent" post_as_owner
check "the owner gets notices" wait_for 30 bash -c '[ -n "$(find "$1" -type f 2>/dev/null)" ]' _ "$(maildir "$OWNER")"
notices_signed() {
	local f out
	sleep 2
	for f in $(owner_mail); do
		out=$(/usr/bin/python3 "$DKIMCHECK" --dns "127.0.0.1:$DNS_PORT" "$f") || { diag "$out"; return 1; }
		[ "$(grep -c ' dkim=pass d=lists.test ' <<<"$out")" -eq 2 ] || { diag "$out"; return 1; }
		! grep -q '^ARC-Seal:' "$f" || { diag "$f: a notice was ARC-sealed"; return 1; }
	done
}
check "every notice to the owner is DKIM-signed by lists.test (both keys), not ARC-sealed" notices_signed

# --- ARC: a post that arrives with a valid ARC set ------------------------------
# origin.test's key (rsa) seals the post as a forwarder before the list
# would; the list's copies then carry i=2 with cv=pass.
H dkim keygen origin.test --selector o1 >"$T_DIR/origin.rec" 2>/dev/null
kill "$(cat "$PIDFILE")"; sleep 0.5
start_dnsmasq_more() {
	EXTRA=(--txt-record="$(txt_arg "$T_DIR/origin.rec")")
	start_dnsmasq
}
check "dnsmasq restarts with origin.test's key" start_dnsmasq_more
H site set dkim.resolver "127.0.0.1:$DNS_PORT"
H site set dmarc.resolver "127.0.0.1:$DNS_PORT"
H site set auth.authserv_id mail.test
check "herald restarts (arc.enabled, auth.authserv_id mail.test)" restart_herald
post_arc() {
	printf 'From: Alice <alice@members.test>\r\nTo: %s\r\nSubject: %s\r\nDate: Sun, 6 Dec 2026 23:00:00 +0000\r\nMessage-ID: <arc.%s@members.test>\r\n\r\nbody of %s\r\n' \
		"$LIST" "$1" "$RANDOM" "$1" >"$T_DIR/arc-in.eml"
	printf 'o1._domainkey.origin.test\t%s\n' "$(sed 's/^[^"]*"//; s/" "//g; s/"$//' "$T_DIR/origin.rec")" >"$T_DIR/origin.dns"
	"$TOOLS/arctool" seal "$T_DIR/arc-in.eml" "$T_DIR/origin.dns" "$V/etc/dkim/origin.test/o1.pem" \
		origin.test o1 mx.origin.test "$(date +%s)" from:to:subject:date:message-id >"$T_DIR/arc-in.set" || return 1
	cat "$T_DIR/arc-in.set" "$T_DIR/arc-in.eml" >"$T_DIR/arc-post.eml"
	python3 - "$PORT" "$LIST" "$T_DIR/arc-post.eml" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.sendmail("alice@members.test", [sys.argv[2]], open(sys.argv[3], "rb").read())
s.quit()
PY
}
check "a post sealed by origin.test (ARC i=1) is sent" post_arc "arc post"
check "the ARC post reaches every member" wait_for 30 all_have "arc post"
arc_pass() {
	local out
	out=$(/usr/bin/python3 "$DKIMCHECK" --dns "127.0.0.1:$DNS_PORT" --arc "$2")
	grep -q ' arc=pass ' <<<"$out" && grep -q ' dkim=pass d=lists.test ' <<<"$out" ||
		{ diag "$out"; return 1; }
}
check "each copy's ARC chain is valid for python3-dkim (cv=pass) and its DKIM passes" \
	every_copy "arc post" arc_pass
arc_set2() {
	grep -q '^ARC-Seal: i=2; a=rsa-sha256; t=[0-9]*; cv=pass;' "$2" &&
	grep -q '^ARC-Authentication-Results: i=2; mail.test; dkim=.*arc=pass' "$2"
}
check "each copy's set is i=2, cv=pass, its results name mail.test and arc=pass" \
	every_copy "arc post" arc_set2

# --- hostile: hundreds of signatures and ARC fields ---------------------------
post_hostile() {
	python3 - "$PORT" "$LIST" <<'PY'
import smtplib, sys
junk = "A" * 2000
h = []
for i in range(1, 301):
    h.append("DKIM-Signature: v=1; a=rsa-sha256; d=members.test; s=s%d; l=99999999999999999999999; z=%s; h=from; bh=%s; b=%s" % (i, "x" * 3000, junk, junk))
    h.append("ARC-Seal: i=%d; a=rsa-sha256; cv=pass; d=members.test; s=x; b=%s" % (i, junk))
    h.append("ARC-Message-Signature: i=%d; a=rsa-sha256; ;;; =; h=from; bh=x; b=y" % i)
    h.append("ARC-Authentication-Results: i=%d; junk" % i)
msg = "\r\n".join(h) + ("\r\nFrom: Alice <alice@members.test>\r\nTo: %s\r\nSubject: hostile post\r\n"
                         "Message-ID: <hostile@members.test>\r\n\r\nbody\r\n" % sys.argv[2])
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.sendmail("alice@members.test", [sys.argv[2]], msg.encode())
s.quit()
PY
}
check "a post with 300 DKIM signatures and 300 broken ARC sets is sent" post_hostile
check "it still reaches every member" wait_for 60 all_have "hostile post"
hostile_signed() {
	local out
	out=$(/usr/bin/python3 "$DKIMCHECK" --dns "127.0.0.1:$DNS_PORT" "$2")
	[ "$(grep -c ' dkim=pass d=lists.test ' <<<"$out")" -eq 2 ] || { diag "$(grep -v ' d=members.test ' <<<"$out")"; return 1; }
	! grep -q '^ARC-Seal: i=301' "$2"
}
check "each copy has both lists.test signatures passing (and no ARC seal past the limit)" every_copy "hostile post" hostile_signed

# --- dmarc_unmunged_if_dkim_intact: a p=reject poster signed by their domain --
# members.test publishes p=reject and a key (m1) that signs alice's post
# (python3-dkim signs it).  The list munges From: for p=reject domains,
# except with dmarc_unmunged_if_dkim_intact when the list changes nothing
# the signature covers: no subject prefix, no footer.  Then each member's
# copy keeps From: alice and verifies for members.test; with the subject
# prefix back the signature would break, so the post is munged.
H dkim keygen members.test --selector m1 >"$T_DIR/members.rec" 2>/dev/null
kill "$(cat "$PIDFILE")"; sleep 0.5
start_dnsmasq_dmarc() {
	EXTRA=(--txt-record="$(txt_arg "$T_DIR/origin.rec")"
	       --txt-record="$(txt_arg "$T_DIR/members.rec")"
	       --txt-record="_dmarc.members.test,v=DMARC1; p=reject")
	start_dnsmasq
}
check "dnsmasq restarts with members.test's key and p=reject" start_dnsmasq_dmarc
H site set dkim.resolver "127.0.0.1:$DNS_PORT"
H site set dmarc.resolver "127.0.0.1:$DNS_PORT"
H config set "$LIST" dmarc_moderation_action 1 >/dev/null
H config set "$LIST" dmarc_unmunged_if_dkim_intact yes >/dev/null
H config set "$LIST" subject_prefix "" >/dev/null
H config set "$LIST" msg_footer "" >/dev/null
check "herald restarts (dmarc.resolver on the new port)" restart_herald
post_signed() {
	/usr/bin/python3 - "$PORT" "$LIST" "$1" "$V/etc/dkim/members.test/m1.pem" <<'PY'
import smtplib, sys, dkim
port, rcpt, subject, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], open(sys.argv[4], "rb").read()
msg = ("From: Alice <alice@members.test>\r\nTo: %s\r\nSubject: %s\r\n"
       "Date: Mon, 7 Dec 2026 01:00:00 +0000\r\n"
       "Message-ID: <%s@members.test>\r\n\r\nbody of %s\r\n"
       % (rcpt, subject, subject.replace(" ", "."), subject)).encode()
sig = dkim.sign(msg, b"m1", b"members.test", key,
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.sendmail("alice@members.test", [rcpt], sig + msg)
s.quit()
PY
}
PREFIX=
# intact MEMBER: the copy is From: alice, and both the poster's signature
# (members.test) and the list's (lists.test) pass for python3-dkim.
intact() {
	local f out
	f=$(copy "$1" "signed post")
	grep -q '^From: Alice <alice@members.test>$' "$f" || { diag "$f: $(grep '^From:' "$f")"; return 1; }
	out=$(/usr/bin/python3 "$DKIMCHECK" --dns "127.0.0.1:$DNS_PORT" "$f") || { diag "$out"; return 1; }
	grep -q ' dkim=pass d=members.test ' <<<"$out" && grep -q ' dkim=pass d=lists.test ' <<<"$out" ||
		{ diag "$out"; return 1; }
}
check "a post signed by members.test (p=reject) is sent" post_signed "signed post"
check "it reaches every member" wait_for 30 all_have "signed post"
for m in $MEMBERS; do
	check "$m's copy is not munged and verifies for members.test (python3-dkim)" intact "$m"
done
# The list is personalised without a user_* footer: delivery makes the
# first copy from the parsed post and splices each other's List-Unsubscribe.
own_link() {
	local m f
	for m in $MEMBERS; do
		f=$(copy "$m" "signed post")
		grep -q "m=${m%@*}%40${m#*@}&t=" "$f" || { diag "$f: $(grep -A1 '^List-Unsubscribe:' "$f")"; return 1; }
		[ "$(grep -c '%40members.test&t=' "$f")" -eq 1 ] || return 1
	done
}
check "each copy's List-Unsubscribe names its own member (copies spliced from the first)" own_link
check "delivery spliced the copies and did not fall back to parsing each" \
	bash -c 'grep -rq "demo@lists.test: 2 copies spliced from the first" "$1/logs" && ! grep -rq "copies made one by one" "$1/logs"' _ "$V"
check "the dmarc log says why it was not munged" \
	grep -rq "not munged: its DKIM signature of members.test survives the list" "$V/logs"
H config set "$LIST" subject_prefix "[Demo] " >/dev/null
PREFIX='\[Demo\] '
check "the same post with the subject prefix back is sent" post_signed "prefixed post"
check "it reaches every member" wait_for 30 all_have "prefixed post"
munged() {
	grep -q '^From: Alice via Demo <demo@lists.test>$' "$2" &&
		grep -q '^Reply-To: Alice <alice@members.test>$' "$2" &&
		! grep -q '^DKIM-Signature:.* d=members.test;' "$2" || { diag "$(grep -E '^(From|Reply-To|DKIM-Signature):' "$2")"; return 1; }
}

check "each copy is munged (the prefix breaks the signature)" every_copy "prefixed post" munged
check "the dmarc log says the list's changes break it" \
	grep -rq "munged: the list's changes break the aligned DKIM signature" "$V/logs"
H config set "$LIST" subject_prefix "" >/dev/null
PREFIX=
H config set "$LIST" msg_footer "-- the footer" >/dev/null
check "a post to the list with a footer is sent" post_signed "footer post"
check "it reaches every member" wait_for 30 all_have "footer post"
check "each copy is munged (the footer breaks the body hash)" every_copy "footer post" munged

check "Postfix deferred or bounced nothing" \
	bash -c '! grep -qE "status=(deferred|bounced)" "$1"' _ "$PF/maillog"
H stop >/dev/null
"$INSTANCE" "$PF" stop
t_done
