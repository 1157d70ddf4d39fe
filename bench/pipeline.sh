#!/usr/bin/env bash
# bench/pipeline.sh - the posting path's throughput (a benchmark: it prints
# figures and never fails on them).
#
#   1. The incoming pipeline with the default handlers, a 10-member list,
#      N plain posts of 4 KiB: from the in queue to the out queue, with one
#      runner process (`herald runner in --once`) and with four (one per
#      slice, as runner.in.slices = 4 runs them), messages/s.
#   2. The same with N/4 multipart posts of 100 KiB (text, HTML alternative,
#      two attachments) and content filtering on (collapse_alternatives,
#      convert_html_to_plaintext, an attachment type filtered).
#   3. LMTP entry: messages/s the LMTP server accepts (each one fsync'ed
#      before its 250) from a loopback client, over 1 and over 4
#      connections; and, for the ratio, `herald mta post` (the pipe) run
#      once per message.
#
#   bench/pipeline.sh [N]     N posts (default 2000)
# Scratch under $HERALD_BENCH_DIR (default /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
H=$PWD/build/herald
make -j2 >/dev/null
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-pipeline.XXXXXX")
trap '"$H" --var "$D/lmtp" stop >/dev/null 2>&1 || true; rm -rf "$D"' EXIT
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(nproc) cores," \
	"scratch on $(df -T "$D" | awk 'NR == 2 { print $2 }')"

now() { date +%s.%N; }
# rate N T0 T1: N messages between the two times, per second.
rate() { python3 -c "import sys; n, t = float(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); print('%.0f msgs/s (%d in %.2f s)' % (n / t, n, t))" "$@"; }

new_site() {
	local v=$1
	"$H" --var "$v" init >/dev/null
	"$H" --var "$v" lists create bench@lists.test --owner owner@example.org >/dev/null
	for i in $(seq 1 10); do echo "member$i@example.net"; done |
		"$H" --var "$v" members add bench@lists.test >/dev/null
	# Posters are members (no holds); DMARC looks nothing up for the
	# accept action, as on most lists.
	"$H" --var "$v" config set bench@lists.test max_message_size 0
}

# plain I: a 4 KiB plain-text post from a member.
plain() {
	printf 'From: Member %d <member%d@example.net>\nTo: bench@lists.test\nSubject: bench post %d\nMessage-ID: <bench-%d@example.net>\nDate: Sat, 28 Nov 2026 12:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n' \
		$(( $1 % 10 + 1 )) $(( $1 % 10 + 1 )) "$1" "$1"
	head -c 3000 /dev/urandom | base64 -w 72
}

# multipart I: about 100 KiB: text + HTML alternative, a PDF-ish and an
# executable attachment.
multipart() {
	printf 'From: member%d@example.net\nTo: bench@lists.test\nSubject: big post %d\nMessage-ID: <big-%d@example.net>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="outer"\n\n' \
		$(( $1 % 10 + 1 )) "$1" "$1"
	printf -- '--outer\nContent-Type: multipart/alternative; boundary="alt"\n\n--alt\nContent-Type: text/plain\n\n'
	head -c 6000 /dev/urandom | base64 -w 72
	printf -- '--alt\nContent-Type: text/html\n\n<html><body><h1>Report</h1><p>'
	head -c 9000 /dev/urandom | base64 -w 72 | sed 's|$|</p><p>|'
	printf '</p><ul><li>one</li><li>two</li></ul></body></html>\n--alt--\n'
	printf -- '--outer\nContent-Type: application/pdf; name="r.pdf"\nContent-Transfer-Encoding: base64\n\n'
	head -c 45000 /dev/urandom | base64 -w 76
	printf -- '--outer\nContent-Type: application/octet-stream; name="tool.exe"\nContent-Transfer-Encoding: base64\n\n'
	head -c 15000 /dev/urandom | base64 -w 76
	printf -- '--outer--\n'
}

