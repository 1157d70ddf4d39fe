#!/usr/bin/env bash
# systemd-boot.sh - herald.service under a real systemd as PID 1: a Debian
# 12 tree (debootstrap, cached) booted with `systemd-nspawn -b` on a
# throw-away overlay, with herald installed by `make install` (PREFIX=/usr:
# the unit of dist/herald.service.in with all its hardening), the system
# user herald and `herald init`.  A unit run at boot then:
#   systemctl start herald   returns once the master said READY=1
#                            (Type=notify): active/running, MainPID the
#                            master, whose `herald status` says running;
#   systemctl reload herald  (SIGHUP) leaves it active, same MainPID;
#   systemctl stop herald    inactive, no herald process left, the
#                            master's lease released (status: stopped);
# and powers the container off.  The first run makes the tree (about 4
# minutes from deb.debian.org; $DEBIAN_MIRROR), later runs boot in about
# 10 s.  Needs root, systemd-nspawn (systemd-container), debootstrap and
# overlayfs; skips without them.
#   HERALD_SYSTEMD_CACHE  where the tree is kept (/var/tmp/herald-systemd-cache)
# sanitizer build: skip (boots a container with the installed program; the normal build runs it)
. "$(dirname "$0")/../lib.sh"

CACHE=${HERALD_SYSTEMD_CACHE:-/var/tmp/herald-systemd-cache}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The libraries herald links (debian/control's shlibs), systemd, adduser.
PKGS=systemd,systemd-sysv,dbus,adduser,publicsuffix,libglib2.0-0,libgmime-3.0-0,libidn2-0,libpsl5,zlib1g,libjson-glib-1.0-0,libmicrohttpd12,libsqlite3-0,libxml2,libsodium23
TREE=$CACHE/bookworm-$(echo "$PKGS" | md5sum | cut -c1-8)
M=$T_DIR/merged

if [ "$(id -u)" != 0 ]; then
	skip "systemd-boot: needs root (debootstrap, overlay mount, nspawn)"
	t_done
fi
for tool in systemd-nspawn debootstrap; do
	if ! command -v "$tool" >/dev/null; then
		skip "systemd-boot: $tool is missing (scripts/install-deps.sh installs it)"
		t_done
	fi
done
trap 'umount "$M" 2>/dev/null; t_cleanup' EXIT

if [ ! -x "$TREE/lib/systemd/systemd" ]; then
	t0=$(date +%s)
	mkdir -p "$CACHE" && rm -rf "$TREE.new"
	if ! debootstrap --variant=minbase --include="$PKGS" bookworm "$TREE.new" "$MIRROR" \
		>"$T_DIR/debootstrap.log" 2>&1; then
		tail -20 "$T_DIR/debootstrap.log" | sed 's/^/# /'
		not_ok "debootstrap of a Debian 12 tree from $MIRROR"
		t_done
	fi
	mv "$TREE.new" "$TREE"
	diag "debootstrap made the tree in $(($(date +%s) - t0)) s (cached in $TREE)"
fi

# A writable overlay on the cached tree, thrown away at the end.
mkdir -p "$T_DIR/upper" "$T_DIR/work" "$M"
if ! mount -t overlay overlay -o "lowerdir=$TREE,upperdir=$T_DIR/upper,workdir=$T_DIR/work" "$M"; then
	skip "systemd-boot: no overlay file system here"
	t_done
fi
check "make install puts herald into the tree (PREFIX=/usr)" \
	bash -c 'make -s -C "$1" BUILD="$2" PREFIX=/usr DESTDIR="$3" install >"$4/install.log" 2>&1' \
	_ "$HERALD_TOP" "$BUILD" "$M" "$T_DIR"
check "the system user herald and an initialised var dir" chroot "$M" /bin/sh -c '
	adduser --system --group --home /var/lib/herald --no-create-home herald >/dev/null &&
	chown herald:herald /var/lib/herald && chmod 0750 /var/lib/herald &&
	runuser -u herald -- herald init >/dev/null'
mkdir -p "$M/var/log/journal"

cat >"$M/usr/local/sbin/herald-systest" <<'EOF'
#!/bin/sh
# Run by systemd at boot: each result is a line "RES name value".
res() { echo "RES $*" >>/systest.out; }
state() { systemctl show -P ActiveState herald; }
procs() {
	n=0
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = herald ] && n=$((n + 1))
	done
	echo $n
}
t0=$(date +%s%N)
systemctl start herald
res start_rc $?
res start_ms $((($(date +%s%N) - t0) / 1000000))
res after_start "$(state)/$(systemctl show -P SubState herald)"
main=$(systemctl show -P MainPID herald)
res main_comm "$(cat /proc/$main/comm 2>/dev/null)"
res main_is_master "$(grep -c "^$main\$" /var/lib/herald/run/master.*.pid 2>/dev/null)"
res main_user "$(stat -c %U /proc/$main 2>/dev/null)"
res status "$(runuser -u herald -- herald status 2>&1 | grep -c ': running')"
systemctl reload herald
res reload_rc $?
sleep 1
res after_reload "$(state)/$(systemctl show -P MainPID herald)/$main"
res reopened "$(journalctl -u herald --no-pager | grep -c 'SIGHUP: logs reopened')"
res procs_running "$(procs)"
systemctl stop herald
res stop_rc $?
res after_stop "$(state)"
res procs_stopped "$(procs)"
res status_stopped "$(runuser -u herald -- herald status 2>&1 | grep -c '^master on .*: not running\|^  host-.* free ')"
journalctl -u herald --no-pager >/systest.journal 2>&1
res done 1
systemctl poweroff
EOF
chmod 0755 "$M/usr/local/sbin/herald-systest"
cat >"$M/etc/systemd/system/herald-systest.service" <<'EOF'
[Unit]
Description=herald.service start, reload, stop (tests/integration/systemd-boot.sh)
After=basic.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/herald-systest
EOF

