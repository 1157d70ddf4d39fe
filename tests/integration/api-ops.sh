#!/usr/bin/env bash
# The REST API (docs/api.md), every operation with good and bad input:
# missing, unknown and revoked tokens (401), a read-only token writing and
# a list token on another list (403), unknown lists and settings (404),
# wrong types and bad fields (422, the field named in the problem
# details), a stale If-Match (412), Idempotency-Key replays; after each
# error, nothing changed.  Every call is logged, and at the end every
# operation of docs/api/openapi.json must have been called, and every
# status seen must be one the file documents for that operation.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@example.org
O=other@example.org
H lists create $L --owner admin@example.org >/dev/null
H lists create $O --owner admin@example.org >/dev/null
web_serve "$V" || { not_ok "the web service starts"; t_done; }
A=$(H api token create admin)
R=$(H api token create --read-only reader)
LT=$(H api token create --list $L demo-bot)
X=$(H api token create gone)
check "api token create prints a token" test "${A:0:4}" = hrd_
check "api token list shows four tokens" test "$(H api token list | wc -l)" -eq 4
check "no token text is stored" bash -c '! grep -rqF -- "${1#hrd_*_}" "$2/api"' _ "$A" "$V"
check "revoke by name" bash -c '"$1" --var "$2" api token revoke gone >/dev/null' _ "$HERALD" "$V"
check "list shows it revoked" bash -c '"$1" --var "$2" api token list | grep -P "\tgone\t" | grep -qv -P "\t-$"' _ "$HERALD" "$V"
check "revoking again fails" bash -c '! "$1" --var "$2" api token revoke gone 2>/dev/null' _ "$HERALD" "$V"
check "a token for an unknown list is refused" bash -c '! "$1" --var "$2" api token create --list no@example.org x 2>/dev/null' _ "$HERALD" "$V"

CALLS=$T_DIR/calls
OUT=$T_DIR/out
# req TOKEN METHOD TEMPLATE PATH [BODY [HEADER...]]: one call; S gets the
# status, $OUT the body, $OUT.h the headers.
req() {
	local tok=$1 m=$2 tpl=$3 path=$4 body=${5:-}; shift 5 2>/dev/null || shift $#
	local args=(-s -o "$OUT" -D "$OUT.h" -w '%{http_code}' -X "$m")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	for h in "$@"; do args+=(-H "$h"); done
	S=$(curl "${args[@]}" "${WEB_BASE}api/v1$path")
	echo "$m $tpl $S" >>"$CALLS"
}
# is STATUS DESCRIPTION: the last call answered STATUS.
is() { if [ "$S" = "$1" ]; then ok "$2 ($1)"; else not_ok "$2 (want $1, got $S: $(head -c 300 "$OUT"))"; fi; }
# jq_is FILTER: the last answer's JSON makes FILTER true.
jq_is() { jq -e "$1" "$OUT" >/dev/null; }
# problem FIELD: the last answer is problem+json naming FIELD (or none).
problem() {
	grep -qi '^content-type: application/problem+json' "$OUT.h" &&
		jq -e --arg f "$1" '.type and .title and .status and ($f == "" or .field == $f)' "$OUT" >/dev/null
}
members() { H members list $L | sort | tr '\n' ' '; }
haslist() { H lists | grep -qx "$1"; }

# --- tokens -----------------------------------------------------------------
req "" GET /lists /lists;                       is 401 "no token"
check "a problem document" problem ""
req "hrd_0000000000000000_nope" GET /lists /lists; is 401 "an unknown token"
req "${A%?}x" GET /lists /lists;                is 401 "a token with a wrong secret"
req "$X" GET /lists /lists;                     is 401 "a revoked token"
req "$A" GET /lists /lists;                     is 200 "GET /lists"
check "it has both lists" jq_is '[.lists[].address] == ["demo@example.org","other@example.org"]'
req "$LT" GET /lists /lists;                    is 200 "GET /lists with a list token"
check "which sees its list only" jq_is '[.lists[].address] == ["demo@example.org"]'
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $A" "${WEB_BASE}api/v1/nothing")
check "an unknown resource is 404 ($code)" test "$code" = 404
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $A" "${WEB_BASE}api/v2/lists")
check "another version is 404 ($code)" test "$code" = 404
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${WEB_BASE}listinfo/$L")
check "DELETE on a page is 405 ($code)" test "$code" = 405