# run_pipeline V COUNT [SLICES]: time SLICES runners (default 1), one per
# slice of the in queue, draining COUNT posts into out.
run_pipeline() {
	local v=$1 n=$2 k=${3:-1} t0 t1 s
	t0=$(now)
	for s in $(seq 0 $(( k - 1 ))); do
		"$H" --var "$v" runner in --once --slice "$s/$k" >/dev/null 2>&1 &
	done
	wait
	t1=$(now)
	local out
	out=$(find "$v/queue/out" -name '*.msg' | wc -l)
	[ "$out" -eq "$n" ] || echo "# warning: $out of $n posts reached the out queue"
	rate "$n" "$t0" "$t1"
}

echo "== 1. pipeline, default handlers, 10 members, $N plain 4 KiB posts"
V=$D/plain
new_site "$V"
mkdir -p "$D/msgs"
for i in $(seq 1 "$N"); do plain "$i" >"$D/msgs/$i"; done
t0=$(now)
for i in $(seq 1 "$N"); do "$H" --var "$V" queue inject in --list bench@lists.test --meta kind=post <"$D/msgs/$i" >/dev/null; done
t1=$(now)
echo "injection (herald queue inject, one process a post): $(rate "$N" "$t0" "$t1")"
echo "pipeline in -> out, 1 runner: $(run_pipeline "$V" "$N")"
V=$D/plain4
new_site "$V"
for i in $(seq 1 "$N"); do "$H" --var "$V" queue inject in --list bench@lists.test --meta kind=post <"$D/msgs/$i" >/dev/null; done
echo "pipeline in -> out, 4 runners (runner.in.slices = 4): $(run_pipeline "$V" "$N" 4)"

M=$(( N / 4 ))
echo "== 2. pipeline with content filtering, $M multipart 100 KiB posts"
V=$D/multi
new_site "$V"
"$H" --var "$V" config set bench@lists.test filter_content yes
"$H" --var "$V" config set bench@lists.test collapse_alternatives yes
"$H" --var "$V" config set bench@lists.test convert_html_to_plaintext yes
printf 'exe\n' | "$H" --var "$V" config set bench@lists.test filter_filename_extensions "$(cat)"
for i in $(seq 1 "$M"); do multipart "$i" | "$H" --var "$V" queue inject in --list bench@lists.test --meta kind=post >/dev/null; done
echo "size of one post: $(multipart 1 | wc -c) bytes"
echo "pipeline in -> out, 1 runner: $(run_pipeline "$V" "$M")"
rm -rf "$V/queue/out"
for i in $(seq 1 "$M"); do multipart "$i" | "$H" --var "$V" queue inject in --list bench@lists.test --meta kind=post >/dev/null; done
echo "pipeline in -> out, 4 runners: $(run_pipeline "$V" "$M" 4)"

echo "== 3. LMTP entry, $N posts of 4 KiB, fsync before each 250"
V=$D/lmtp
new_site "$V"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$H" --var "$V" site set lmtp.listen "127.0.0.1:$PORT"
# Only the LMTP server: no runners, so the figure is the entry alone.
sed -i '/^\[runner\./,$d' "$V/etc/herald.conf"
"$H" --var "$V" start
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break; sleep 0.1; done
cat >"$D/lmtp.py" <<'PY'
import smtplib, sys, threading, time
port, conns, n, msgdir = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
msgs = [open("%s/%d" % (msgdir, i + 1), "rb").read() for i in range(n)]
def client(k):
    c = smtplib.LMTP("127.0.0.1", port)
    c.ehlo_or_helo_if_needed()
    for i in range(k, n, conns):
        c.sendmail("member1@example.net", ["bench@lists.test"], msgs[i])
    c.quit()
t0 = time.time()
ts = [threading.Thread(target=client, args=(k,)) for k in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
t = time.time() - t0
print("%.0f msgs/s (%d in %.2f s)" % (n / t, n, t))
PY
for c in 1 4; do
	echo "LMTP, $c connection(s): $(python3 "$D/lmtp.py" "$PORT" "$c" "$N" "$D/msgs")"
done
got=$(find "$V/queue/in" -name '*.msg' | wc -l)
echo "stored in the in queue: $got of $(( 2 * N ))"
"$H" --var "$V" stop >/dev/null
P=$(( N / 4 ))
t0=$(now)
for i in $(seq 1 "$P"); do "$H" --var "$V" mta post bench@lists.test <"$D/msgs/$i"; done
t1=$(now)
echo "pipe (herald mta post, one process a message): $(rate "$P" "$t0" "$t1")"
