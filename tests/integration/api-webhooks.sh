#!/usr/bin/env bash
# Webhooks (docs/api.md): events made while the receiver is down, then
# answered by a receiver that fails its first deliveries with 500, all
# arrive at least once, with valid signatures (HMAC-SHA256 over
# "<t>.<body>"), and with the list's sequence numbers 1..N without a gap,
# so the receiver can order them; a webhook whose receiver never answers is
# given up after webhooks.give_up with a log line; `webhooks test` and
# `webhooks replay` queue events again; bad URLs are refused.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=hooks@example.org
H lists create $L --owner admin@example.org >/dev/null
H lists create other@example.org --owner admin@example.org >/dev/null
printf '\n[runner.webhooks]\nslices = 1\nhandler = webhook\n' >>"$V/etc/herald.conf"
H site set webhooks.retry_wait 1
H site set webhooks.give_up 10
H site set master.poll_interval 200

check "a URL that is none is refused" bash -c '! "$1" --var "$2" webhooks add "ftp://x/" 2>/dev/null' _ "$HERALD" "$V"
check "a URL with a line break is refused" bash -c '! "$1" --var "$2" webhooks add "$(printf "http://x/\r\nX: y")" 2>/dev/null' _ "$HERALD" "$V"
PORT=$(free_port)
out=$(H webhooks add --list $L "http://127.0.0.1:$PORT/hook")
ID=$(awk '/^id/ {print $2}' <<<"$out")
SECRET=$(awk '/^secret/ {print $2}' <<<"$out")
check "add prints an id and a secret" test ${#ID} = 16 -a ${#SECRET} = 64
DEAD=$(free_port)
DID=$(H webhooks add "http://127.0.0.1:$DEAD/never" | awk '/^id/ {print $2}')
check "list shows both" test "$(H webhooks list | wc -l)" = 2

# Events while nobody listens: 5 subscribed, 2 unsubscribed, on $L; one
# on the other list (only the site-wide webhook wants it).
printf 'a@example.com\nb@example.com\nc@example.com\n' | H members add $L >/dev/null
printf 'd@example.com\ne@example.com\n' | H members add $L >/dev/null
printf 'b@example.com\nd@example.com\n' | H members remove $L >/dev/null
echo x@example.com | H members add other@example.org >/dev/null
check "the events are queued (8 for the list hook and the site hook, 1 more for the site hook)" \
	test "$(find "$V/queue/webhooks" -name '*.msg' | wc -l)" = 15
wlog() { cat "$V"/logs/*/webhook 2>/dev/null; }
"$HERALD" --var "$V" runner webhooks >"$T_DIR/runner.log" 2>&1 &
RUNNER=$!
sleep 3	# the receiver is down: every attempt fails

# The receiver: fails its first 3 requests with 500, then records each
# request (headers and body) as a JSON line.
cat >"$T_DIR/recv.py" <<'EOF'
import http.server, json, sys
count = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        count += 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if count <= 3:
            self.send_response(500); self.end_headers(); return
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"h": dict(self.headers), "b": body.decode()}) + "\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$T_DIR/recv.py" "$PORT" "$T_DIR/got" &
RECV=$!
got_all() { [ -f "$T_DIR/got" ] && python3 - "$T_DIR/got" "$@" <<'EOF'
import json, sys
seqs = {json.loads(json.loads(l)["b"])["sequence"] for l in open(sys.argv[1])}
sys.exit(0 if set(range(1, int(sys.argv[2]) + 1)) <= seqs else 1)
EOF
}
wait_for 30 got_all 7
check "every event of the list arrived (sequences 1..7)" got_all 7
check "the outage was retried" bash -c 'grep -q "/hook: .*Connection refused; again in" <<<"$1"' _ "$(wlog)"
check "the first deliveries failed and were retried" bash -c 'grep -q "/hook: HTTP 500; again in" <<<"$1"' _ "$(wlog)"
check "signatures verify, sequences order the events" python3 - "$T_DIR/got" "$SECRET" <<'EOF'
import hashlib, hmac, json, sys
secret = sys.argv[2].encode()
seen = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    h, body = r["h"], r["b"]
    sig = dict(p.split("=", 1) for p in h["Herald-Signature"].split(","))
    want = hmac.new(secret, (sig["t"] + "." + body).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig["v1"]):
        print("# bad signature", h); sys.exit(1)
    e = json.loads(body)
    assert e["list"] == "hooks@example.org" and h["Herald-Event"] == e["event"]
    assert str(e["sequence"]) == h["Herald-Sequence"]
    seen[e["sequence"]] = (e["event"], e["data"]["address"])
order = [seen[s] for s in sorted(seen)]
want = [("member.subscribed", a) for a in "abcde"] + [("member.unsubscribed", a) for a in "bd"]
want = [(e, a + "@example.com") for e, a in want]
if order != want:
    print("# got", order); sys.exit(1)
EOF
check "a body that is tampered with does not verify" python3 - "$T_DIR/got" "$SECRET" <<'EOF'
import hashlib, hmac, json, sys
r = json.loads(open(sys.argv[1]).readline())
sig = dict(p.split("=", 1) for p in r["h"]["Herald-Signature"].split(","))
body = r["b"].replace("example.com", "example.net")
want = hmac.new(sys.argv[2].encode(), (sig["t"] + "." + body).encode(), hashlib.sha256).hexdigest()
sys.exit(1 if hmac.compare_digest(want, sig["v1"]) else 0)
EOF
given_up() { wlog | grep -q "to http://127.0.0.1:$DEAD/never: given up after"; }
wait_for 30 given_up
check "the dead receiver's events are given up with a log line" given_up
wait_for 10 bash -c "[ -z \"\$(find '$V/queue/webhooks' -name '*.msg' -o -name '*.bak')\" ]"
check "the queue is empty at the end" test -z "$(find "$V/queue/webhooks" -name '*.msg' -o -name '*.bak')"

H webhooks test "$ID" >/dev/null
wait_for 10 grep -q '"Herald-Event": "webhook.test"' "$T_DIR/got"
check "webhooks test sends a test event" grep -q '"Herald-Event": "webhook.test"' "$T_DIR/got"
before=$(wc -l <"$T_DIR/got")
out=$(H webhooks replay "$ID" --since 6)
check "replay --since 6 queues 3 events ($out)" test "$out" = "queued 3 events again for $ID"
wait_for 10 test "$(wc -l <"$T_DIR/got")" -ge $((before + 3))
check "they arrive again" test "$(tail -n 3 "$T_DIR/got" | python3 -c 'import json,sys; print(sorted(json.loads(json.loads(l)["b"])["sequence"] for l in sys.stdin))')" = "[6, 7, 8]"
# A member's post through the pipeline is a post.accepted event.
pipeline_runners "$V"
printf 'From: a@example.com\nTo: %s\nSubject: news\nMessage-ID: <n1@example.com>\n\nbody\n' $L |
	H mta post $L --sender a@example.com && H runner in --once >>"$T_DIR/in.log" 2>&1
wait_for 10 grep -q '"Herald-Event": "post.accepted"' "$T_DIR/got"
check "a post accepted is an event, with its recipients" python3 - "$T_DIR/got" <<'EOF2'
import json, sys
ev = [json.loads(json.loads(l)["b"]) for l in open(sys.argv[1])]
acc = [e for e in ev if e["event"] == "post.accepted"]
sys.exit(0 if acc and acc[0]["data"]["message_id"] == "<n1@example.com>" and acc[0]["data"]["recipients"] == 3 and acc[0]["sequence"] == 9 else 1)
EOF2
check "remove" bash -c '"$1" --var "$2" webhooks remove "$3" >/dev/null' _ "$HERALD" "$V" "$DID"
check "no webhook of that id then" bash -c '! "$1" --var "$2" webhooks test "$3" 2>/dev/null' _ "$HERALD" "$V" "$DID"
kill $RUNNER $RECV
wait $RUNNER $RECV 2>/dev/null
t_done
