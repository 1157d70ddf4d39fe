#!/usr/bin/env bash
# install.sh - `make install` into a scratch DESTDIR: the files where
# docs/install.md says; the man pages made from the program under test say
# what its --help and `site doc` say (made again here and compared) and
# render without a warning; the systemd unit passes `systemd-analyze
# verify`; the logrotate snippet names every log file a run writes.
. "$(dirname "$0")/../lib.sh"

D=$T_DIR/dest
MAN=$T_DIR/man

# The pages, made from this build's program, against those make made.
check "the man pages are made from the program" \
	python3 "$HERALD_TOP/scripts/gen-man.py" "$HERALD" "$MAN"
check "make made the same pages (they match the program)" \
	diff -r "$MAN" "$BUILD/man" -x .stamp
check "herald(8) lists every command of herald --help" bash -c '
	for c in $("$1" --help | sed -n "/^Commands:/,/^\$/s/^  \([a-z-]*\) .*/\1/p"); do
		grep -q "^\.BR herald\\\\-${c//-/\\\\-} (8)" "$2/herald.8" || { echo "# $c"; exit 1; }
		test -f "$2/herald-$c.8" || exit 1
	done' _ "$HERALD" "$MAN"
check "herald-members(8) has each verb's options" bash -c '
	grep -q "^\.SH ADD" "$1/herald-members.8" && grep -q "^\.B \\\\-\\\\-digest" "$1/herald-members.8"' _ "$MAN"
check "herald.conf(5) has every site setting" bash -c '
	for k in $("$1" site doc | sed -n "s/^| \`\([^\`]*\)\`.*/\1/p"); do
		grep -qF "\\fB${k//./.}\\fR" "$2/herald.conf.5" || { echo "# $k"; exit 1; }
	done' _ "$HERALD" "$MAN"
if command -v groff >/dev/null; then
	warnings=$(for p in "$MAN"/*; do LC_ALL=C.UTF-8 groff -man -ww -z "$p" 2>&1; done)
	check "the pages render with groff without a warning" [ -z "$warnings" ]
	[ -z "$warnings" ] || echo "$warnings" | head -5 | sed 's/^/# /'
else
	skip "groff is not installed"
fi

# make install, with the build under test's program and pages.
check "make install PREFIX=/usr DESTDIR=... works" bash -c '
	make -s -C "$1" BUILD="$2" PREFIX=/usr DESTDIR="$3" install >"$4/install.log" 2>&1' \
	_ "$HERALD_TOP" "$BUILD" "$D" "$T_DIR"
check "the programs in /usr/sbin, pages in /usr/share/man, templates in /usr/share/herald" \
	test -x "$D/usr/sbin/herald" -a -x "$D/usr/sbin/herald-mta" -a -f "$D/usr/share/man/man8/herald.8" \
	-a -f "$D/usr/share/man/man5/herald.conf.5" -a -f "$D/usr/share/herald/templates/en/help.txt"
check "the unit and the logrotate snippet are installed" \
	test -f "$D/usr/lib/systemd/system/herald.service" -a -f "$D/etc/logrotate.d/herald"
check "/etc/herald links to the var dir's etc" \
	test "$(readlink "$D/etc/herald")" = /var/lib/herald/etc
check "the installed unit runs /usr/sbin/herald on /var/lib/herald" bash -c '
	grep -q "^ExecStart=/usr/sbin/herald start --foreground" "$1" &&
	grep -q "^ReadWritePaths=/var/lib/herald" "$1" && grep -q "^Type=notify" "$1"' \
	_ "$D/usr/lib/systemd/system/herald.service"
check "herald --help names the default var dir" bash -c '"$1" --help | grep -q "/var/lib/herald"' _ "$HERALD"

if command -v systemd-analyze >/dev/null; then
	# verify resolves ExecStart: a unit for the program under test.
	sed "s|/usr/sbin/herald|$HERALD|" "$D/usr/lib/systemd/system/herald.service" \
		>"$T_DIR/herald.service"
	MANPATH=$D/usr/share/man systemd-analyze verify "$T_DIR/herald.service" >"$T_DIR/verify" 2>&1
	rc=$?
	# Only what concerns herald's unit (the host's other units may have
	# their own complaints).
	grep -i "herald.service" "$T_DIR/verify" >"$T_DIR/verify.ours"
	check "systemd-analyze verify accepts herald.service" \
		[ "$rc" = 0 -o ! -s "$T_DIR/verify.ours" ]
	sed 's/^/# /' "$T_DIR/verify.ours"
else
	skip "systemd-analyze is not installed: the unit is not verified"
fi

# logrotate: every log file a run writes is named by the snippet.
V=$("$HERALD" --var "$T_DIR/var" init >/dev/null && echo "$T_DIR/var")
"$HERALD" --var "$V" lists create demo@lists.test --owner o@lists.test >/dev/null
"$HERALD" --var "$V" start >/dev/null && "$HERALD" --var "$V" stop >/dev/null
check "the logrotate snippet names each log file herald wrote" bash -c '
	for f in "$1"/logs/*/*; do
		name=$(basename "$f")
		grep -q "/var/lib/herald/logs/\*/$name\b" "$2" || { echo "# $name"; exit 1; }
	done' _ "$V" "$D/etc/logrotate.d/herald"
if command -v logrotate >/dev/null; then
	check "logrotate reads the snippet" bash -c 'logrotate -d "$1" >/dev/null 2>"$2/lr"; ! grep -qi "error" "$2/lr"' \
		_ "$D/etc/logrotate.d/herald" "$T_DIR"
else
	skip "logrotate is not installed"
fi
t_done
