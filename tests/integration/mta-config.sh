#!/usr/bin/env bash
# `herald mta-config postfix`: the Postfix tables that route every list
# address to herald's LMTP server, kept current by `lists create/remove`.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
H lists create demo@lists.example.org --owner admin@example.org >/dev/null
out=$(H mta-config postfix 2>&1)
check "without lmtp.listen it says what to set ($out)" bash -c "echo \"\$1\" | grep -q 'lmtp.listen is not set'" _ "$out"
H site set lmtp.listen "unix:$V/run/lmtp.sock"
out=$(H mta-config postfix)
for s in "" -request -join -subscribe -leave -unsubscribe -owner -admin -bounces -confirm; do
	echo "$out" | grep -qx "demo$s@lists.example.org	lmtp:unix:$V/run/lmtp.sock" ||
		not_ok "no transport line for demo$s@lists.example.org"
done
check "every list address has a transport line to the LMTP socket" test "$(echo "$out" | grep -c "	lmtp:unix:")" -eq 10
check "the domain is a relay domain" bash -c "echo \"\$1\" | grep -qx \$'lists.example.org\therald'" _ "$out"
check "the main.cf lines name the tables by absolute path" bash -c "echo \"\$1\" | grep -qx '#   transport_maps = hash:$V/etc/postfix/transport'" _ "$out"
check "recipient_delimiter + is asked for (VERP and confirm tokens)" bash -c "echo \"\$1\" | grep -qx '#   recipient_delimiter = +'" _ "$out"
check "--write installs the tables" H mta-config postfix --write
check "in etc/postfix of the var dir" test -f "$V/etc/postfix/transport" -a -f "$V/etc/postfix/recipients" -a -f "$V/etc/postfix/domains"
H lists create news@other.example.net --owner admin@example.org >/dev/null
check "a new list is added to the installed tables" grep -q "^news-bounces@other.example.net	" "$V/etc/postfix/transport"
check "with its domain" grep -q "^other.example.net	" "$V/etc/postfix/domains"
H lists remove demo@lists.example.org >/dev/null
check "a removed list leaves the tables" bash -c "! grep -q '^demo' '$V/etc/postfix/transport' && ! grep -q '^lists.example.org' '$V/etc/postfix/domains'"
H site set lmtp.listen 127.0.0.1:8024
H mta-config postfix --write
check "a TCP listener becomes lmtp:inet:HOST:PORT" grep -q "^news@other.example.net	lmtp:inet:127.0.0.1:8024$" "$V/etc/postfix/transport"
# With the configuration of a Postfix, postmap builds the .db tables.
if [ -x /usr/sbin/postmap ]; then
	mkdir -p "$T_DIR/pf" && : >"$T_DIR/pf/main.cf"
	H site set mta.postfix_config "$T_DIR/pf"
	check "with mta.postfix_config set, --write runs postmap" H mta-config postfix --write
	check "which builds transport.db" test -f "$V/etc/postfix/transport.db"
	check "and postmap answers from it" bash -c "[ \"\$(postmap -c '$T_DIR/pf' -q news@other.example.net hash:'$V/etc/postfix/transport')\" = lmtp:inet:127.0.0.1:8024 ]"
else
	diag "postfix is not installed: postmap not exercised"
fi
t_done
