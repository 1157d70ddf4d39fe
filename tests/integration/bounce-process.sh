#!/usr/bin/env bash
# Bounce processing (src/lib/bounce/process.c, disabled.c): bounces go in
# through `herald mta bounces` or as delivery's bounce events, the bounces
# runner works them one pass at a time, days pass with libfaketime:
#   - scoring as Mailman 2.1: a permanent bounce 1.0, once a day; a
#     temporary one (a bounce event after the retry period) 0.5; stale
#     information reset; at bounce_score_threshold the member is disabled
#     (bybounce, shown by members list --nomail and members show), warned
#     at once, the owners told; later bounces of a disabled member do not
#     count;
#   - the daily task bounce.disabled warns every interval and removes after
#     the warnings, telling the owners; bounce reset enables again;
#   - a bounce for no member goes to the owners as unrecognized (or is
#     discarded when bounce_unrecognized_goes_to_list_owner is off); a
#     vacation reply and a delay warning are not scored;
#   - policy rejections are not scored and the owners are told once a day;
#     an abuse complaint disables or unsubscribes per
#     bounce_complaint_action;
#   - the outage guard: 30% of a list bouncing in one event disables nobody
#     and tells the owners once; bounces that come one by one are scored
#     until the guard trips, then taken back; one domain's outage is
#     guarded while the list's other bounces still count.
. "$(dirname "$0")/../lib.sh"
export HERALD_HOST=t NO_FAKE_STAT=1
if [ -z "$FAKELIB" ]; then
	not_ok "libfaketime is not installed (apt-get install faketime)"
	t_done
fi
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
H site set runner.bounces.handler bounces
L=demo@lists.test
H lists create $L --owner admin@example.org >/dev/null
printf '%s@example.net\n' alice bob carol dave erin frank | H members add $L >/dev/null
H config set $L bounce_score_threshold 3

