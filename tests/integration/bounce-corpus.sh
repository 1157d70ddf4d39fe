#!/usr/bin/env bash
# `herald bounce detect` on real bounces and on hostile mail.
#
# 1. The sisimai corpus (tests/data/sisimai: 589 real bounces of ~70 MTAs
#    and providers, with expected recipients, hard/soft and reasons):
#    tests/tools/bounce-score.py runs the detector once per message and
#    asserts the issue's goal, recall >= 97% of the expected recipients,
#    at most 0.5% of messages reporting a wrong address, every hard bounce
#    permanent; auto-replies (rfc3834-*) and maildir/not/ give nothing
#    permanent; the CRLF and CR copies give the same lines as the LF
#    originals.  Every miss and wrong address is printed (as TAP comments).
# 2. Every message of the MIME robustness corpora (tests/data/mime,
#    tests/data/notmuch), the corpus's mbox files and a set of generated
#    monsters (a DSN nested 1,000 deep, a 10 MB diagnostic line, 20,000
#    recipients, 100,000 lines of addresses, a 30 MB single-part text,
#    binary noise, no header) go through the detector under a memory cap
#    and a time limit: each exits 0, and the sanitizer build reports
#    nothing.
#
# The cap is `ulimit -v` (1 GiB) for the normal build; the sanitizer build
# cannot start under one (ASan reserves terabytes of address space), so it
# runs with ASan's hard_rss_limit_mb instead.
. "$(dirname "$0")/../lib.sh"
DATA=$HERALD_TOP/tests/data
VMEM_KB=1048576		# ulimit -v: 1 GiB
SAN_RSS_MB=2048
TIME_LIMIT=60		# seconds for one message

if ! command -v python3 >/dev/null; then
	not_ok "python3 is needed to score the corpus"
	t_done
fi
san=0
grep -qa __asan_init "$HERALD" && san=1

# --- 1. the corpus ------------------------------------------------------------
python3 "$HERALD_TOP/tests/tools/bounce-score.py" --herald "$HERALD" \
	--corpus "$DATA/sisimai" --tap --json "$T_DIR/figures.json" \
	>"$T_DIR/score.out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	"ok "*) ok "${line#ok * - }" ;;
	"not ok "*) not_ok "${line#not ok * - }" ;;
	*) echo "$line" ;;
	esac
done <"$T_DIR/score.out"
[ $rc = 0 ] || not_ok "bounce-score.py exited $rc"

# --- 2. hostile input ---------------------------------------------------------
G=$T_DIR/generated
mkdir -p "$G"
python3 - "$G" <<'EOF'
import os, random, sys
out = sys.argv[1]
rng = random.Random(11)

def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

head = (b"From: MAILER-DAEMON@mx.example.net\nTo: list-bounces@example.org\n"
        b"Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n")

def dsn(rcpts, diag=b"smtp; 550 5.1.1 user unknown"):
    fields = b"".join(b"Final-Recipient: rfc822; %s\nAction: failed\n"
                      b"Status: 5.1.1\nDiagnostic-Code: %s\n\n" % (r, diag)
                      for r in rcpts)
    return (head + b'Content-Type: multipart/report; report-type=delivery-'
            b'status; boundary="b"\n\n--b\nContent-Type: text/plain\n\n'
            b"Delivery failed.\n\n--b\nContent-Type: message/delivery-status"
            b"\n\nReporting-MTA: dns; mx.example.net\n\n" + fields +
            b"--b--\n")

# A DSN inside a DSN inside ... 1,000 deep.
m = dsn([b"member@example.com"])
for i in range(1000):
    m = (head + b'Content-Type: multipart/report; report-type=delivery-status;'
         b' boundary="n%d"\n\n--n%d\nContent-Type: text/plain\n\nfailed\n'
         b"--n%d\nContent-Type: message/rfc822\n\n" % (i, i, i) + m +
         b"\n--n%d--\n" % i)
write("nested-dsn-1000", m)
# A 10 MB diagnostic line, in a DSN and in a text notice.
write("dsn-10mb-diagnostic", dsn([b"member@example.com"],
                                 b"smtp; 550 " + b"x" * 10_000_000))
write("text-10mb-line", head + b"\n<member@example.com>: host x said: 550 "
      + b"user unknown " * 800_000 + b"\n")
# 20,000 recipients in one DSN; 100,000 lines of addresses in a notice.
write("dsn-20000-recipients",
      dsn([b"user%d@example.com" % i for i in range(20000)]))
write("text-100000-addresses", head + b"\n" + b"".join(
    b"<user%d@example.com>: 550 no such user\n" % i for i in range(100000)))
# One 30 MB line of '@', a 30 MB text, binary noise, no header at all.
write("at-signs-30mb", head + b"\n" + b"@" * 30_000_000 + b"\n")
write("text-30mb", head + b"\nThis is the qmail-send program.\n" +
      b"a@b.example: " * 2_300_000)
write("noise", bytes(rng.getrandbits(8) for _ in range(200_000)))
write("no-header", b"\n\nfailed <a@example.com>\n")
write("empty", b"")
EOF

# detect FILE: the detector on FILE under the caps; sets rc.
detect() {
	(
		if [ $san = 1 ]; then
			export ASAN_OPTIONS="$ASAN_OPTIONS:hard_rss_limit_mb=$SAN_RSS_MB"
		else
			ulimit -v $VMEM_KB || exit 99
		fi
		exec timeout -k 5 $TIME_LIMIT "$HERALD" bounce detect <"$1"
	) >"$T_DIR/out" 2>"$T_DIR/err"
	rc=$?
}

bad=0 n=0
for f in $(find "$DATA/mime" "$DATA/notmuch" "$DATA/sisimai/mailbox" \
		"$DATA/sisimai/maildir/err" "$G" -type f | sort); do
	n=$((n + 1))
	detect "$f"
	if [ $rc != 0 ]; then
		bad=$((bad + 1))
		diag "exit $rc on ${f#$HERALD_TOP/}: $(head -c 300 "$T_DIR/err")"
	fi
done
check "every hostile or MIME-corpus message ($n) exits 0 under the caps" \
	test $bad = 0
# The nested DSN is read (to a bounded depth) and yields nothing wrong.
detect "$G/dsn-20000-recipients"
check "a DSN of 20,000 recipients reports them all" \
	test "$(grep -c '^permanent	user[0-9]*@example.com	mailbox-unknown$' "$T_DIR/out")" = 20000
detect "$G/empty"
check "no message at all: exit 0, nothing on stdout, a line on stderr" \
	test $rc = 0 -a ! -s "$T_DIR/out" -a -s "$T_DIR/err"
t_done
