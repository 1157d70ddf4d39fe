#!/usr/bin/env bash
# Hostile and malformed mail through the commands runner.  Every message
# of the MIME and notmuch corpora (tests/data/mime, tests/data/notmuch)
# and a set generated here (10,000 command lines, 1,000 confirms of
# made-up codes, a 200 KB Subject, NUL bytes, no header, 2,000 nested
# multiparts, 5,000 parts, an 8-bit body in an unknown charset, address=
# with garbage, a -confirm+ recipient with a path in it) goes into the
# commands queue once for each kind (request, join, leave, confirm), and
# one `herald runner commands --once` takes them all under a memory cap.
# It must exit normally, and every entry must be accounted for: worked or
# ignored with a log line, or set aside in bad/; nothing is left, nothing
# shunted, and the sanitizer build reports nothing.
. "$(dirname "$0")/../lib.sh"
DATA=$HERALD_TOP/tests/data
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@example.org
H lists create $L --owner owner@example.org >/dev/null
H site set runner.commands.handler commands
H config set $L subscribe_policy 0
GEN=$T_DIR/gen
mkdir -p "$GEN"
python3 - "$GEN" <<'PY'
import os, sys
d = sys.argv[1]
def w(name, data):
    open(os.path.join(d, name), "wb").write(data if isinstance(data, bytes) else data.encode())
hdr = "From: evil@example.net\nTo: demo-request@example.org\n"
w("many-lines", hdr + "Subject: x\n\n" + "subscribe\n" * 10000)
w("many-confirms", hdr + "Subject: x\n\n" + "".join("confirm %043d\n" % i for i in range(1000)))
w("long-subject", hdr + "Subject: confirm " + "A" * 200000 + "\n\nhelp\n")
w("nul-bytes", (hdr + "Subject: help\n\nwho\0\0secret\nsubscribe\0x\n").encode())
w("no-header", "\n\nsubscribe\n")
w("nested", hdr + "Subject: help\nMIME-Version: 1.0\n" + "".join(
    "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n" % (i, i) for i in range(2000)) + "\nsubscribe\n")
w("many-parts", hdr + "Subject: help\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n" +
  "".join("--b\nContent-Type: text/plain\n\nsubscribe\n" for _ in range(5000)) + "--b--\n")
w("unknown-charset", (hdr + "Subject: =?x-unknown?q?subscribe?=\nContent-Type: text/plain; charset=x-klingon\n"
  "Content-Transfer-Encoding: 8bit\n\n\xff\xfe subscribe\nset authenticate \xe9\xe9\n").encode("latin-1"))
w("address-garbage", hdr + "Subject: subscribe address=<>@@\n\nunsubscribe address=\"a b\"@x address=\nwho address=" + "x" * 5000 + "\n")
w("set-garbage", hdr + "Subject: set\n\nset digest\nset ack on off\npassword a\nset authenticate\n" + "set show " * 1000 + "\n")
PY
N=0
inject() {	# inject FILE KIND RECIPIENT
	"$HERALD" --var "$V" queue inject commands --list $L --meta kind="$2" \
		--meta sender=evil@example.net --meta recipient="$3" <"$1" >/dev/null && N=$((N + 1))
}
files=$(find "$DATA/mime" "$DATA/notmuch" "$GEN" -type f ! -name 'README*' ! -name 'LICENSE*' | sort)
for f in $files; do
	inject "$f" request demo-request@example.org
	inject "$f" join demo-join@example.org
	inject "$f" leave demo-leave@example.org
	inject "$f" confirm "demo-confirm+../../etc/passwd@example.org"
done
diag "$N entries injected"
if grep -qa __asan_init "$HERALD"; then
	export ASAN_OPTIONS="$ASAN_OPTIONS:hard_rss_limit_mb=3072"
	timeout 600 "$HERALD" --var "$V" runner commands --once >"$T_DIR/runner.log" 2>&1
else
	(ulimit -v 1572864; timeout 600 "$HERALD" --var "$V" runner commands --once >"$T_DIR/runner.log" 2>&1)
fi
rc=$?
check "one runner pass takes them all and exits normally (rc $rc)" test $rc -eq 0
check "the commands queue is empty" test -z "$(find "$V/queue/commands" -name '*.msg' -o -name '*.bak')"
check "nothing was shunted" test -z "$(find "$V/queue/shunt" -name '*.msg' 2>/dev/null)"
bad=$(find "$V/queue/bad" -name '*.msg' 2>/dev/null | wc -l)
logged=$(grep -cE 'commands info: .*(commands? worked|ignored: |dropped$)' "$V"/logs/*/commands)
diag "worked or ignored: $logged, bad: $bad"
check "every entry is accounted for: $logged logged + $bad in bad/ = $N" test $((logged + bad)) -eq "$N"
check "each entry in bad/ has a log line saying why" test "$(grep -c 'moved to bad/: ' "$V"/logs/*/queue)" -eq "$bad"
check "no header let the sender subscribe a made-up address" bash -c '! "$1" --var "$2" members list "$3" | grep -v "@" | grep -q .' _ "$HERALD" "$V" $L
t_done