# dsn ADDR [STATUS [DIAG]]: a DSN (RFC 3464) reporting ADDR failed.
dsn() {
	local status=${2:-5.1.1} diag=${3:-"550 5.1.1 <$1>: Recipient address rejected: User unknown"}
	cat <<EOF
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: demo-bounces@lists.test
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered to one or more recipients.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; $1
Action: failed
Status: $status
Diagnostic-Code: smtp; $diag

--B--
EOF
}
# event LIST WHY ADDR...: a bounce event as delivery writes it.
event() {
	local list=$1 why=$2; shift 2
	local args=() a
	{
		echo "Delivery failures ($why):"
		for a in "$@"; do echo "$a: 550 5.1.1 no such user"; done
	} >"$T_DIR/event"
	for a in "$@"; do args+=(--meta "member=$a"); done
	H queue inject bounces --list "$list" --meta kind=bounce-event "${args[@]}" <"$T_DIR/event" >/dev/null
}
bounce_in() { dsn "$@" | H mta bounces $L; }
run() { at "${1:-+0d}" "$HERALD" --var "$V" runner bounces --once 2>>"$T_DIR/runner.log"; }
score() { H bounce status "${2:-$L}" "$1" | cut -f2; }
status() { H bounce status "${2:-$L}" "$1" | cut -f5; }
# notices TO [SUBJECT-WORDS]: notices in the virgin queue to TO.
notices() {
	local n=0 f
	for f in "$V"/queue/virgin/*.msg; do
		[ -e "$f" ] || continue
		grep -qx "rcpt: $1" "$f" || continue
		[ -n "${2:-}" ] && ! grep -q "^Subject: .*$2" "$f" && continue
		n=$((n + 1))
	done
	echo $n
}

# --- scoring -------------------------------------------------------------------
bounce_in alice@example.net; run
check "a permanent bounce scores 1.0" test "$(score alice@example.net)" = 1.0
check "its reason and day are kept" bash -c '"$1" --var "$2" bounce status "$3" alice@example.net | grep -q "	$(date -u +%F)	mailbox-unknown	enabled	"' _ "$HERALD" "$V" $L
bounce_in alice@example.net; bounce_in alice@example.net; run
check "more bounces the same day do not count" test "$(score alice@example.net)" = 1.0
bounce_in alice@example.net; run +1d
check "the next day's counts: 2.0" test "$(score alice@example.net)" = 2.0
event $L "still deferred at the end of delivery.retry_period" alice@example.net; run +2d
check "a temporary failure (retries given up) weighs 0.5" test "$(score alice@example.net)" = 2.5
check "nothing was said yet" test "$(notices alice@example.net)" = 0
bounce_in alice@example.net; run +3d
check "at the threshold the member is disabled by bounce" test "$(status alice@example.net)" = bybounce
check "members list --nomail shows it" bash -c '"$1" --var "$2" members list "$3" --nomail | grep -qx alice@example.net' _ "$HERALD" "$V" $L
check "members show says bybounce, with the score" bash -c '"$1" --var "$2" members show "$3" alice@example.net | grep -q bybounce && "$1" --var "$2" members show "$3" alice@example.net | grep -q "^bounce score: 3.5 (last .*: mailbox-unknown)"' _ "$HERALD" "$V" $L
check "the member is warned at once" test "$(notices alice@example.net "confirm ")" = 1
check "the warning says how to re-enable" bash -c 'grep -rq "set authenticate PASSWORD" "$1"/queue/virgin && grep -rq "set delivery on" "$1"/queue/virgin' _ "$V"
check "a reply to it goes to a confirm address (Reply-To demo-confirm+TOKEN)" bash -c 'grep -l "^rcpt: alice@example.net" "$1"/queue/virgin/*.msg | xargs grep -qE "^Reply-To: demo-confirm\+[A-Za-z0-9_-]{43}@lists.test"' _ "$V"
check "whose token is a pending re-enable request" bash -c 'grep -l "reenable" "$1"/lists/demo@lists.test/pending/* >/dev/null' _ "$V"
check "the owners are told (bounce_notify_owner_on_disable)" test "$(notices admin@example.org "alice@example.net disabled")" = 1
bounce_in alice@example.net; run +4d
check "a disabled member's bounces no longer count" test "$(score alice@example.net)" = 3.5
check "warnings left: 2 more" test "$(H bounce status $L alice@example.net | cut -f6)" = 2

bounce_in bob@example.net; run
bounce_in bob@example.net; run +9d
check "stale information is reset (bounce_info_stale_after 7): 1.0 again" test "$(score bob@example.net)" = 1.0

# --- the daily task -------------------------------------------------------------
at +5d "$HERALD" --var "$V" tasks run bounce.disabled >/dev/null
check "no warning before the interval (7 days)" test "$(notices alice@example.net "confirm ")" = 1
at +11d "$HERALD" --var "$V" tasks run bounce.disabled >/dev/null
check "a second warning after 7 days" test "$(notices alice@example.net "confirm ")" = 2
at +12d "$HERALD" --var "$V" tasks run bounce.disabled >/dev/null
check "not twice in one interval" test "$(notices alice@example.net "confirm ")" = 2
at +18d "$HERALD" --var "$V" tasks run bounce.disabled >/dev/null
check "the third and last warning" test "$(notices alice@example.net "confirm ")" = 3
check "still a member meanwhile" bash -c '"$1" --var "$2" members list "$3" | grep -qx alice@example.net' _ "$HERALD" "$V" $L
at +25d "$HERALD" --var "$V" tasks run bounce.disabled >/dev/null
check "after the warnings the member is removed" bash -c '! "$1" --var "$2" members list "$3" | grep -qx alice@example.net' _ "$HERALD" "$V" $L
check "the owners are told of the removal" test "$(notices admin@example.org "alice@example.net removed")" = 1
check "the task's summary counts the removal" bash -c '"$1" --var "$2" tasks | grep -A3 bounce.disabled | grep -q "1 member removed"' _ "$HERALD" "$V"

H config set $L bounce_you_are_disabled_warnings 0
H config set $L bounce_score_threshold 1
bounce_in erin@example.net; run +30d
check "with no warnings (0), a disabled member gets none" test "$(status erin@example.net)/$(notices erin@example.net "confirm ")" = bybounce/0
at +30d "$HERALD" --var "$V" tasks run bounce.disabled >/dev/null
check "and the next run of bounce.disabled removes it" bash -c '! "$1" --var "$2" members list "$3" | grep -qx erin@example.net' _ "$HERALD" "$V" $L
bounce_in bob@example.net; run +31d
check "(bob disabled with no warning too)" test "$(status bob@example.net)/$(notices bob@example.net "confirm ")" = bybounce/0
H config set $L bounce_you_are_disabled_warnings 3
at +31d "$HERALD" --var "$V" tasks run bounce.disabled >/dev/null
check "a member disabled while the list had no warnings gets them once it has: the first at the next run" test "$(notices bob@example.net "confirm ")/$(H bounce status $L bob@example.net | cut -f5,6)" = "1/bybounce	2"
printf 'erin@example.net\n' | H members add $L >/dev/null
H bounce reset $L bob@example.net

# --- re-enabling: a reply to the warning, set delivery on, bounce reset ----------
H site set runner.commands.handler commands
H config set $L bounce_score_threshold 1
bounce_in carol@example.net; run
check "carol disabled at threshold 1" test "$(status carol@example.net)" = bybounce
reply_to=$(grep -l "^rcpt: carol@example.net" "$V"/queue/virgin/*.msg | xargs grep -h "^Reply-To: " | head -1)
reply_to=${reply_to#Reply-To: }
printf 'From: carol@example.net\nTo: %s\nSubject: Re: confirm x\n\n> quoted warning\n' "$reply_to" |
	H mta auto --sender carol@example.net --recipient "$reply_to"
H runner commands --once 2>>"$T_DIR/runner.log"
check "a reply to the warning re-enables, and the score is forgotten" test "$(H bounce status $L carol@example.net | cut -f2,5)" = "0.0	enabled"
H mta auto --sender carol@example.net --recipient "$reply_to" <<<"$(printf 'From: carol@example.net\nSubject: Re: confirm x\n\nagain\n')"
H runner commands --once 2>>"$T_DIR/runner.log"
check "the same reply again does nothing (the token is used)" grep -q "No request waits for this code" "$V"/queue/virgin/*.msg
bounce_in carol@example.net; run +1d
check "(carol disabled again the next day)" test "$(status carol@example.net)" = bybounce
H members set $L carol@example.net password sesame
printf 'From: carol@example.net\nSubject: commands\n\nset authenticate sesame\nset delivery on\n' |
	H mta auto --sender carol@example.net --recipient demo-request@lists.test
H runner commands --once 2>>"$T_DIR/runner.log"
check "set delivery on to LIST-request re-enables too, and forgets the score" test "$(H bounce status $L carol@example.net | cut -f2,5)" = "0.0	enabled"
bounce_in carol@example.net; run +2d
check "(carol disabled a third time)" test "$(status carol@example.net)" = bybounce
check "bounce reset enables" bash -c '"$1" --var "$2" bounce reset "$3" carol@example.net && test "$("$1" --var "$2" bounce status "$3" carol@example.net | cut -f2,5)" = "0.0	enabled"' _ "$HERALD" "$V" $L
check "bounce reset of a stranger fails" bash -c '! "$1" --var "$2" bounce reset "$3" nobody@example.net 2>/dev/null' _ "$HERALD" "$V" $L

# --- unrecognized, not bounces -------------------------------------------------
before=$(notices admin@example.org "Unrecognized bounce")
bounce_in stranger@example.com; run
check "a bounce for no member goes to the owners" test "$(notices admin@example.org "Unrecognized bounce")" = $((before + 1))
check "with the bounce attached" bash -c 'grep -l "Subject: Unrecognized bounce" "$1"/queue/virgin/*.msg | xargs grep -q "stranger@example.com"' _ "$V"
H config set $L bounce_unrecognized_goes_to_list_owner no
bounce_in stranger@example.com; run
check "or is discarded, with a log line" bash -c 'test "$(grep -c "unrecognized bounce.*discarded" "$1")" = 1' _ "$T_DIR/runner.log"
check "(no second notice)" test "$(notices admin@example.org "Unrecognized bounce")" = $((before + 1))
cat >"$T_DIR/vacation" <<EOF
From: dave@example.net
To: demo-bounces@lists.test
Subject: Out of office: away until Monday
Auto-Submitted: auto-replied

I am away until Monday.
EOF
H mta bounces $L <"$T_DIR/vacation"; run
check "a vacation reply is not scored" test "$(score dave@example.net)" = 0.0
dsn dave@example.net 4.2.2 "452 4.2.2 mailbox full" | sed 's/Action: failed/Action: delayed/' | H mta bounces $L; run
check "nor a delay warning" test "$(score dave@example.net)" = 0.0

# --- policy rejections, complaints ------------------------------------------------
bounce_in erin@example.net 5.7.1 "550 5.7.1 Unauthenticated email from lists.test is not accepted due to domain's DMARC policy"
bounce_in frank@example.net 5.7.1 "554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org"
run
check "policy rejections are not scored" test "$(score erin@example.net)$(score frank@example.net)" = 0.00.0
check "nor disabled" test "$(status erin@example.net)" = enabled
check "their reason is kept" test "$(H bounce status $L erin@example.net | cut -f4)" = policy
check "the owners are told, with the reasons" bash -c 'f=$(grep -l "refused for policy reasons" "$1"/queue/virgin/*.msg) && grep -q DMARC $f' _ "$V"
check "frank's reason is kept for bounce status" test "$(H bounce status $L frank@example.net | cut -f4)" = policy
bounce_in erin@example.net 5.7.1 "550 5.7.1 DMARC policy"; run
check "once a day" test "$(notices admin@example.org "policy reasons")" = 1
arf() {
	cat <<EOF
From: feedback@isp.example
To: demo-bounces@lists.test
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: isp-fbl/1.0
Version: 1
Original-Rcpt-To: <$1>

--F
Content-Type: message/rfc822

From: someone@lists.test
To: demo@lists.test
Subject: a post

Hello.
--F--
EOF
}
arf dave@example.net | H mta bounces $L; run
check "an abuse complaint disables the member (bounce_complaint_action 0)" test "$(status dave@example.net)" = byowner
check "the owners hear of it" test "$(notices admin@example.org "Abuse complaint")" = 1
H config set $L bounce_complaint_action 1
arf frank@example.net | H mta bounces $L; run
check "or unsubscribes (1)" bash -c '! "$1" --var "$2" members list "$3" | grep -qx frank@example.net' _ "$HERALD" "$V" $L

# --- VERP probes ------------------------------------------------------------------
P=probe@lists.test
H lists create $P --owner pat@example.org >/dev/null
printf '%s@example.net\n' pia pol | H members add $P >/dev/null
H config set $P bounce_score_threshold 1
H config set $P bounce_verp_probes yes
dsn pia@example.net | H mta bounces $P; run
check "with bounce_verp_probes, a non-VERP bounce at the threshold sends a probe" test "$(notices pia@example.net "probe message")" = 1
check "and does not disable" test "$(status pia@example.net $P)" = enabled
probe=$(grep -l "probe message" "$V"/queue/virgin/*.msg | xargs grep -h "^sender: ")
probe=${probe#sender: }
check "the probe comes from a VERP probe address ($probe)" bash -c '[[ $1 =~ ^probe-bounces\+probe-[A-Za-z0-9_-]{43}-pia=example\.net@lists\.test$ ]]' _ "$probe"
dsn pia@example.net | H queue inject bounces --list $P --meta kind=bounces --meta "recipient=$probe" >/dev/null; run +1d
check "the probe's bounce disables the member" test "$(status pia@example.net $P)" = bybounce
forged=$(echo "$probe" | sed -E 's/probe-[A-Za-z0-9_-]{43}-pia/probe-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-pol/')
dsn pol@example.net | H queue inject bounces --list $P --meta kind=bounces --meta "recipient=$forged" >/dev/null; run
check "a forged probe token is no probe: logged" grep -q "token herald did not make" "$T_DIR/runner.log"
check "read as a plain VERP bounce, which is certain: scored and disabled without a probe" test "$(status pol@example.net $P)/$(notices pol@example.net "probe message")" = bybounce/0

# --- the outage guard ---------------------------------------------------------------
B=big@lists.test
H lists create $B --owner boss@example.org >/dev/null
for i in $(seq -w 1 40); do echo "m$i@example.com"; done | H members add $B >/dev/null
H config set $B bounce_score_threshold 1
bad=(); for i in $(seq -w 1 12); do bad+=("m$i@example.com"); done
event $B "refused by the MTA" "${bad[@]}"; run
check "30% of the list bouncing in one event: nobody is disabled" test -z "$(H members list $B --nomail)"
check "nobody is scored" test -z "$(H bounce status $B | awk '$2 != "0.0"')"
check "the owners are told once, with the counts" bash -c 'f=$(grep -l "look like an outage" "$1"/queue/virgin/*.msg) && test $(echo "$f" | wc -l) = 1 && grep -q "12 of 40" $f && grep -q "no such user" $f' _ "$V"
event $B "refused by the MTA" m20@example.com m21@example.com; run
check "later bounces that day are guarded too" test -z "$(H members list $B --nomail)"
check "and the owners are not told again" test "$(notices boss@example.org "outage")" = 1

T=trickle@lists.test
H lists create $T --owner tom@example.org >/dev/null
for i in $(seq -w 1 40); do echo "t$i@example.com"; done | H members add $T >/dev/null
H config set $T bounce_score_threshold 1
for i in 01 02 03 04 05 06 07 08 09; do dsn "t$i@example.com" | H mta bounces $T; run; done
check "bounces one by one are scored until the guard trips (9 < bounce_outage_minimum)" test "$(H members list $T --nomail | wc -l)" = 9
dsn t10@example.com | H mta bounces $T; run
check "the tenth trips it: every one of today's is taken back" test -z "$(H members list $T --nomail)"
check "their scores too" test -z "$(H bounce status $T | awk '$2 != "0.0"')"
dsn t11@example.com | H mta bounces $T; run +1d
check "the next day, one bounce is scored again" test "$(H members list $T --nomail)" = t11@example.com

D=domains@lists.test
H lists create $D --owner dan@example.org >/dev/null
{ for i in $(seq 1 180); do echo "a$i@a.example"; done; for i in $(seq 1 20); do echo "b$i@b.example"; done; } | H members add $D >/dev/null
H config set $D bounce_score_threshold 1
bad=(); for i in $(seq 1 12); do bad+=("b$i@b.example"); done
event $D "refused by the MTA" "${bad[@]}" a1@a.example; run
check "one domain's outage (12 of its 20) is guarded" test "$(H members list $D --nomail)" = a1@a.example
check "the owners are told it was b.example" bash -c 'grep -l "look like an outage" "$1"/queue/virgin/*.msg | xargs grep -l "b.example" | xargs grep -q "Scope: b.example"' _ "$V"

check "the bounces queue is empty, nothing went to bad/" bash -c 'test -z "$(ls "$1"/queue/bounces "$1"/queue/bad 2>/dev/null | grep msg)"' _ "$V"
t_done
