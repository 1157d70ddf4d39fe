#!/usr/bin/env bash
# notify.sh - the master as systemd's Type=notify service sees it, without
# systemd: `herald start --foreground` with $NOTIFY_SOCKET sends READY=1
# once it holds its host lease, RELOADING=1 then READY=1 on SIGHUP
# (ExecReload), which also reopens the logs and rereads the settings, and
# STOPPING=1 on SIGTERM, then exits 0.
. "$(dirname "$0")/../lib.sh"

V=$(new_var var)
SOCK=$T_DIR/notify.sock
GOT=$T_DIR/notify.got
# A datagram socket that writes each message it receives as a line.
python3 - "$SOCK" "$GOT" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode() + "\n")
PY
wait_for 5 test -S "$SOCK"
NOTIFY_SOCKET=$SOCK "$HERALD" --var "$V" start --foreground 2>"$T_DIR/master.err" &
MASTER=$!
check "READY=1 once the master runs" wait_for 10 grep -qx 'READY=1' "$GOT"
check "... and holds its host lease" bash -c '"$1" --var "$2" status | grep -q "^  host-.* held by"' _ "$HERALD" "$V"

"$HERALD" --var "$V" site set master.restart_backoff_max 7
kill -HUP "$MASTER"
check "SIGHUP: RELOADING=1, then READY=1 again" \
	wait_for 10 bash -c '[ "$(grep -c . "$1")" -ge 3 ] && sed -n 2p "$1" | grep -qx RELOADING=1 && sed -n 3p "$1" | grep -qx READY=1' _ "$GOT"
check "SIGHUP reopened the logs and reread the settings" \
	wait_for 10 bash -c 'grep -h -A1 "SIGHUP: logs reopened" "$1"/logs/*/master | grep -q "settings changed: reread"' _ "$V"

kill -TERM "$MASTER"
wait "$MASTER"
rc=$?
check "SIGTERM: STOPPING=1 and exit 0" bash -c '[ "$1" = 0 ] && grep -qx STOPPING=1 "$2"' _ "$rc" "$GOT"
sed "s/^/# notify: /" "$GOT"
diag "master exit status $rc"; sed "s/^/# master: /" "$T_DIR/master.err" | tail -5

# Without $NOTIFY_SOCKET nothing is sent and the master runs as before.
: >"$GOT"
"$HERALD" --var "$V" start >/dev/null
check "without NOTIFY_SOCKET the master starts, and nothing is sent" \
	bash -c '"$1" --var "$2" status | grep -q "running" && [ ! -s "$3" ]' _ "$HERALD" "$V" "$GOT"
"$HERALD" --var "$V" stop >/dev/null
t_done
