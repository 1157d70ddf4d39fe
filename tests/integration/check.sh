#!/usr/bin/env bash
# check.sh - `herald check`, the site doctor: no problem (exit 0) on a
# correct var dir with its master running and Postfix's maps built by
# `herald mta-config postfix --write`; then each problem it detects, made
# on purpose in a copy of that var dir, gives exit 1 and a PROBLEM line
# that names it, with a fix line.
. "$(dirname "$0")/../lib.sh"

V=$T_DIR/var
PF=$T_DIR/postfix
LIST=demo@lists.test
trap '"$HERALD" --var "$V" stop >/dev/null 2>&1; t_cleanup' EXIT

"$HERALD" --var "$V" init >/dev/null
"$HERALD" --var "$V" site set lmtp.listen "127.0.0.1:$(free_port)"
"$HERALD" --var "$V" site set mta.postfix_config "$PF"
"$HERALD" --var "$V" lists create "$LIST" --owner owner@lists.test >/dev/null
"$HERALD" --var "$V" lists create other@more.test --owner owner@lists.test >/dev/null
echo alice@members.test | "$HERALD" --var "$V" members add "$LIST" >/dev/null
HAVE_POSTFIX=0
if command -v postconf >/dev/null && command -v postmap >/dev/null; then
	HAVE_POSTFIX=1
	mkdir -p "$PF"
	cat >"$PF/main.cf" <<EOF
relay_domains = hash:$V/etc/postfix/domains
relay_recipient_maps = hash:$V/etc/postfix/recipients
transport_maps = hash:$V/etc/postfix/transport
recipient_delimiter = +
EOF
	printf 'lmtp      unix  -       -       y       -       -       lmtp\n' >"$PF/master.cf"
	"$HERALD" --var "$V" mta-config postfix --write >/dev/null
fi
"$HERALD" --var "$V" start >/dev/null

# doctor [ARGS...]: herald check's output in $T_DIR/out, its status in RC.
doctor() { "$HERALD" --var "$V" check "$@" >"$T_DIR/out" 2>&1; RC=$?; }
show() { sed 's/^/# /' "$T_DIR/out"; }
# finds "what" PATTERN [ARGS...]: exit 1, a PROBLEM line matching PATTERN
# and a fix after it.
finds() {
	local what=$1 pat=$2; shift 2
	doctor "$@"
	if [ "$RC" = 1 ] && grep -A1 "^PROBLEM: .*$pat" "$T_DIR/out" | grep -q '^  fix: '; then
		ok "herald check finds $what"
	else
		not_ok "herald check finds $what (status $RC)"
		show
	fi
}

wait_for 10 grep -q "running" <("$HERALD" --var "$V" status 2>/dev/null)
wait_for 10 python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1].split(':')[1])), 1)" \
	"$("$HERALD" --var "$V" site get lmtp.listen)"
doctor
check "a correct var dir with its master running: no problem, exit 0" \
	bash -c '[ "$1" = 0 ] && grep -q "^no problem found" "$2"' _ "$RC" "$T_DIR/out"
[ "$RC" = 0 ] || show
check "it reports the file system and the clock offset" \
	grep -q "^note: this host's clock is [+-]0.0 s off" "$T_DIR/out"
if [ "$HAVE_POSTFIX" = 1 ]; then
	check "it looked at Postfix's maps" bash -c '! grep -q "MTA.s wiring is not checked" "$1"' _ "$T_DIR/out"
else
	skip "Postfix's postconf/postmap are not installed: maps not checked"
fi

# Files.
chmod o+w "$V/lists"
finds "a world-writable directory" "world-writable.*$V/lists"
chmod o-w "$V/lists"
"$HERALD" --var "$V" dkim keygen lists.test >/dev/null 2>&1
KEY=$(find "$V/etc/dkim" -name '*.pem' | head -1)
if [ -n "$KEY" ]; then
	chmod 0644 "$KEY"
	finds "a DKIM key readable by others" "secret files.*$KEY"
	chmod 0600 "$KEY"
else
	not_ok "herald dkim keygen made no key to test with"
fi
HAD_KEY=0; [ -f "$V/etc/site.key" ] && HAD_KEY=1
touch "$V/etc/site.key" && chmod 0644 "$V/etc/site.key"
finds "a site key readable by others" "secret files.*site.key"
if [ "$HAD_KEY" = 1 ]; then chmod 0600 "$V/etc/site.key"; else rm "$V/etc/site.key"; fi
if [ "$(id -u)" = 0 ]; then
	touch "$V/lists/foreign" && chown nobody "$V/lists/foreign"
	finds "a file of another owner" "not owned by the var dir's owner.*foreign"
	rm "$V/lists/foreign"
else
	skip "a file of another owner: needs root to chown"
