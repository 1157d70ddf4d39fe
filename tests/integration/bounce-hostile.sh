#!/usr/bin/env bash
# Hostile input through the bounces runner, under a memory cap: nothing
# crashes, every entry is accounted for (issue 11, "How it must be
# proven").
#
# The list has about 10,600 members: the expected recipients of the
# sisimai corpus, 5,000 at big.example and 5,000 over fifty other domains;
# bounce_score_threshold 1, so that a corpus bounce naming a member
# disables it at once (warnings, owners' notices), and the outage guard
# trips when a monster names thousands of members.
#   1. Every message of the MIME robustness corpora (tests/data/mime,
#      tests/data/notmuch) and of the sisimai corpus (tests/data/sisimai:
#      the real bounces with their CRLF and CR copies, the mbox files, the
#      not-bounces and the error cases) goes into the bounces queue as an
#      MTA would store a DSN for LIST-bounces, and one `herald runner
#      bounces --once` works them all.  Then the corpus's 25 feedback
#      reports again with bounce_complaint_action 1: the complainers are
#      unsubscribed (this aborted the runner, a double free, before the
#      fix in process.c).
#   2. Generated monsters, each alone through its own `runner --once`, with
#      what each must come to: multiparts 10,000 deep and a DSN inside
#      message/rfc822 1,000 deep (deeper than detection reads: no bounce,
#      forwarded to the owners as unrecognized), a DSN of
#      10,000 recipients (5,000 of them members: counted, and the outage
#      guard holds them), a 20 MB DSN (a 20 MB returned message) and a
#      20 MB line, 100,000 header lines, binary junk, no header, an empty
#      message, a bounce event of 10,000 member lines and one with none, a
#      binary event body, a DSN for no list and one for a list that does
#      not exist, and a queue file cut short (as a crashed writer of an
#      older herald could leave).
# For both: the runner exits 0 (the sanitizer build reports nothing;
# tests/run runs every build of HERALD_BUILDS); the bounces queue is empty
# afterwards, with no .bak or .tmp anywhere; and the entries injected equal
# the entries processed (one outcome line each in the bounce log: "<format>
# bounce, N failures: ...", "..., not scored (...)" or "a bounce for ...
# discarded") plus those set aside in bad/ (one "moved to bad/: <reason>"
# line each in the queue log) plus those shunted (none expected).
#
# The memory cap is `ulimit -v` (1 GiB) for the normal build; the sanitizer
# build cannot start under one (ASan reserves terabytes of address space),
# so it runs with ASan's hard_rss_limit_mb instead.
. "$(dirname "$0")/../lib.sh"
DATA=$HERALD_TOP/tests/data
VMEM_KB=1048576		# ulimit -v: 1 GiB
SAN_RSS_MB=2048
TIME_LIMIT=600		# seconds for one runner pass
export HERALD_HOST=h

if ! command -v python3 >/dev/null; then
	not_ok "python3 is needed to generate the hostile messages"
	t_done
fi
san=0
grep -qa __asan_init "$HERALD" && san=1

V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=hostile@lists.test
H site set runner.bounces.handler bounces
H lists create $L --owner owner@lists.test >/dev/null
H config set $L bounce_score_threshold 1 >/dev/null
{
	awk -F'\t' 'NR > 1 && $9 ~ /@/ { print $9 }' "$DATA/sisimai/expected.tsv"
	python3 -c "
for i in range(5000): print('u%d@big.example' % i)
for i in range(5000): print('m%d@d%d.example' % (i, i % 50))"
} | sort -u >"$T_DIR/members"
H members add $L <"$T_DIR/members" >/dev/null 2>"$T_DIR/members.err"
members=$(H members list $L | wc -l)
check "the list has its members ($members)" test "$members" -gt 10000

# --- accounting ---------------------------------------------------------------------
# One outcome line per entry processed (bounce/process.c, bounce_process).
OUTCOME=' bounce info: (list [^ ]*: [a-z?-]+ bounce, [0-9]+ failures?: |list [^ ]*: .*, not scored \(|a bounce for .* discarded: )'
outcomes() { cat "$V"/logs/h/bounce 2>/dev/null | grep -cE "$OUTCOME"; }
bad_lines() { cat "$V"/logs/h/queue 2>/dev/null | grep -c 'bounces/.* moved to bad/: '; }
files() { find "$V/queue/$1" -name '*.msg' 2>/dev/null | wc -l; }
leftovers() { find "$V/queue" -name '*.bak' -o -name '*.tmp' | wc -l; }