# --- lists ------------------------------------------------------------------
req "$A" POST /lists /lists '{"address":"new@example.org","owners":["o@example.org"]}'; is 201 "create a list"
check "it exists" haslist new@example.org
req "$A" POST /lists /lists '{"address":"new@example.org","owners":["o@example.org"]}'; is 409 "create it again"
req "$A" POST /lists /lists '{"address":"Bad Name","owners":["o@example.org"]}'; is 422 "a bad list name"
check "naming the field address" problem address
req "$A" POST /lists /lists '{"address":"x@example.org","owners":"o@example.org"}'; is 422 "owners not an array"
check "naming owners" problem owners
req "$A" POST /lists /lists '{"address":"x@example.org","owners":["nobody"]}'; is 422 "a bad owner"
req "$A" POST /lists /lists '{"address":42,"owners":["o@example.org"]}'; is 422 "address not a string"
req "$A" POST /lists /lists 'not json'; is 400 "a body that is not JSON"
req "$R" POST /lists /lists '{"address":"x@example.org","owners":["o@example.org"]}'; is 403 "a read-only token creating"
req "$LT" POST /lists /lists '{"address":"x@example.org","owners":["o@example.org"]}'; is 403 "a list token creating"
check "no list x was made" bash -c '! "$1" --var "$2" lists | grep -q ^x@' _ "$HERALD" "$V"
req "$A" GET /lists/{list} /lists/$L;           is 200 "GET a list"
check "with its settings, typed" jq_is '.settings.max_message_size == 40 and .settings.advertised == true and (.settings.ban_list|type) == "array"'
req "$A" GET /lists/{list} /lists/no@example.org; is 404 "an unknown list"
check "naming list" problem list
req "$LT" GET /lists/{list} /lists/$O;          is 403 "a list token on another list"
req "$R" DELETE /lists/{list} /lists/new@example.org; is 403 "a read-only token removing"
req "$LT" DELETE /lists/{list} /lists/$L;       is 403 "a list token removing its list"
check "both lists are still there" test "$(H lists | grep -c -e ^new@ -e ^demo@)" = 2
req "$A" DELETE /lists/{list} /lists/new@example.org; is 204 "remove a list"
req "$A" DELETE /lists/{list} /lists/new@example.org; is 404 "remove it again"

# --- settings ---------------------------------------------------------------
req "$A" GET /lists/{list}/settings /lists/$L/settings; is 200 "GET settings"
check "every setting" jq_is 'has("subscribe_policy") and has("real_name")'
req "$A" GET /lists/{list}/settings/{name} /lists/$L/settings/max_message_size; is 200 "GET a setting"
etag=$(grep -i '^etag:' "$OUT.h" | cut -d' ' -f2 | tr -d '\r')
check "with an ETag" test -n "$etag"
req "$A" PUT /lists/{list}/settings/{name} /lists/$L/settings/max_message_size '{"value":"big"}'; is 422 "a string for an integer"
check "naming the setting" problem max_message_size
req "$A" PUT /lists/{list}/settings/{name} /lists/$L/settings/max_message_size '{"value":-5}'; is 422 "an integer out of range"
req "$A" PUT /lists/{list}/settings/{name} /lists/$L/settings/no_such_thing '{"value":1}'; is 404 "an unknown setting"
check "naming it" problem no_such_thing
req "$R" PUT /lists/{list}/settings/{name} /lists/$L/settings/max_message_size '{"value":80}'; is 403 "a read-only token setting"
req "$LT" PUT /lists/{list}/settings/{name} /lists/$O/settings/max_message_size '{"value":80}'; is 403 "a list token on another list setting"
check "nothing changed" test "$(H config get $L max_message_size)" = 40
req "$A" PUT /lists/{list}/settings/{name} /lists/$L/settings/max_message_size '{"value":80}' "If-Match: $etag"; is 200 "PUT with the right If-Match"
check "it changed" test "$(H config get $L max_message_size)" = 80
req "$A" PUT /lists/{list}/settings/{name} /lists/$L/settings/max_message_size '{"value":120}' "If-Match: $etag"; is 412 "PUT with a stale If-Match"
check "and it stayed" test "$(H config get $L max_message_size)" = 80
req "$LT" PUT /lists/{list}/settings/{name} /lists/$L/settings/advertised '{"value":false}'; is 200 "a list token setting a boolean"
check "it is set" test "$(H config get $L advertised)" = no
req "$A" PUT /lists/{list}/settings/{name} /lists/$L/settings/ban_list '{"value":["bad@example.com","^.*@spam\\.test$"]}'; is 200 "a list setting as an array"
req "$A" PUT /lists/{list}/settings/{name} /lists/$L/settings/ban_list '{"value":"bad@example.com"}'; is 422 "a list setting as a string"
req "$A" PUT /lists/{list}/settings/{name} /lists/$L/settings/advertised '{"value":"yes"}'; is 422 "a string for a boolean"

