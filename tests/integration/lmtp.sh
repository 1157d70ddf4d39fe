#!/usr/bin/env bash
# The LMTP server, started by the master when lmtp.listen is set: 250 per
# recipient only once stored, 550 for unknown recipients, list address
# variants mapped to their kind and queue, 552 over the size limit, 451
# when the disk fails (nothing half-written), dot-unstuffing.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
SOCK=$V/run/lmtp.sock
"$HERALD" --var "$V" lists create demo@example.org --owner admin@example.org >/dev/null
"$HERALD" --var "$V" site set lmtp.listen "unix:$SOCK"
"$HERALD" --var "$V" site set lmtp.max_message_size 20000
entries() { find "$V/queue/$1" -name '*.msg' 2>/dev/null | wc -l; }

# A raw LMTP client (smtplib cannot read LMTP's per-recipient replies).
cat >"$T_DIR/lmtp.py" <<'PY'
import socket, sys
sock, sender, rcpts = sys.argv[1], sys.argv[2], sys.argv[3:]
msg = sys.stdin.buffer.read()
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline().decode()
        if line[3:4] != "-":
            return int(line[:3])
def cmd(c):
    s.sendall(c.encode() + b"\r\n")
    return reply()
reply()
cmd("LHLO test")
cmd("MAIL FROM:<%s>" % sender)
ok = []
for r in rcpts:
    code = cmd("RCPT TO:<%s>" % r)
    if code == 250:
        ok.append(r)
    else:
        print(code, r)
if ok:
    if cmd("DATA") == 354:
        body = msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        lines = [(b"." + l if l.startswith(b".") else l) for l in body.split(b"\r\n")]
        s.sendall(b"\r\n".join(lines).rstrip(b"\r\n") + b"\r\n.\r\n")
        for r in ok:
            print(reply(), r)
cmd("QUIT")
PY
lmtp() { python3 "$T_DIR/lmtp.py" "$SOCK" "$@"; }	# SENDER RCPT... < message
msg() { printf 'From: alice@example.org\r\nTo: demo@example.org\r\nSubject: %s\r\n\r\n.leading dot line\r\nbody\r\n' "$1"; }

check "the master starts with an LMTP server" "$HERALD" --var "$V" start
wait_for 5 test -S "$SOCK"
check "the LMTP socket appears" test -S "$SOCK"

out=$(msg one | lmtp alice@example.org demo@example.org demo-request@example.org DEMO-Join@Example.org demo-owner@example.org demo-bounces+bob=example.net@example.org demo-confirm+abc123@example.org nobody@example.org demo-bogus@example.org)
echo "$out" | sed 's/^/# /'
check "each of the 6 list addresses gets 250" test "$(echo "$out" | grep -c '^250 ')" -eq 6
check "an unknown address gets 550" bash -c "echo \"\$1\" | grep -qx '550 nobody@example.org' && echo \"\$1\" | grep -qx '550 demo-bogus@example.org'" _ "$out"
check "post and owner go to in" test "$(entries in)" -eq 2
check "request, join, confirm go to commands" test "$(entries commands)" -eq 3
check "bounces (with a VERP suffix) go to bounces" test "$(entries bounces)" -eq 1
f=$(grep -l 'kind: bounces' "$V"/queue/bounces/*.msg)
check "the VERP recipient is kept in the metadata" grep -q '^recipient: demo-bounces+bob=example.net@example.org$' "$f"
f=$(grep -l 'kind: post' "$V"/queue/in/*.msg)
check "the stored message is dot-unstuffed with LF line ends" bash -c "'$HERALD' queue show '$f' | grep -qx '.leading dot line'"
check "the envelope sender is kept" grep -q '^sender: alice@example.org$' "$f"

out=$(head -c 30000 /dev/zero | tr '\0' 'x' | fold -w 70 | lmtp alice@example.org demo@example.org)
check "a message over lmtp.max_message_size gets 552 ($out)" test "$out" = "552 demo@example.org"
check "and nothing is stored" test "$(entries in)" -eq 2

"$HERALD" --var "$V" stop >/dev/null
# A failing disk: 451, so the MTA keeps the message.
NFSFAULT=fsync_enospc=%1 NFSFAULT_PATH=/queue/in/ LD_PRELOAD=$SHIM "$HERALD" --var "$V" start
wait_for 5 test -S "$SOCK"
out=$(msg two | lmtp alice@example.org demo@example.org demo-request@example.org)
check "when storing fails the recipient gets 451 ($out)" bash -c "echo \"\$1\" | grep -qx '451 demo@example.org'" _ "$out"
check "while another recipient of the same message is stored" bash -c "echo \"\$1\" | grep -qx '250 demo-request@example.org'" _ "$out"
check "no half-written file is left in in/" test "$(entries in)" -eq 2 -a -z "$(find "$V/queue/in" -name '*.tmp')"
check "the failure is logged" grep -q "not stored, the MTA will retry" "$V"/logs/*/lmtp
"$HERALD" --var "$V" stop >/dev/null
check "stop removes the socket" test ! -e "$SOCK"

# lmtp.socket_group: the MTA's LMTP client may connect through its group.
"$HERALD" --var "$V" site set lmtp.socket_group nogroup
"$HERALD" --var "$V" start
wait_for 5 test -S "$SOCK"
check "the socket gets lmtp.socket_group, mode 0660" test "$(stat -c '%G %a' "$SOCK")" = "nogroup 660"
"$HERALD" --var "$V" stop >/dev/null
"$HERALD" --var "$V" site set lmtp.socket_group no-such-group-here
"$HERALD" --var "$V" start
wait_for 5 grep -q "lmtp.socket_group: no group 'no-such-group-here'" "$V"/logs/*/lmtp
check "an unknown group is logged and no socket is offered" bash -c "grep -q \"no group 'no-such-group-here'\" '$V'/logs/*/lmtp && [ ! -S '$SOCK' ]"
"$HERALD" --var "$V" stop >/dev/null
t_done