fi
touch -d '3 hours ago' "$V/queue/in/1234.stale.tmp"
finds "a stale temporary queue file" "stale temporary queue files.*1234.stale.tmp"
rm "$V/queue/in/1234.stale.tmp"

# Space and inodes (the thresholds moved above what the disk has).
finds "too little free space" "MB free under" --min-free-mb 999999999999
finds "too few free inodes" "free inodes under" --min-free-inodes 999999999999999

# The clock: this host's clock an hour ahead of the file server's.
if [ -n "$FAKELIB" ]; then
	doctor_at() { NO_FAKE_STAT=1 at "$1" "$HERALD" --var "$V" check >"$T_DIR/out" 2>&1; RC=$?; }
	doctor_at +1h
	if [ "$RC" = 1 ] && grep -q "^PROBLEM: this host's clock is +3[56][0-9][0-9] s off" "$T_DIR/out"; then
		ok "herald check finds a clock an hour off the file server's"
	else
		not_ok "herald check finds a clock an hour off the file server's"; show
	fi
else
	skip "libfaketime is not installed: the clock offset is not moved"
fi

# The MTA: a list Postfix's maps do not have (tables not rewritten).
if [ "$HAVE_POSTFIX" = 1 ]; then
	cp "$V/etc/postfix/transport" "$T_DIR/transport.good"
	grep -v '^other' "$T_DIR/transport.good" >"$V/etc/postfix/transport"
	postmap -c "$PF" "$V/etc/postfix/transport"
	finds "a list missing from transport_maps" "transport_maps .*lacks 1 of herald's lists: other@more.test"
	cp "$T_DIR/transport.good" "$V/etc/postfix/transport"
	postmap -c "$PF" "$V/etc/postfix/transport"
	sed -i '/^relay_domains/d' "$PF/main.cf"
	finds "relay_domains without the list domains" "relay_domains .*lacks 2 of herald's domains"
	echo "relay_domains = hash:$V/etc/postfix/domains" >>"$PF/main.cf"
	LISTEN=$("$HERALD" --var "$V" site get lmtp.listen)
	"$HERALD" --var "$V" site set lmtp.listen "unix:$V/run/lmtp.sock"
	finds "a unix LMTP socket a chrooted Postfix cannot reach" "runs chrooted"
	"$HERALD" --var "$V" site set lmtp.listen "$LISTEN"
else
	skip "Postfix's maps: postconf/postmap are not installed"
fi
if getent passwd postfix >/dev/null && [ "$(id -u)" = 0 ]; then
	LISTEN=$("$HERALD" --var "$V" site get lmtp.listen)
	"$HERALD" --var "$V" site set lmtp.listen "unix:$V/run/lmtp.sock"
	chmod o+x "$T_DIR" "$V"
	chmod 0750 "$V/run"
	finds "an LMTP socket the postfix user cannot reach" "postfix user cannot search $V/run"
	chmod o-x "$V"
	"$HERALD" --var "$V" site set lmtp.listen "$LISTEN"
else
	skip "the postfix user's access: no user postfix, or not root"
fi

# Lists, rosters, queues.
CONF=$V/lists/$LIST/config
cp "$CONF" "$T_DIR/config.good"
sed -i '/^max_message_size=/d; /^\[general\]/a max_message_size=lots' "$CONF"
finds "a list setting of the wrong type" "list $LIST: .*max_message_size"
cp "$T_DIR/config.good" "$CONF"
mkdir -p "$V/queue/shunt"
printf 'not a message\n' >"$V/queue/shunt/0001.broken.msg"
finds "messages in the shunt queue" "messages failed and wait in the shunt queue"
rm "$V/queue/shunt/0001.broken.msg"
if [ "$(id -u)" != 0 ]; then
	touch "$V/queue/in/0002.locked.msg" && chmod 0 "$V/queue/in/0002.locked.msg"
	finds "a queue file herald cannot read" "cannot read and write: .*0002.locked.msg"
	rm -f "$V/queue/in/0002.locked.msg"
else
	skip "a queue file herald cannot read: root reads everything"
fi

# Masters.
"$HERALD" --var "$V" stop >/dev/null
finds "no master running" "no master runs on any host"
echo 999999 >"$V/run/master.$(hostname -s).pid"
HERALD_HOST=$(hostname -s) finds "a stale pid file" "stale pid file"
rm -f "$V/run/master.$(hostname -s).pid"
# A master killed: its host lease expires and is not released.
"$HERALD" --var "$V" site set master.lease_lifetime 1
"$HERALD" --var "$V" start >/dev/null
kill -9 "$(cat "$V"/run/master.*.pid)"
sleep 1.5
finds "a master that died" "the master on .* died"
rm -f "$V"/run/master.*.pid
t_done