# run NAME: one `herald runner bounces --once` under the caps, timed by GNU
# time; sets rc and rss_kb (its peak RSS); its output is kept in
# $T_DIR/NAME.log.
run() {
	local cap=(env)
	if [ $san = 1 ]; then
		cap=(env ASAN_OPTIONS="$ASAN_OPTIONS:hard_rss_limit_mb=$SAN_RSS_MB")
	else
		cap=(prlimit --as=$((VMEM_KB * 1024)))
	fi
	/usr/bin/time -f %M -o "$T_DIR/$1.rss" "${cap[@]}" timeout -k 10 $TIME_LIMIT \
		"$HERALD" --var "$V" runner bounces --once >"$T_DIR/$1.log" 2>&1
	rc=$?
	rss_kb=$(tail -1 "$T_DIR/$1.rss" 2>/dev/null || echo 0)
}

# inject FILE [OPTIONS...]: FILE into the bounces queue as the MTA stores
# a message for LIST-bounces (also what `herald mta bounces` would refuse),
# unless OPTIONS give another kind (a bounce event: kind=bounce-event).
inject() {
	local f=$1; shift
	case " $* " in
	*" --meta kind="*) H queue inject bounces "$@" <"$f" >/dev/null ;;
	*) H queue inject bounces --meta kind=bounces --meta sender= \
		--meta recipient=hostile-bounces@lists.test "$@" <"$f" >/dev/null ;;
	esac
}

# --- 1. the corpora ----------------------------------------------------------------
n=0 failed=0
while IFS= read -r f; do
	n=$((n + 1))
	inject "$f" --list $L --meta hostile-case="${f#$DATA/}" ||
		{ failed=$((failed + 1)); diag "not injected: ${f#$DATA/}"; }
done < <(find "$DATA/mime" "$DATA/notmuch" "$DATA/sisimai/maildir" "$DATA/sisimai/mailbox" \
	-type f ! -name 'README*' ! -name LICENSE ! -name COPYING | sort)
check "all $n corpus messages are in the bounces queue" \
	test $failed = 0 -a "$(files bounces)" -eq $n
t0=$(date +%s%N)
run corpora
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "the runner took $ms ms for $n messages; peak RSS $rss_kb KB"
check "the runner exits 0 under the caps (exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/# /' "$T_DIR/corpora.log" | tail -20
p=$(outcomes) b=$(files bad) bl=$(bad_lines) s=$(files shunt)
diag "corpora: $p processed, $b in bad/, $s shunted; $(grep -cE 'bounce info: list .*: unrecognized' "$V/logs/h/bounce") unrecognized, $(grep -c ' disabled, bounce score ' "$V/logs/h/bounce") disabled, $(grep -c 'outage guard' "$V/logs/h/bounce") outage notices"
check "the bounces queue is empty, no .bak or .tmp anywhere" \
	test "$(files bounces)/$(leftovers)" = 0/0
