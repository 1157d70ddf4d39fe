#!/usr/bin/env bash
# The API's subscriptions under concurrency (group commit,
# list/subscribe_group.h): 500 single-member POSTs over 8 keep-alive
# connections all answer 201, every address lands exactly once, each has
# exactly one member.subscribed webhook event and the list's sequence
# numbers are 1..500 without a gap; removals after them have later
# numbers.  A failing roster write (the roster's directory on a full
# tmpfs) answers an error to every request of the batch, no 2xx, and
# leaves the roster and the webhook queue as they were (a failed fsync
# too: the records written are cut off); once there is room again, the
# same requests succeed.  A many-member POST answers each member's
# outcome in order.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=batch@example.org
H lists create $L --owner admin@example.org >/dev/null
H webhooks add --list $L "http://127.0.0.1:9/never" >/dev/null
web_serve "$V" || { not_ok "the web service starts"; t_done; }
A=$(H api token create admin)

# subs FIRST COUNT CONNS OUT: COUNT POSTs (sub<FIRST..>@example.com), their
# statuses one a line into OUT, over CONNS connections.
subs() { api_subscribe $L "$A" "$1" "$2" "$3" '{"welcome": false}' >"$4"; }
# events: the queued webhook events, "SEQUENCE EVENT ADDRESS" a line.
events() {
	python3 - "$V/queue/webhooks" <<'EOF'
import json, os, sys
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f.endswith(".msg"):
            body = open(os.path.join(root, f)).read().split("\n\n", 1)[1]
            e = json.JSONDecoder().raw_decode(body)[0]
            print(e["sequence"], e["event"], e["data"]["address"])
EOF
}

subs 0 500 8 "$T_DIR/st"
check "500 concurrent subscriptions over 8 connections all answer 201" \
	test "$(grep -cx 201 "$T_DIR/st")" = 500
H members list $L | sort >"$T_DIR/members"
seq 0 499 | sed 's/.*/sub&@example.com/' | sort >"$T_DIR/want"
check "every address is a member exactly once" cmp -s "$T_DIR/members" "$T_DIR/want"
events | sort -n >"$T_DIR/ev"
check "500 member.subscribed events, one per address" \
	bash -c 'test "$(grep -c " member.subscribed " "$1")" = 500 &&
		 cmp -s <(awk "{print \$3}" "$1" | sort) "$2"' _ "$T_DIR/ev" "$T_DIR/want"
check "their sequence numbers are 1..500, no gap, none twice" \
	cmp -s <(awk '{print $1}' "$T_DIR/ev") <(seq 1 500)
