#!/usr/bin/env bash
# RFC 8058 one-click unsubscribe POSTs at once (group commit, web_defer in
# server.c): 240 POSTs from 40 concurrent clients are each answered 200
# only once their entry is in the commands queue, each member's entry is
# there once (a batch's entries in one file, a bundle) and is applied once; when the batch's fsync fails, every
# request waiting on it is answered 503 and no entry is stored.
. "$(dirname "$0")/../lib.sh"
N=240
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=big@example.org
H lists create $L --owner owner@example.org >/dev/null
H site set runner.commands.handler commands >/dev/null
seq $N | sed 's/.*/m&@example.com/' | H members add $L >/dev/null
msgs() { find "$1/queue/commands" -name '*.msg' 2>/dev/null | wc -l; }
logs() { cat "$V/web.log"; }
tmps() { find "$1/queue/commands" -name '*.tmp' 2>/dev/null | wc -l; }
# post V PREFIX FIRST LAST: one POST per member PREFIX<FIRST>..PREFIX<LAST>
# @example.com from 40 threads;
# prints "STATUS ADDRESS" lines, and, for each 200, whether the member's
# entry was in the queue when the answer came ("stored" / "missing").
post() {
	python3 - "$1" "$2" "$3" "$4" "$L" "$WEB_BASE" <<'PY'
import base64, glob, hashlib, hmac, sys, threading, urllib.parse, urllib.request
var, prefix, first, last, lst, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
key = open(var + '/etc/site.key', 'rb').read()
def token(addr):
    msg = b''.join(s.encode() + b'\0' for s in ('herald-token-1', 'unsubscribe', lst, addr))
    return base64.urlsafe_b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode().rstrip('=')
def stored(addr):
    for f in glob.glob(var + '/queue/commands/*.msg'):
        if ('\nmember: %s\n' % addr) in open(f, errors='replace').read():
            return 'stored'
    return 'missing'
out, lock = [], threading.Lock()
todo = list(range(first, last + 1))
def work():
    while True:
        with lock:
            if not todo:
                return
            i = todo.pop()
        a = '%s%d@example.com' % (prefix, i)
        url = base + 'unsubscribe/' + urllib.parse.quote(lst) + '?m=' + urllib.parse.quote(a) + '&t=' + token(a)
        req = urllib.request.Request(url, data=b'List-Unsubscribe=One-Click', method='POST')
        try:
            st = urllib.request.urlopen(req, timeout=30).status
        except urllib.error.HTTPError as e:
            st = e.code
        except Exception as e:
            st = 'error ' + str(e).replace(' ', '_')
        line = '%s %s' % (st, a) + (' ' + stored(a) if st == 200 else '')
        with lock:
            out.append(line)
ts = [threading.Thread(target=work) for _ in range(40)]
for t in ts: t.start()
for t in ts: t.join()
print('\n'.join(out))
PY
}

web_serve "$V" || { not_ok "the web interface starts"; t_done; }
curl -s -o /dev/null "${WEB_BASE}unsubscribe/big%40example.org?m=x%40y.z&t=x"	# makes the site key
post "$V" m 1 $N >"$T_DIR/answers"
check "all $N concurrent one-click POSTs are answered 200" test "$(grep -c '^200 ' "$T_DIR/answers")" -eq $N
check "each one's entry was in the queue before its answer" test "$(grep -c ' stored$' "$T_DIR/answers")" -eq $N
check "the queue holds $N entries, no .tmp left" test "$(cat "$V"/queue/commands/*.msg | grep -c '^kind: oneclick$') $(tmps "$V")" = "$N 0"
check "one entry per member" test "$(cat "$V"/queue/commands/*.msg | grep '^member: ' | sort -u | wc -l)" -eq $N
check "in fewer files: a batch's entries share one (a bundle)" test "$(msgs "$V")" -lt $N
check "each file is one entry or a bundle" test "$(cat "$V"/queue/commands/*.msg | grep -c '^kind: bundle$')" -ge 1
H runner commands --once >/dev/null 2>&1
check "the commands runner applies them: the list is empty" test "$(H members list $L | wc -l)" -eq 0
check "and the queue is empty, nothing shunted or bad" \
	test "$(msgs "$V") $(find "$V/queue/shunt" "$V/queue/bad" -name '*.msg' 2>/dev/null | wc -l)" = "0 0"
check "each member's unsubscription is logged once" \
	test "$(logs | grep -o 'one-click unsubscribe of m[0-9]*@example.com from .* taken' | sort | uniq -c | awk '$1 == 1' | wc -l)" -eq $N
kill "$WEB_PID"; wait "$WEB_PID" 2>/dev/null

# --- every fsync of the queue fails: every waiting request gets 503 ------
seq 20 | sed 's/.*/n&@example.com/' | H members add $L >/dev/null
web_serve_shimmed() {
	local port; port=$(free_port)
	export WEB_BASE=http://127.0.0.1:$port/
	H site set web.listen "127.0.0.1:$port" && H site set web.base_url "$WEB_BASE" || return 1
	NFSFAULT=fsync_enospc=%1 NFSFAULT_PATH=/queue/commands LD_PRELOAD=$SHIM \
		"$HERALD" --var "$V" web serve 2>>"$V/web.log" &
	WEB_PID=$!
	wait_for 20 curl -s -o /dev/null "$WEB_BASE"
}
web_serve_shimmed || { not_ok "the web interface starts under the fault shim"; t_done; }
post "$V" n 1 20 >"$T_DIR/answers"
check "under failing fsyncs all 20 POSTs are answered 503" test "$(grep -c '^503 ' "$T_DIR/answers")" -eq 20
check "no entry is stored, no .tmp left" test "$(msgs "$V") $(tmps "$V")" = "0 0"
check "the failure is logged for each" test "$(logs | grep -o 'one-click unsubscribe of n[0-9]*@example.com: fsync' | sort -u | wc -l)" -eq 20
check "the server still answers pages" test "$(curl -s -o /dev/null -w '%{http_code}' "${WEB_BASE}listinfo/big%40example.org")" = 200
t_done