check "each entry in bad/ has its reason logged ($b files, $bl lines)" test "$b" -eq "$bl"
for f in "$V"/queue/bad/*.msg; do
	[ -f "$f" ] && diag "in bad/: $(awk '/^$/ { exit } /^hostile-case: / { print substr($0, 15) }' "$f")"
done
check "every entry is accounted for: $n = $p processed + $b bad + $s shunted" \
	test $((p + b + s)) -eq $n
check "nothing was shunted" test "$s" -eq 0
check "real bounces were scored: members disabled, with warnings" \
	test "$(grep -c ' disabled, bounce score ' "$V/logs/h/bounce")" -gt 100

# --- 1b. the corpus's complaints, bounce_complaint_action unsubscribe ------------
# The 25 feedback reports (RFC 5965 ARF, Amazon SES, ...) again, now that a
# complaint unsubscribes: the complainers go, the runner lives (it freed
# the removed member's record twice before the fix in process.c).
H config set $L bounce_complaint_action 1 >/dev/null
awk -F'\t' 'NR > 1 && $6 == "feedback" { print $1 }' "$DATA/sisimai/expected.tsv" >"$T_DIR/arf"
while read -r f; do inject "$DATA/sisimai/maildir/bsd/$f" --list $L; done <"$T_DIR/arf"
p0=$(outcomes)
run complaints
check "the runner exits 0 on the corpus's $(wc -l <"$T_DIR/arf") complaints (exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/# /' "$T_DIR/complaints.log" | tail -20
check "each is processed once, the queue is empty" \
	test $(( $(outcomes) - p0 )) -eq "$(wc -l <"$T_DIR/arf")" -a "$(files bounces)/$(leftovers)" = 0/0
grep -o 'abuse complaint about [^ ]*: unsubscribed' "$V/logs/h/bounce" | cut -d' ' -f4 | tr -d : >"$T_DIR/gone"
check "complainers were unsubscribed ($(wc -l <"$T_DIR/gone")), and are no members now" \
	test -s "$T_DIR/gone" -a -z "$(H members list $L | grep -Fxif "$T_DIR/gone")"

# --- 2. the monsters -----------------------------------------------------------------
G=$T_DIR/generated
mkdir -p "$G"
python3 - "$G" <<'EOF'
import os, random, sys
rng = random.Random(20261206)

def save(name, *chunks):
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        for c in chunks:
            f.write(c)

def header(subject, ctype=None):
    h = (b"From: Mail Delivery System <MAILER-DAEMON@relay.example.net>\n"
         b"To: hostile-bounces@lists.test\nSubject: " + subject + b"\n")
    if ctype is not None:
        h += b"MIME-Version: 1.0\nContent-Type: " + ctype + b"\n"
    return h

def multipart(boundary, parts):
    """The body of a multipart: each part (its headers and body) between
    boundary lines."""
    return b"".join(b"\n--" + boundary + b"\n" + p for p in parts) + \
        b"\n--" + boundary + b"--\n"

def status_part(rcpts):
    records = [b"Final-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\n"
               b"Diagnostic-Code: smtp; 550 5.1.1 <%s>: no such mailbox\n" % (r, r)
               for r in rcpts]
    return (b"Content-Type: message/delivery-status\n\n"
            b"Reporting-MTA: dns; relay.example.net\n\n" + b"\n".join(records))

def dsn(rcpts, returned=None):
    """A whole RFC 3464 report: the header, a notice, the status records
    and, when given, the returned message."""
    parts = [b"Content-Type: text/plain\n\nYour message was not delivered.\n",
             status_part(rcpts)]
    if returned is not None:
        parts.append(b"Content-Type: message/rfc822\n\n" + returned)
    return header(b"Delivery Status Notification (Failure)",
                  b'multipart/report; report-type=delivery-status; boundary="dsn"') + \
        multipart(b"dsn", parts)

# Multiparts 10,000 deep, a DSN for a member in the innermost.
depth = 10000
inner = dsn([b"m1@d1.example"])
opening = b"".join(b'Content-Type: multipart/mixed; boundary="n%d"\n\n--n%d\n' % (i, i)
                   for i in range(depth))
closing = b"".join(b"\n--n%d--\n" % i for i in reversed(range(depth)))
save("nested-multipart-10000", header(b"nested") + b"MIME-Version: 1.0\n",
     opening, inner, closing)
# A report whose returned message is a report whose returned message
# is ... 1,000 deep, the DSN for a member innermost.
m = dsn([b"m2@d2.example"])
for i in range(1000):
    m = header(b"returned %d" % i, b'multipart/report; boundary="r%d"' % i) + multipart(
        b"r%d" % i, [b"Content-Type: text/plain\n\nfailed\n",
                     b"Content-Type: message/rfc822\n\n" + m])
save("nested-dsn-1000", m)
# 10,000 recipients, u0 to u9999: half of them (below u5000) members.
save("dsn-10000-recipients", dsn([b"u%d@big.example" % i for i in range(10000)]))
# 20 MB: a DSN returning a post with a 20 MB base64 attachment; a text
# notice of one 20 MB line.
lines = [b"%076x\n" % rng.getrandbits(304) for _ in range(20_000_000 // 77)]
post = (b"From: m3@d3.example\nTo: hostile@lists.test\nSubject: big\n"
        b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="att"\n' +
        multipart(b"att", [b"Content-Type: text/plain\n\nhello\n",
                           b"Content-Type: application/octet-stream\n"
                           b"Content-Transfer-Encoding: base64\n\n" + b"".join(lines)]))
save("dsn-20mb", dsn([b"m3@d3.example"], post))
save("text-20mb-line", header(b"failure notice"),
     b"\n<m4@d4.example>: host x said: 550 ", b"no such user " * 1_600_000, b"\n")
# 100,000 header lines before a notice.
save("headers-100000", header(b"failure notice"),
     b"".join(b"X-Filler-%d: %s\n" % (i, b"f" * 60) for i in range(100000)),
     b"\n<m5@d5.example>: 550 5.1.1 no such user\n")
# Binary junk, no header, nothing at all.
save("binary-junk", rng.getrandbits(8_000_000).to_bytes(1_000_000, "little"))
save("no-header", b"\n\nfailed <m6@d6.example>: 550 no such user\n")
save("empty")
# Bodies of bounce events: 10,000 recipients' lines; binary.
save("event-10000-body", b"Delivery failures (refused):\n", b"".join(
    b"u%d@big.example: 550 5.1.1 no such user\n" % i for i in range(10000)))
save("event-binary-body", rng.getrandbits(800_000).to_bytes(100_000, "little"))
# A DSN in good order, for the lists that do not exist.
save("dsn-one", dsn([b"m7@d7.example"]))
EOF
meta_members() { python3 -c 'import sys
for i in range(10000): sys.stdout.write(" --meta member=u%d@big.example" % i)'; }

# monster NAME EXPECT FILE [META...]: FILE alone into the queue and through
# one runner: the runner exits 0, the queue is empty, and the entry has
# exactly one outcome: EXPECT "bad" (in bad/ with a reason), "either" (bad/
# or processed), or an extended regular expression that its one outcome
# line matches.
monster() {
	local name=$1 expect=$2 f=$3 p0 b0 p1 b1 t0 ms
	shift 3
	p0=$(outcomes) b0=$(files bad)
	if [ "$f" != - ]; then inject "$f" "$@" || { not_ok "$name: not injected"; return; }; fi
	t0=$(date +%s%N)
	run "$name"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	p1=$(outcomes) b1=$(files bad)
	diag "$name: exit $rc, $ms ms, peak RSS $rss_kb KB; $((p1 - p0)) processed, $((b1 - b0)) to bad/"
	if [ "$rc" != 0 ]; then
		not_ok "$name: the runner exits 0 (exit $rc)"
		sed 's/^/# /' "$T_DIR/$name.log" | tail -10
		return
	fi
	if [ "$(files bounces)/$(leftovers)" != 0/0 ]; then
		not_ok "$name: the queue is empty, no .bak or .tmp"
		return
	fi
	if [ "$expect" = either ]; then
		check "$name: processed or set aside, once" test $((p1 - p0 + b1 - b0)) -eq 1 -a "$(bad_lines)" -eq "$b1"
	elif [ "$expect" = bad ]; then
		check "$name: set aside in bad/ with its reason" \
			test $((p1 - p0))/$((b1 - b0)) = 0/1 -a "$(bad_lines)" -eq "$b1"
		grep 'moved to bad/' "$V/logs/h/queue" | tail -1 | sed 's/^.*: /# reason: /'
	else
		check "$name: processed once: $expect" \
			bash -c '[ $1 = 1/0 ] && grep -E "$2" "$3" | tail -1 | grep -qE "$4"' _ \
			$((p1 - p0))/$((b1 - b0)) "$OUTCOME" "$V/logs/h/bounce" "$expect"
	fi
}
nm=0
M() { nm=$((nm + 1)); monster "$@"; }
# Detection reads MIME to 12 levels and a report inside a report to 3
# (docs/bounces.md, "Hostile input"): deeper, these are no bounce it can
# read, and go to the owners as unrecognized.
M nested-multipart-10000 'no failure reported, not scored' "$G/nested-multipart-10000" --list $L
M nested-dsn-1000 'no failure reported, not scored' "$G/nested-dsn-1000" --list $L
M dsn-10000-recipients 'dsn bounce, 10000 failures: 0 scored, 0 disabled, 5000 not members, 0 ignored, 5000 guarded' \
	"$G/dsn-10000-recipients" --list $L
check "the outage guard told the owners" grep -q 'outage guard: ' "$V/logs/h/bounce"
M dsn-20mb 'dsn bounce, 1 failure: ' "$G/dsn-20mb" --list $L
M text-20mb-line ' bounce, 1 failure: ' "$G/text-20mb-line" --list $L
M headers-100000 ' bounce, 1 failure: ' "$G/headers-100000" --list $L
M binary-junk either "$G/binary-junk" --list $L
M no-header bad "$G/no-header" --list $L
M empty bad "$G/empty" --list $L
M event-10000-members 'event bounce, 10000 failures: ' "$G/event-10000-body" --list $L \
	--meta kind=bounce-event $(meta_members)
M event-no-member 'no failure reported, not scored' "$G/event-10000-body" --list $L --meta kind=bounce-event
M event-binary-body 'event bounce, 1 failure: ' "$G/event-binary-body" --list $L \
	--meta kind=bounce-event --meta member=m8@d8.example
M dsn-no-such-list 'a bounce for nolist@lists.test discarded' "$G/dsn-one" --list nolist@lists.test
M dsn-no-list 'a bounce for no list discarded' "$G/dsn-one"
# A queue file cut short: written here, in the queue's own format, with
# the size it claims and no end marker.
cut_short() {
	local name
	name=$(printf '%016d+%040x' "$(( $(date +%s) * 1000000 ))" 11)
	printf 'herald-queue 1\nlist: %s\nkind: bounces\nsize: 5000\n\nFrom: x@y\n\nshort' $L \
		>"$V/queue/bounces/$name.msg"
}
cut_short
M cut-short bad -
check "all $nm monsters accounted for, none shunted" test "$(files shunt)" -eq 0
check "no sanitizer report, no core" test -z "$(ls "$T_DIR"/sanitizer.* "$V"/core* 2>/dev/null)"
t_done