# --- members ----------------------------------------------------------------
req "$A" POST /lists/{list}/members /lists/$L/members '{"address":"ann@example.com","name":"Ann"}'; is 201 "add a member"
check "outcome subscribed" jq_is '.outcome == "subscribed"'
req "$A" POST /lists/{list}/members /lists/$L/members '{"address":"ann@example.com","name":"Ann"}'; is 200 "add her again (idempotent)"
check "outcome already-member" jq_is '.outcome == "already-member"'
req "$A" POST /lists/{list}/members /lists/$L/members '{"address":"not an address"}'; is 422 "a bad address"
check "naming address" problem address
req "$A" POST /lists/{list}/members /lists/$L/members '{"address":"b@example.com","name":7}'; is 422 "a name that is no string"
req "$A" POST /lists/{list}/members /lists/$L/members '{"address":"b@example.com","colour":"red"}'; is 422 "an unknown field"
check "naming it" problem colour
req "$A" POST /lists/{list}/members /lists/$L/members '{"address":"bad@example.com"}'; is 403 "a banned address"
req "$R" POST /lists/{list}/members /lists/$L/members '{"address":"b@example.com"}'; is 403 "a read-only token adding"
req "$LT" POST /lists/{list}/members /lists/$O/members '{"address":"b@example.com"}'; is 403 "a list token adding to another list"
req "$A" POST /lists/{list}/members /lists/$L/members '{"members":[{"address":"c@example.com"},{"address":"nope"}]}'; is 422 "many with one bad"
check "nothing was added" test "$(members)" = "ann@example.com "
req "$LT" POST /lists/{list}/members /lists/$L/members '{"members":[{"address":"c@example.com","name":"C"},{"address":"d@example.com"},{"address":"ann@example.com"}]}'; is 200 "add many"
check "each has its outcome" jq_is '[.results[].outcome] == ["subscribed","subscribed","already-member"]'
check "the roster" test "$(members)" = "ann@example.com c@example.com d@example.com "
req "$A" POST /lists/{list}/members /lists/$L/members '{"address":"e@example.com","confirm":true}'; is 202 "add asking for confirmation"
check "outcome confirmation-sent" jq_is '.outcome == "confirmation-sent"'
check "e is not a member yet" test "$(members)" = "ann@example.com c@example.com d@example.com "
req "$A" GET /lists/{list}/members "/lists/$L/members?limit=2"; is 200 "a page of members"
check "two, and a cursor, in address order, dated" jq_is '(.members|length) == 2 and .total == 3 and (.next_cursor|type) == "string" and [.members[].address] == ["ann@example.com","c@example.com"] and ([.members[].subscribed] | all(. > now - 3600))'
cur=$(jq -r .next_cursor "$OUT")
req "$A" GET /lists/{list}/members "/lists/$L/members?limit=2&cursor=$cur"; is 200 "the next page"
check "the last member, no cursor" jq_is '[.members[].address] == ["d@example.com"] and .next_cursor == null'
req "$A" GET /lists/{list}/members "/lists/$L/members?limit=0"; is 400 "limit 0"
check "naming limit" problem limit
req "$A" GET /lists/{list}/members "/lists/$L/members?cursor=%21%21"; is 400 "a bad cursor"
req "$A" GET /lists/{list}/members "/lists/$L/members?status=asleep"; is 400 "an unknown status filter"
req "$A" GET /lists/{list}/members "/lists/$L/members?q=ann"; is 200 "a filter"
check "finds ann" jq_is '[.members[].address] == ["ann@example.com"]'
req "$R" GET /lists/{list}/members/{address} /lists/$L/members/ann@example.com; is 200 "GET a member (read-only token)"
check "her record, subscribed this hour" jq_is '.name == "Ann" and .mode == "regular" and .options.nodupes == true and .subscribed > now - 3600 and .subscribed <= now + 60'
req "$A" GET /lists/{list}/members/{address} /lists/$L/members/zed@example.com; is 404 "a non-member"
req "$A" PATCH /lists/{list}/members/{address} /lists/$L/members/ann@example.com '{"name":"Ann B","mode":"mime","options":{"ack":true}}'; is 200 "PATCH a member"
check "changed" jq_is '.name == "Ann B" and .mode == "mime" and .options.ack == true'
req "$A" PATCH /lists/{list}/members/{address} /lists/$L/members/ann@example.com '{"name":"X","mode":"weekly"}'; is 422 "PATCH a bad mode"
check "naming mode" problem mode
req "$A" PATCH /lists/{list}/members/{address} /lists/$L/members/ann@example.com '{"options":{"fly":true}}'; is 422 "PATCH an unknown option"
req "$A" PATCH /lists/{list}/members/{address} /lists/$L/members/ann@example.com '{"password":"x"}'; is 422 "PATCH a field it cannot change"
req "$A" PATCH /lists/{list}/members/{address} /lists/$L/members/zed@example.com '{"name":"Z"}'; is 404 "PATCH a non-member"
req "$R" PATCH /lists/{list}/members/{address} /lists/$L/members/ann@example.com '{"name":"R"}'; is 403 "PATCH with a read-only token"
check "nothing changed by the bad PATCHes" bash -c '"$1" --var "$2" members show "$3" ann@example.com | grep -q "Ann B"' _ "$HERALD" "$V" $L
req "$A" GET /members/{address} /members/ann@example.com; is 200 "find an address across lists"
check "one membership" jq_is '[.memberships[].list] == ["demo@example.org"]'
req "$R" DELETE /lists/{list}/members/{address} /lists/$L/members/d@example.com; is 403 "DELETE with a read-only token"
req "$A" DELETE /lists/{list}/members/{address} /lists/$L/members/d@example.com; is 200 "remove a member"
check "outcome unsubscribed" jq_is '.outcome == "unsubscribed"'
req "$A" DELETE /lists/{list}/members/{address} /lists/$L/members/d@example.com; is 200 "remove again (idempotent)"
check "outcome not-member" jq_is '.outcome == "not-member"'
check "the roster" test "$(members)" = "ann@example.com c@example.com "

