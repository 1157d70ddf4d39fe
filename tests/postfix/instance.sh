#!/usr/bin/env bash
# tests/postfix/instance.sh DIR setup|start|stop - a private Postfix instance for
# the tests, never the machine's own: its main.cf and master.cf live in
# DIR/etc, its queue in DIR/spool, its log in DIR/maillog.  It listens with
# smtpd only on 127.0.0.1:$PORT (default 2525) and relays the list domains
# of herald's tables ($HERALD_TABLES: a var dir's etc/postfix, written by
# `herald mta-config postfix --write`) to herald's LMTP server.
# With HERALD_PIPE_USER and HERALD_PIPE_ARGV set, master.cf also gets the
# pipe(8) transport "herald" running that command as that user.  With
# HERALD_MAILDIRS and HERALD_MAILBOXES set, it delivers those addresses
# into Maildirs (the members of the demo and the delivery tests).
#   DIR setup   writes the configuration (main.cf, master.cf) only
#   DIR start   writes it again, fixes the queue's ownership, starts the
#               instance
#   DIR stop    stops it; safe to call when it is not running
# The machine's main.cf/master.cf are never read or written: every command
# is given the instance's directory (postfix -c, postqueue -c; herald's
# postmap -c via `herald site set mta.postfix_config DIR/etc`).  Only the
# package's own files under /etc/postfix (postfix-files, read by `postfix
# check` through the default meta_directory) are read.  Postfix 3.7 as root accepts `postfix -c DIR`
# without DIR being listed in the default main.cf's
# alternate_config_directories (there need not even be a default main.cf:
# Debian's "No configuration" install has none), so that is left alone.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 DIR setup|start|stop" >&2; exit 2; }
DIR=$1
case $DIR in /*) ;; *) DIR=$PWD/$DIR ;; esac
PORT=${PORT:-2525}
ETC=$DIR/etc
DAEMON_DIR=/usr/lib/postfix/sbin
COMMAND_DIR=/usr/sbin

configure() {
	local t=${HERALD_TABLES:?HERALD_TABLES: the var dir\'s etc/postfix}
	mkdir -p "$ETC" "$DIR/spool" "$DIR/data"
	cat >"$ETC/main.cf" <<CF
# A private Postfix instance for herald's tests (tests/postfix/instance.sh).
compatibility_level = 3.6
config_directory = $ETC
queue_directory = $DIR/spool
data_directory = $DIR/data
command_directory = $COMMAND_DIR
daemon_directory = $DAEMON_DIR
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-herald-test
maillog_file = $DIR/maillog
maillog_file_prefixes = $DIR
myhostname = mail.test
mydomain = mail.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery
alias_maps =
alias_database =
append_dot_mydomain = no
biff = no
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_bind_address = 127.0.0.1
lmtp_bind_address = 127.0.0.1
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
default_transport = error:5.7.1 no outside delivery from the test instance
relay_transport = error:5.7.1 no outside delivery from the test instance
# Only the list domains are accepted, only for the list addresses.
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
relay_domains = hash:$t/domains
relay_recipient_maps = hash:$t/recipients
transport_maps = hash:$t/transport
recipient_delimiter = +
# Retry soon (a test flushes the queue to retry at once).
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 20s
CF
	# Only smtpd on 127.0.0.1:$PORT listens; chroot off everywhere (the
	# LMTP socket and the tables are outside the queue directory).
	cat >"$ETC/master.cf" <<CF
127.0.0.1:$PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
	# Local Maildirs for member addresses, when asked for:
	# HERALD_MAILDIRS=DIR and HERALD_MAILBOXES="addr ..." deliver those
	# addresses (their domains become virtual mailbox domains) into
	# DIR/<domain>/<local>/ as Maildirs, owned by nobody.
	if [ -n "${HERALD_MAILDIRS:-}" ]; then
		local a domains=""
		mkdir -p "$HERALD_MAILDIRS"
		: >"$ETC/mailboxes"
		for a in $HERALD_MAILBOXES; do
			printf '%s %s/%s/\n' "$a" "${a#*@}" "${a%@*}" >>"$ETC/mailboxes"
			case " $domains " in *" ${a#*@} "*) ;; *) domains="$domains ${a#*@}" ;; esac
		done
		postmap -c "$ETC" "hash:$ETC/mailboxes"
		chown -R nobody:nogroup "$HERALD_MAILDIRS"
		cat >>"$ETC/main.cf" <<CF
virtual_mailbox_domains =$domains
virtual_mailbox_base = $HERALD_MAILDIRS
virtual_mailbox_maps = hash:$ETC/mailboxes
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
virtual_minimum_uid = 1
CF
		echo "virtual   unix  -       n       n       -       -       virtual" >>"$ETC/master.cf"
	fi
	# The pipe(8) transport of mta.postfix_transport = pipe, when asked
	# for: HERALD_PIPE_USER runs HERALD_PIPE_ARGV (never root).
	if [ -n "${HERALD_PIPE_USER:-}" ]; then
		printf 'herald unix - n n - - pipe flags= user=%s argv=%s\n' \
			"$HERALD_PIPE_USER" "$HERALD_PIPE_ARGV" >>"$ETC/master.cf"
		echo "herald_destination_recipient_limit = 1" >>"$ETC/main.cf"
	fi
}

running() {
	local pid
	pid=$(cat "$DIR/spool/pid/master.pid" 2>/dev/null) || return 1
	pid=${pid//[[:space:]]/}
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

case $2 in
setup)
	configure
	;;
start)
	configure
	# The data directory must belong to mail_owner; `postfix check`
	# creates the queue's directories with the owners they need.
	chown postfix: "$DIR/data"
	chmod 700 "$DIR/data"
	postfix -c "$ETC" check
	postfix -c "$ETC" start
	;;
stop)
	[ -f "$ETC/main.cf" ] || exit 0
	if running; then
		postfix -c "$ETC" stop || true
		for _ in $(seq 50); do running || break; sleep 0.1; done
	fi
	;;
*) echo "usage: $0 DIR setup|start|stop" >&2; exit 2 ;;
esac