n=$(cat "$V"/logs/*/subscribe | grep -c "in one roster change" || true)
diag "batches of more than one request: $n"
for i in 1 2 3; do
	curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $A" "${WEB_BASE}api/v1/lists/$L/members/sub$i@example.com"
done
events | sort -n >"$T_DIR/ev2"
check "a removal's event comes after the member's subscription" \
	bash -c 'for i in 1 2 3; do
		s=$(awk -v a=sub$i@example.com "\$3 == a && \$2 == \"member.subscribed\" {print \$1}" "$1")
		u=$(awk -v a=sub$i@example.com "\$3 == a && \$2 == \"member.unsubscribed\" {print \$1}" "$1")
		[ -n "$s" ] && [ -n "$u" ] && [ "$u" -gt "$s" ] || exit 1
	done' _ "$T_DIR/ev2"
check "an address asked again is 200 already-member, and no event" \
	bash -c 'curl -s -o "$3" -w "%{http_code}" -H "Authorization: Bearer $1" -H "Content-Type: application/json" \
		--data "{\"address\":\"sub7@example.com\"}" "$2" | grep -qx 200 &&
		jq -e ".outcome == \"already-member\"" "$3" >/dev/null' \
	_ "$A" "${WEB_BASE}api/v1/lists/$L/members" "$T_DIR/out"
check "still 503 events" test "$(events | wc -l)" = 503
curl -s -o "$T_DIR/many" -H "Authorization: Bearer $A" -H "Content-Type: application/json" \
	--data '{"members": [{"address": "m1@example.com"}, {"address": "M1@example.com"},
		 {"address": "m2@example.com", "digest": "yes"}, {"address": "sub9@example.com"},
		 {"address": "m3@example.com", "welcome": false}]}' "${WEB_BASE}api/v1/lists/$L/members"
check "a many-member POST: each its outcome, in order (a repeat in it is already-member)" \
	jq -e '[.results[].outcome] == ["subscribed","already-member","invalid","already-member","subscribed"]
		and .results[2].field == "digest"' "$T_DIR/many"
check "its new members are there, with one event each" \
	bash -c 'test "$("$1" --var "$2" members list "$3" | grep -c "^m[123]@")" = 2 &&
		 test "$(grep -c "" <<<"$4")" = 505' _ "$HERALD" "$V" $L "$(events)"

# --- a roster fsync that fails ----------------------------------------------
# The records are written, the fsync fails (tests/shim/nfsfault.c): every
# request is answered an error, and the records are cut off again, so no
# reader sees a change its writer was told failed.
kill "$WEB_PID"; wait "$WEB_PID" 2>/dev/null
H members list $L | sort >"$T_DIR/before"
before_events=$(events | wc -l)
LD_PRELOAD=$SHIM NFSFAULT=fsync_enospc=%1 NFSFAULT_PATH=/roster/changes \
	"$HERALD" --var "$V" web serve 2>>"$V/web.log" &
WEB_PID=$!
wait_for 20 curl -s -o /dev/null "$WEB_BASE"
subs 2000 40 8 "$T_DIR/st1"
check "every request whose batch's fsync fails answers 500 (no 2xx)" \
	test "$(grep -cx 500 "$T_DIR/st1")" = 40
H members list $L | sort >"$T_DIR/after"
check "the roster is as it was (the written records cut off)" cmp -s "$T_DIR/before" "$T_DIR/after"
check "no webhook event for them" test "$(events | wc -l)" = "$before_events"
kill "$WEB_PID"; wait "$WEB_PID" 2>/dev/null
"$HERALD" --var "$V" web serve 2>>"$V/web.log" &
WEB_PID=$!
wait_for 20 curl -s -o /dev/null "$WEB_BASE"

# --- a roster write that fails (a full disk) --------------------------------
R=$V/lists/$L/roster
check "members compact" H members compact $L
MNT=$T_DIR/mnt
if mkdir -p "$MNT" && mount -t tmpfs -o size=2m tmpfs "$MNT" 2>/dev/null; then
	trap 'umount "$R" 2>/dev/null; t_cleanup' EXIT
	cp -a "$R/." "$MNT/" && mount --bind "$MNT" "$R"
	umount "$MNT"
	H members list $L | sort >"$T_DIR/before"
	before_events=$(events | wc -l)
	# Fill it: the next append finds no room.
	dd if=/dev/zero of="$R/filler" bs=4k 2>/dev/null || true
	subs 1000 40 8 "$T_DIR/st2"
	check "every request of a failing batch answers an error (no 2xx)" \
		bash -c 'test "$(wc -l <"$1")" = 40 && ! grep -q "^2" "$1"' _ "$T_DIR/st2"
	check "as 500 problem details" test "$(grep -cx 500 "$T_DIR/st2")" = 40
	rm -f "$R/filler"
	H members list $L | sort >"$T_DIR/after"
	check "the roster is as it was" cmp -s "$T_DIR/before" "$T_DIR/after"
	check "no webhook event for them" test "$(events | wc -l)" = "$before_events"
	check "the failure is logged" grep -q "a batch of .* subscriptions failed" "$V"/logs/*/subscribe
	subs 1000 40 8 "$T_DIR/st3"
	check "with room again, the same requests are 201" test "$(grep -cx 201 "$T_DIR/st3")" = 40
	check "and their members are there" test "$(H members list $L | grep -c '^sub10[0-3][0-9]@')" = 40
	kill "$WEB_PID"; wait "$WEB_PID" 2>/dev/null
	WEB_PID=
	umount "$R"
else
	skip "a full roster directory needs a tmpfs mount (root)"
fi
t_done
