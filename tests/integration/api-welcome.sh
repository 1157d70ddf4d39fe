#!/usr/bin/env bash
# The welcome and the owners' notice of the API's adds are owed in the
# roster change that adds the member (list/subscribe.h, "Owed notices"),
# not written as a file each: 300 concurrent POSTs over 8 connections
# all answer 201; every new member gets exactly one welcome and the
# owners one notice each, in fewer files than notices; the roster then
# owes nothing.  When the notices cannot be stored (every fsync in the
# virgin queue fails), the subscriptions still answer 201, nothing is
# lost: the roster still owes every notice, and the task members.notices
# sends each exactly once when the disk is back.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=welcome@example.org
H lists create $L --owner admin@example.org >/dev/null
H config set $L admin_notify_mchanges yes >/dev/null
web_serve "$V" || { not_ok "the web service starts"; t_done; }
A=$(H api token create admin)

# subs FIRST COUNT CONNS OUT: COUNT POSTs (sub<FIRST..>@example.com), their
# statuses one a line into OUT, over CONNS connections.
subs() { api_subscribe $L "$A" "$1" "$2" "$3" '{}' >"$4"; }
# welcomes: "COUNT ADDRESS" for each address welcomed in the virgin queue.
welcomes() {
	find "$V/queue/virgin" -name '*.msg' -exec grep -oh "You are subscribed as sub[0-9]*@example.com" {} + |
		awk '{print $5}' | sort | uniq -c
}
notices_to_owners() {
	find "$V/queue/virgin" -name '*.msg' -exec grep -oh "sub[0-9]*@example.com is now a member of" {} + | wc -l
}
# owed: how many notices the roster's current change log still owes
# (docs/formats.md, "The roster": O and S records).
owed() {
	python3 - "$V/lists/$L/roster" <<'EOF'
import os, sys, zlib
d = sys.argv[1]
gen = open(os.path.join(d, "CURRENT")).read().strip()
owed, change = set(), []
try:
    lines = open(os.path.join(d, "changes." + gen), "rb").read().split(b"\n")
except FileNotFoundError:
    lines = []
for line in lines:
    if len(line) < 10 or int(line[:8], 16) != zlib.crc32(line[9:]):
        break
    rec = line[9:].decode()
    if rec == "C":
        for op, k in change:
            (owed.add if op == "O" else owed.discard)(k)
        change = []
    elif rec[:2] in ("O ", "S "):
        f = rec[2:].split("\t")
        change.append((rec[0], (f[0], f[1])))
print(len(owed))
EOF
}
vfiles() { find "$V/queue/virgin" -name '*.msg' | wc -l; }

subs 0 300 8 "$T_DIR/st"
check "300 concurrent subscriptions with the welcome all answer 201" \
	test "$(grep -cx 201 "$T_DIR/st")" = 300
wait_for 30 bash -c 'test "$(owed)" = 0' 2>/dev/null
check "the roster owes nothing once the sender has run" test "$(owed)" = 0
welcomes >"$T_DIR/w"
check "each of the 300 new members has exactly one welcome" \
	bash -c 'test "$(wc -l <"$1")" = 300 && test "$(awk "\$1 != 1" "$1" | wc -l)" = 0' _ "$T_DIR/w"
check "the owners have one notice of each add" test "$(notices_to_owners)" = 300
check "600 notices in fewer files than notices" test "$(vfiles)" -lt 600
diag "600 notices in $(vfiles) files"
check "the change log recorded them owed and settled" \
	bash -c 'cat "$1"/changes.* | grep -q " O welcome	sub1@example.com	sub1@example.com$" &&
		 cat "$1"/changes.* | grep -q " S welcome	sub1@example.com$" ||
		 cat "$1"/members.* | grep -q "^sub1@example.com	"' _ "$V/lists/$L/roster"

# --- notices that cannot be stored ------------------------------------------
kill "$WEB_PID"; wait "$WEB_PID" 2>/dev/null
files_before=$(vfiles)
LD_PRELOAD=$SHIM NFSFAULT=fsync_enospc=%1 NFSFAULT_PATH=/queue/virgin/ \
	"$HERALD" --var "$V" web serve 2>>"$V/web.log" &
WEB_PID=$!
wait_for 20 curl -s -o /dev/null "$WEB_BASE"
subs 1000 40 8 "$T_DIR/st2"
check "with the virgin queue failing, the subscriptions still answer 201" \
	test "$(grep -cx 201 "$T_DIR/st2")" = 40
wait_for 20 grep -q "notices owed to new members are left for later" "$V"/logs/*/subscribe
check "the sender's failure is logged" grep -q "notices owed to new members are left for later" "$V"/logs/*/subscribe
kill "$WEB_PID"; wait "$WEB_PID" 2>/dev/null
check "no notice of theirs was stored" test "$(vfiles)" = "$files_before"
check "the roster still owes their 80 notices" test "$(owed)" = 80
check "the task members.notices sends them" H tasks run members.notices
welcomes >"$T_DIR/w2"
check "each of the 40 got exactly one welcome, the others no second" \
	bash -c 'test "$(wc -l <"$1")" = 340 && test "$(awk "\$1 != 1" "$1" | wc -l)" = 0' _ "$T_DIR/w2"
check "and the owners their 40 notices" test "$(notices_to_owners)" = 340
check "the roster owes nothing" test "$(owed)" = 0
check "the task says what it sent" bash -c '"$1" --var "$2" tasks | grep -q "80 owed notices sent on 1 list"' _ "$HERALD" "$V"
t_done