# --register=no --keep-unit: nspawn asks no systemd or machined of this
# machine (there may be none: systemd need not be PID 1 here).
t0=$(date +%s)
timeout 180 systemd-nspawn -q -D "$M" --register=no --keep-unit --console=pipe \
	-b -- systemd.wants=herald-systest.service </dev/null >"$T_DIR/boot.log" 2>&1
rc=$?
diag "the container booted, ran the test and powered off in $(($(date +%s) - t0)) s (nspawn exit $rc)"
r() { sed -n "s/^RES $1 //p" "$M/systest.out" 2>/dev/null | head -1; }
if [ "$(r done)" != 1 ]; then
	not_ok "systemd booted in the container and ran the test unit"
	grep -v 'System call\|Failed to add rule' "$T_DIR/boot.log" | tail -30 | sed 's/^/# /'
	journalctl -D "$M/var/log/journal" --no-pager 2>/dev/null | tail -40 | sed 's/^/# /'
	t_done
fi
ok "systemd booted in the container and ran the test unit"
sed 's/^/# /' "$M/systest.out"
check "systemctl start herald succeeds (after $(r start_ms) ms: Type=notify, READY=1)" [ "$(r start_rc)" = 0 ]
check "... and the unit is active/running" [ "$(r after_start)" = active/running ]
check "... its main process is the master, running as herald" \
	eval '[ "$(r main_comm)" = herald ] && [ "$(r main_is_master)" = 1 ] && [ "$(r main_user)" = herald ]'
check "... which herald status shows running" [ "$(r status)" -ge 1 ]
check "systemctl reload herald (SIGHUP) keeps the same master active" \
	eval '[ "$(r reload_rc)" = 0 ] && r after_reload | grep -Eq "^active/([0-9]+)/\\1\$"'
check "... which got the SIGHUP (its log: logs reopened)" [ "$(r reopened)" = 1 ]
check "systemctl stop herald: inactive" eval '[ "$(r stop_rc)" = 0 ] && [ "$(r after_stop)" = inactive ]'
check "... no herald process left (were $(r procs_running))" \
	eval '[ "$(r procs_running)" -ge 2 ] && [ "$(r procs_stopped)" = 0 ]'
check "... and herald status says the master stopped, its lease free" [ "$(r status_stopped)" = 2 ]
if [ "$T_FAILED" = 1 ]; then
	sed 's/^/# journal: /' "$M/systest.journal" | tail -30
fi
t_done
