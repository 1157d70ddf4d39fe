#!/usr/bin/env bash
# Bounces of sibling lists' members (Mailman 2.1's registerBounce): list A
# includes list B's members (regular_include_lists), so a bounce to A for
# a member of B who is no member of A is scored on B, not dropped and not
# told to A's owners as unrecognized; a member of both is scored on A
# only; an address of neither stays unrecognized on A, and B's owners
# hear nothing of it.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
H site set runner.bounces.handler bounces
A=alpha@lists.test
B=beta@lists.test
H lists create $A --owner owner-a@example.org >/dev/null
H lists create $B --owner owner-b@example.org >/dev/null
printf '%s\n' amem@example.net both@example.net | H members add $A >/dev/null
printf '%s\n' bmem@example.net both@example.net | H members add $B >/dev/null
H config set $A regular_include_lists $B >/dev/null

dsn() {	# dsn ADDR: a DSN to alpha-bounces reporting ADDR failed
	cat <<EOF
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: alpha-bounces@lists.test
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; $1
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <$1>: User unknown

--B--
EOF
}
run() { H runner bounces --once 2>>"$T_DIR/runner.log"; }
score() { H bounce status "$2" "$1" 2>/dev/null | cut -f2; }
# unrecognized TO: "Unrecognized bounce" notices in the virgin queue to TO.
unrecognized() { grep -l "^Subject: Unrecognized bounce" "$V"/queue/virgin/*.msg 2>/dev/null | xargs -r grep -lx "rcpt: $1" | wc -l; }

dsn bmem@example.net | H mta bounces $A; run
check "a bounce of B's member, sent to A, is scored on B" test "$(score bmem@example.net $B)" = 1.0
check "it is logged as credited to B" grep -rq "the bounce of bmem@example.net, a member of included list $B, credited there" "$V/logs"
check "A's owners are not told of an unrecognized bounce" test "$(unrecognized owner-a@example.org)" = 0
check "bmem did not become A's member" bash -c "! '$HERALD' --var '$V' members list $A | grep -qx bmem@example.net"

dsn both@example.net | H mta bounces $A; run
check "a member of both lists is scored on A" test "$(score both@example.net $A)" = 1.0
check "and not on B" test "$(score both@example.net $B)" != 1.0

dsn stranger@example.net | H mta bounces $A; run
check "an address of neither list is unrecognized on A" test "$(unrecognized owner-a@example.org)" = 1
check "B's owners hear nothing of it" test "$(unrecognized owner-b@example.org)" = 0
t_done
