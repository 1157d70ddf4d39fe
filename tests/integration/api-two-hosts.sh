#!/usr/bin/env bash
# Two web services (two hosts' worth: two processes, each with its own
# threads) on one var dir, adding and removing overlapping sets of members
# of one list at once through the API: the roster ends exactly as any
# serial order of the same requests leaves it (adds and removes of
# different members commute, and the overlapping ones are idempotent), so
# no change is lost and none is made twice.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=busy@example.org
H lists create $L --owner admin@example.org >/dev/null
seq 0 199 | sed 's/^/p/; s/$/@example.com/' | H members add $L >/dev/null
TOK=$(H api token create both)
web_serve "$V" || { not_ok "the first web service starts"; t_done; }
BASE1=$WEB_BASE
PID1=$WEB_PID
PORT2=$(free_port)
H site set web.listen "127.0.0.1:$PORT2"
"$HERALD" --var "$V" web serve 2>>"$V/web2.log" &
PID2=$!
BASE2=http://127.0.0.1:$PORT2/
wait_for 20 curl -s -o /dev/null "$BASE2"
check "both services answer" curl -sf -o /dev/null -H "Authorization: Bearer $TOK" "${BASE2}api/v1/status"

check "concurrent adds and removes through both succeed" python3 - "$BASE1" "$BASE2" "$TOK" "$L" <<'EOF'
import http.client, json, sys, threading, urllib.parse
b1, b2, tok, lst = sys.argv[1:5]
def ops(first, last, rm_first, rm_last):
    adds = [("POST", None, "m%d@example.com" % i) for i in range(first, last)]
    rms = [("DELETE", "p%d@example.com" % i, None) for i in range(rm_first, rm_last)]
    out = []
    for i in range(max(len(adds), len(rms))):	# interleaved
        out += adds[i:i + 1] + rms[i:i + 1]
    return out
failures = []
def client(base, work):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port)	# keep-alive
    h = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
    for m, rm, add in work:
        path = "/api/v1/lists/%s/members" % lst
        if m == "DELETE":
            c.request("DELETE", path + "/" + rm, headers=h)
        else:
            c.request("POST", path, body=json.dumps({"address": add}), headers=h)
        r = c.getresponse(); r.read()
        if r.status not in (200, 201):
            failures.append((m, rm or add, r.status))
# server 1 adds m0..m299 and removes p0..p99; server 2 adds m200..m499 and
# removes p50..p149; four connections each.
w1, w2 = ops(0, 300, 0, 100), ops(200, 500, 50, 150)
threads = [threading.Thread(target=client, args=(b, w[i::4]))
           for b, w in ((b1, w1), (b2, w2)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
if failures:
    print("#", failures[:5]); sys.exit(1)
EOF
want=$( (seq 0 499 | sed 's/^/m/'; seq 150 199 | sed 's/^/p/') | sed 's/$/@example.com/' | sort)
got=$(H members list $L | sort)
check "the roster is exactly the serial result (550 members)" test "$got" = "$want"
check "no duplicate record" test "$(H members list $L | wc -l)" = 550
kill $PID1 $PID2
wait $PID1 $PID2 2>/dev/null
t_done
