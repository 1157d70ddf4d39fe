#!/usr/bin/env bash
# Subscription requests on the command line: `members add --welcome`
# mails the welcome (and without it none), `members remove --goodbye` the
# goodbye, admin_notify_mchanges tells the owners; `members invite` sends
# invitations with their confirm token; `requests list|approve|reject|
# discard` decide requests awaiting a moderator (by a unique prefix of
# the ID); `tasks run pending.expire` removes expired requests.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@example.org
H lists create $L --owner admin@example.org >/dev/null
# virgin KEY: how many notices in the virgin queue hold KEY
virgin() { grep -l -- "$1" "$V"/queue/virgin/*.msg 2>/dev/null | wc -l; }

echo quiet@example.com | H members add $L >/dev/null
check "members add sends no welcome unasked" test "$(virgin 'You are subscribed as')" -eq 0
echo new@example.com | H members add $L --welcome >/dev/null
check "members add --welcome sends it" test "$(virgin 'rcpt: new@example.com')" -eq 1
check "and it is the welcome" grep -q "You are subscribed as new@example.com" $(grep -l 'rcpt: new@example.com' "$V"/queue/virgin/*.msg)
echo other@example.com | H members add $L --welcome --no-welcome >/dev/null
check "--no-welcome wins" test "$(virgin 'rcpt: other@example.com')" -eq 0
H config set $L admin_notify_mchanges yes
echo new@example.com | H members remove $L --goodbye >/dev/null
check "members remove --goodbye sends the goodbye" test "$(virgin 'is no longer subscribed to')" -eq 1
check "the owners are told (admin_notify_mchanges)" test "$(virgin 'new@example.com is no longer a member of the')" -eq 1

out=$(printf 'inv@example.com\nquiet@example.com\nnot an address\n' | H members invite $L 2>"$T_DIR/inv.err")
check "members invite reports what it did ($out)" test "$out" = "invited 1 address to $L; 1 skipped, 1 bad lines"
check "a member is not invited" grep -q '^quiet@example.com: the address is a member already' "$T_DIR/inv.err"
check "the invitation carries a confirm token" bash -c 'grep -l "rcpt: inv@example.com" "$1"/queue/virgin/*.msg | xargs grep -q "^Subject: confirm [A-Za-z0-9_-]\{43\}$"' _ "$V"
check "requests list does not show it (it awaits the invitee)" test -z "$(H requests list $L)"
check "requests list --all does" bash -c '"$1" --var "$2" requests list "$3" --all | grep -q " invite  inv@example.com .*awaits a confirmation"' _ "$HERALD" "$V" $L

# Requests for a moderator: subscribe_policy 2 through the library's
# callers is what the mail tests prove; here they are made by hand.
mkreq() {	# mkreq ADDR: a request awaiting approval, its token printed
	local t
	t=$(python3 -c 'import secrets,base64;print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="))')
	mkdir -p "$V/lists/$L/pending"
	printf 'herald-pending 1\nkind: subscribe\nstate: approve\naddress: %s\nname: \ndigest: no\npassword: \nheld-id: 0\nrequester: %s\nvia: mail\nlanguage: \nreason: \ncreated: %s\nexpires: 0\n' "$1" "$1" "$(date +%s)" >"$V/lists/$L/pending/$t"
	echo "$t"
}
T1=$(mkreq one@example.com)
T2=$(mkreq two@example.com)
T3=$(mkreq three@example.com)
check "requests list shows the three" test "$(H requests list $L | wc -l)" -eq 3
check "approve by a prefix of the ID" H requests approve $L "${T1:0:10}"
check "the address is a member" bash -c '"$1" --var "$2" members list "$3" | grep -qx one@example.com' _ "$HERALD" "$V" $L
check "and got the welcome" test "$(virgin 'rcpt: one@example.com')" -eq 1
check "a second approval finds nothing" bash -c '! "$1" --var "$2" requests approve "$3" "$4" 2>/dev/null' _ "$HERALD" "$V" $L "$T1"
check "too short an ID is refused" bash -c '! "$1" --var "$2" requests approve "$3" abc 2>&1 | grep -q "too short"; [ ${PIPESTATUS[0]} -ne 0 ]' _ "$HERALD" "$V" $L
check "reject with a reason" H requests reject $L "$T2" --reason "no strangers"
check "tells the requester why" grep -q "no strangers" $(grep -l 'rcpt: two@example.com' "$V"/queue/virgin/*.msg)
check "discard" H requests discard $L "$T3"
check "says nothing to the requester" test "$(virgin 'rcpt: three@example.com')" -eq 0
check "no request is left" test -z "$(H requests list $L --all | grep -v ' invite ')"

# pending.expire: an expired confirmation goes, the rest stays.
f=$(ls "$V/lists/$L/pending/" | head -1)
sed -i 's/^expires: .*/expires: 1/' "$V/lists/$L/pending/$f"
out=$(H tasks run pending.expire)
check "pending.expire removes the expired request ($out)" test "$out" = "pending.expire: ok: 1 expired request removed on 1 list (manual run)"
check "and nothing is left" test -z "$(H requests list $L --all)"
t_done