# --- Idempotency-Key --------------------------------------------------------
req "$A" POST /lists/{list}/members /lists/$L/members '{"address":"f@example.com"}' "Idempotency-Key: k1"; is 201 "a POST with a key"
H members remove $L <<<"f@example.com" >/dev/null 2>&1
req "$A" POST /lists/{list}/members /lists/$L/members '{"address":"f@example.com"}' "Idempotency-Key: k1"; is 201 "the same POST again: the stored answer"
check "marked replayed" grep -qi '^idempotent-replayed: true' "$OUT.h"
check "and not done twice (f stays removed)" test "$(members)" = "ann@example.com c@example.com "
req "$A" POST /lists/{list}/members /lists/$L/members '{"address":"g@example.com"}' "Idempotency-Key: k1"; is 422 "the key with another request"
check "naming Idempotency-Key" problem Idempotency-Key
req "$R" POST /lists/{list}/members /lists/$L/members '{"address":"f@example.com"}' "Idempotency-Key: k1"; is 403 "keys are per token"

# --- held posts -------------------------------------------------------------
pipeline_runners "$V"
hold() {
	printf 'From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s@example.net>\n\nbody\n' \
		"$1" "$L" "$2" "$RANDOM" | H mta post $L --sender "$1" &&
		H runner in --once >>"$T_DIR/runner.log" 2>&1
}
hold stranger@example.net "first"
hold stranger@example.net "second"
req "$A" GET /lists/{list}/held /lists/$L/held; is 200 "GET held posts"
check "two held" jq_is '(.held|length) == 2 and .held[0].poster == "stranger@example.net"'
id=$(jq -r '.held[0].id' "$OUT")
req "$A" GET /lists/{list}/held/{id} /lists/$L/held/$id; is 200 "GET one held post"
check "with its message" jq_is '.message | contains("Subject: first")'
req "$A" GET /lists/{list}/held/{id} /lists/$L/held/999; is 404 "an unknown held post"
req "$A" POST /lists/{list}/held/{id} /lists/$L/held/$id '{"action":"eat"}'; is 422 "an unknown action"
check "naming action" problem action
req "$A" POST /lists/{list}/held/{id} /lists/$L/held/$id '{"action":1}'; is 422 "an action that is no string"
req "$R" POST /lists/{list}/held/{id} /lists/$L/held/$id '{"action":"discard"}'; is 403 "a read-only token deciding"
check "both still held" test "$(H held list $L | wc -l)" -eq 2
req "$A" POST /lists/{list}/held/{id} /lists/$L/held/$id '{"action":"discard"}'; is 200 "discard"
req "$A" POST /lists/{list}/held/{id} /lists/$L/held/$id '{"action":"discard"}'; is 404 "discard it again"
check "one held" test "$(H held list $L | wc -l)" -eq 1

