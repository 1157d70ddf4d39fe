#!/usr/bin/env bash
# package.sh - the Debian package, on this machine: built from the tree
# (debian/), lintian without errors, installed (the herald user, the unit
# enabled, the var dir), `herald init`, a list, a post delivered through
# the out runner to Postfix's smtp-sink, `herald check`, and purged (no
# program, user or var dir left).  Needs root; runs with the normal build
# only (the package is built once); leaves a herald package installed
# before it alone.
# sanitizer build: skip (builds and installs the Debian package; the normal build runs it)
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ]; then
	skip "package: needs root to install a package (dpkg -i)"
	t_done
fi
case $HERALD_BUILD in
*san*) skip "package: built once, from the normal build, not $HERALD_BUILD"; t_done ;;
esac
for tool in dpkg-buildpackage dh smtp-sink; do
	if ! command -v "$tool" >/dev/null; then
		skip "package: $tool is missing (scripts/install-deps.sh installs it)"
		t_done
	fi
done
if dpkg-query -W -f='${Status}' herald 2>/dev/null | grep -q installed; then
	skip "package: a herald package is installed on this machine; not touched"
	t_done
fi

SRC=$T_DIR/src/herald
SINK=$T_DIR/sink
LIST=demo@lists.test
MEMBERS="alice@members.test bob@members.test carol@members.test"
SINK_PID=
purge() { dpkg --purge herald >/dev/null 2>&1; }
trap '[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null;
      runuser -u herald -- herald stop >/dev/null 2>&1; purge; t_cleanup' EXIT

# The tree as git knows it (with what is not committed yet).
mkdir -p "$SRC" && chmod o+x "$T_DIR"
if git -C "$HERALD_TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$HERALD_TOP" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 cp -p --parents -t "$SRC" 2>/dev/null)
else	# a tree without git: everything but the build dirs
	tar -C "$HERALD_TOP" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$SRC" -xf -
fi
check "the package builds from the tree (dpkg-buildpackage)" \
	bash -c 'cd "$1" && dpkg-buildpackage -b -us -uc >"$2/build.log" 2>&1' _ "$SRC" "$T_DIR"
DEB=$(ls "$T_DIR"/src/herald_*_*.deb 2>/dev/null | head -1)
if [ -z "$DEB" ]; then
	tail -30 "$T_DIR/build.log" | sed 's/^/# /'
	t_done
fi
if command -v lintian >/dev/null; then
	lintian --fail-on error "$DEB" >"$T_DIR/lintian" 2>&1
	check "lintian finds no error in it" [ $? = 0 ]
	sed 's/^/# /' "$T_DIR/lintian" | grep -v "root privileges"
else
	skip "lintian is not installed"
fi

check "it installs (dpkg -i)" bash -c 'dpkg -i "$1" >"$2/install.log" 2>&1' _ "$DEB" "$T_DIR"
check "the system user herald exists" getent passwd herald
check "the program is /usr/sbin/herald" test -x /usr/sbin/herald
check "and the MTA's pipe program /usr/sbin/herald-mta (herald-mta.8 its page)" \
	test -x /usr/sbin/herald-mta -a -f /usr/share/man/man8/herald-mta.8.gz
check "the var dir /var/lib/herald belongs to herald" \
	test "$(stat -c %U /var/lib/herald 2>/dev/null)" = herald
check "the unit is installed and enabled" \
	test -L /etc/systemd/system/multi-user.target.wants/herald.service
check "the man pages are installed" test -f /usr/share/man/man8/herald.8.gz \
	-a -f /usr/share/man/man8/herald-members.8.gz -a -f /usr/share/man/man5/herald.conf.5.gz
check "the logrotate snippet is installed" test -f /etc/logrotate.d/herald

H() { runuser -u herald -- /usr/sbin/herald "$@"; }
check "herald init makes the default var dir" bash -c 'runuser -u herald -- herald init >/dev/null &&
	test "$(stat -c %U /var/lib/herald/etc/herald.conf)" = herald'
check "/etc/herald is the var dir's etc" test -f /etc/herald/herald.conf

PORT=$(free_port)
mkdir -p "$SINK" && chown herald "$SINK"
smtp-sink -u herald -d "$SINK/%M." "127.0.0.1:$PORT" 10 &
SINK_PID=$!
H site set mta.smtp_port "$PORT"
H site set master.restart_backoff_max 1
H lists create "$LIST" --owner owner@members.test >/dev/null
for m in $MEMBERS; do echo "$m"; done | H members add "$LIST" >/dev/null
check "a list with three members" test "$(H members list "$LIST" | wc -l)" = 3
printf 'From: Alice <alice@members.test>\nTo: %s\nSubject: packaged\nMessage-ID: <packaged@members.test>\n\nfrom the package\n' "$LIST" |
	H mta auto --sender alice@members.test --recipient "$LIST"
check "herald mta takes the post" [ $? = 0 ]
check "the master starts as herald" bash -c 'runuser -u herald -- herald start'
delivered() {
	local f n=0
	for f in $(grep -rl "^Subject: \[Demo\] packaged" "$SINK" 2>/dev/null); do
		n=$((n + $(grep -c '^X-Rcpt-Args: ' "$f")))
	done
	[ "$n" -ge 3 ]
}
check "the post reaches smtp-sink for the three members" wait_for 30 delivered
grep -h '^X-Rcpt-Args: ' -r "$SINK" 2>/dev/null | sed 's/^/# /'
check "herald check passes on the installed var dir" \
	bash -c 'runuser -u herald -- herald check --postfix-config /nonexistent >"$1/check" 2>&1' _ "$T_DIR"
sed 's/^/# /' "$T_DIR/check"
check "the master stops" bash -c 'runuser -u herald -- herald stop >/dev/null'

# smtp-sink runs as herald: a user with a process cannot be deleted.
kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; SINK_PID=
check "it purges (dpkg --purge)" bash -c 'dpkg --purge herald >"$1/purge.log" 2>&1' _ "$T_DIR"
check "no program, user, var dir or unit left" bash -c '! test -e /usr/sbin/herald &&
	! test -e /usr/sbin/herald-mta &&
	! getent passwd herald >/dev/null && ! test -e /var/lib/herald &&
	! test -e /etc/systemd/system/multi-user.target.wants/herald.service &&
	! test -e /etc/herald'
t_done