# --- subscription requests --------------------------------------------------
mkreq() {
	local t
	t=$(python3 -c 'import secrets,base64;print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="))')
	mkdir -p "$V/lists/$L/pending"
	printf 'herald-pending 1\nkind: subscribe\nstate: approve\naddress: %s\nname: \ndigest: no\npassword: \nheld-id: 0\nrequester: %s\nvia: mail\nlanguage: \nreason: \ncreated: %s\nexpires: 0\n' "$1" "$1" "$(date +%s)" >"$V/lists/$L/pending/$t"
	echo "$t"
}
T1=$(mkreq wants@example.com)
req "$A" GET /lists/{list}/requests /lists/$L/requests; is 200 "GET requests"
check "the request" jq_is '[.requests[].address] == ["wants@example.com"]'
req "$A" POST /lists/{list}/requests/{token} /lists/$L/requests/$T1 '{"action":"maybe"}'; is 422 "an unknown decision"
req "$A" POST /lists/{list}/requests/{token} /lists/$L/requests/short '{"action":"approve"}'; is 404 "not a token"
req "$R" POST /lists/{list}/requests/{token} /lists/$L/requests/$T1 '{"action":"approve"}'; is 403 "a read-only token approving"
req "$A" POST /lists/{list}/requests/{token} /lists/$L/requests/$T1 '{"action":"approve"}'; is 200 "approve"
check "a member now" bash -c '"$1" --var "$2" members list "$3" | grep -qx wants@example.com' _ "$HERALD" "$V" $L
req "$A" POST /lists/{list}/requests/{token} /lists/$L/requests/$T1 '{"action":"approve"}'; is 404 "approve it again"

# --- bounces ----------------------------------------------------------------
req "$A" GET /lists/{list}/bounces /lists/$L/bounces; is 200 "GET bounces"
check "none yet" jq_is '.bounces == []'
req "$A" POST /lists/{list}/bounces/{address} /lists/$L/bounces/ann@example.com '{"action":"reset"}'; is 200 "reset a member"
req "$A" POST /lists/{list}/bounces/{address} /lists/$L/bounces/zed@example.com '{"action":"reset"}'; is 404 "reset a non-member"
req "$A" POST /lists/{list}/bounces/{address} /lists/$L/bounces/ann@example.com '{"action":"forget"}'; is 422 "an unknown bounce action"
req "$R" POST /lists/{list}/bounces/{address} /lists/$L/bounces/ann@example.com '{"action":"reset"}'; is 403 "a read-only token resetting"

# --- archive, status, metrics -----------------------------------------------
req "$A" GET /lists/{list}/archive "/lists/$L/archive?q=hello"; is 200 "search the archive"
check "no hits" jq_is '.hits == []'
req "$A" GET /lists/{list}/archive "/lists/$L/archive"; is 400 "a search without q"
req "$A" GET /status /status; is 200 "GET status"
check "queues and host" jq_is '(.queues|type) == "array" and (.host|type) == "string"'
req "$LT" GET /status /status; is 403 "status with a list token"
m=$(curl -s "${WEB_BASE}metrics")
check "/metrics from loopback" grep -q '^herald_lists 2$' <<<"$m"
check "/metrics has queue lengths" grep -q '^herald_queue_ready{queue="in"} ' <<<"$m"
check "/metrics has held posts" grep -q "^herald_held_posts{list=\"$L\"} 1$" <<<"$m"

# --- every documented operation was called, with documented statuses --------
check "every operation of openapi.json was called, every status documented" \
	python3 - "$HERALD_TOP/docs/api/openapi.json" "$CALLS" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1]))
calls = [l.split() for l in open(sys.argv[2])]
ok = True
seen = set()
for m, tpl, st in calls:
    op = spec["paths"].get(tpl, {}).get(m.lower())
    if op is None:
        print("# undocumented call:", m, tpl); ok = False; continue
    seen.add((m.lower(), tpl))
    if st not in op["responses"]:
        print("# status", st, "not documented for", m, tpl); ok = False
for path, item in spec["paths"].items():
    for m in item:
        if m in ("get", "put", "post", "delete", "patch") and (m, path) not in seen:
            print("# never called:", m.upper(), path); ok = False
sys.exit(0 if ok else 1)
EOF
kill $WEB_PID; wait $WEB_PID 2>/dev/null
t_done
