#!/usr/bin/env bash
# herald-mta, the MTA's pipe: for each case (a post, each role address by
# `auto`, no such list, a message too large, a message that is not one, a
# usage error before and after the kind, no var dir) it answers what
# `herald mta` answers (exit code, the status on standard error) and
# stores the same entry (queue, kind, list, sender, recipient, bytes):
# first with no LMTP server on the host (it runs `herald mta`), then with
# one, to which it hands the messages over its pipe socket (src/mta/
# handoff.h).  The socket takes only herald's user and root, and
# lmtp.pipe_socket false closes it.  herald-mta links the C library
# alone, which is its reason to exist.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=pipe@example.org
"$HERALD" --var "$V" lists create $L --owner owner@example.org >/dev/null
"$HERALD" --var "$V" site set entry.max_message_size 2048
msg=$'From: a@example.org\nTo: pipe@example.org\nSubject: hello\nMessage-ID: <m1@example.org>\n\nHello.\n'
big=$(printf 'From: a@example.org\nSubject: big\n\n%03000d\n' 0)

# run PROG INPUT ARGS...: "exit CODE; STATUS; QUEUE ENTRY" where STATUS is
# standard error's RFC 3463 code (or "-") and QUEUE ENTRY the new entry's
# queue and metadata but its time stamps (or "-").
run() {
	local prog=$1 input=$2; shift 2
	local before after code status entry
	before=$(find "$V/queue" -name '*.msg' | sort)
	if [ "$prog" = herald ]; then
		printf '%s' "$input" | "$HERALD" --var "$V" mta "$@" 2>"$T_DIR/err"
	else
		printf '%s' "$input" | "$HERALD-mta" --var "$V" "$@" 2>"$T_DIR/err"
	fi
	code=$?
	status=$(grep -oE '^[245]\.[0-9]+\.[0-9]+' "$T_DIR/err" || echo -)
	after=$(find "$V/queue" -name '*.msg' | sort)
	entry=$(comm -13 <(echo "$before") <(echo "$after"))
	if [ -n "$entry" ]; then
		echo "exit $code; $status; $(basename "$(dirname "$entry")") $(sed '/^$/q' "$entry" | grep -vE '^(time|received|id|host|pid)' | tr '\n' ' ')"
	else
		echo "exit $code; $status; -"
	fi
}
same() {	# same DESCRIPTION INPUT ARGS...: both programs answer alike
	local d=$1 input=$2 a b; shift 2
	a=$(run herald "$input" "$@") b=$(run herald-mta "$input" "$@")
	if [ "$a" = "$b" ]; then ok "$d: $a"; else not_ok "$d"; diag "herald mta: $a"; diag "herald-mta: $b"; fi
}
# all_same WHERE: every case answered alike.
all_same() {
	local w=$1 s=(--sender a@example.org)
	same "$w: a post" "$msg" post $L
	same "$w: a post with its envelope" "$msg" post $L "${s[@]}" --recipient $L
	same "$w: -owner with its envelope" "$msg" owner $L "${s[@]}" --recipient PIPE-owner@example.org
	same "$w: a VERP bounce with its envelope" "$msg" bounces $L "${s[@]}" --recipient pipe-bounces+b=example.net@example.org
	same "$w: a recipient not the kind's address" "$msg" post $L "${s[@]}" --recipient pipe-owner@example.org
	same "$w: auto, the list's address" "$msg" auto "${s[@]}" --recipient $L
	same "$w: auto, -request" "$msg" auto "${s[@]}" --recipient pipe-request@example.org
	same "$w: auto, -owner" "$msg" auto "${s[@]}" --recipient pipe-owner@example.org
	same "$w: auto, a VERP bounce" "$msg" auto "${s[@]}" --recipient pipe-bounces+b=example.net@example.org
	same "$w: auto, the null sender" "$msg" auto --sender '' --recipient pipe-bounces@example.org
	same "$w: auto, no sender" "$msg" auto --recipient pipe-bounces@example.org
	same "$w: auto, no list's address (67)" "$msg" auto "${s[@]}" --recipient nolist@example.org
	same "$w: no such list (67)" "$msg" post nolist@example.org "${s[@]}" --recipient nolist@example.org
	same "$w: too large (65, 5.3.4)" "$big" post $L "${s[@]}" --recipient $L
	same "$w: not a message (65, 5.6.0)" $'From VM Thu Oct\n\nHi\n' post $L "${s[@]}" --recipient $L
	same "$w: an unknown kind (75)" "$msg" bogus $L "${s[@]}" --recipient $L
	same "$w: an unknown option of the command (75)" "$msg" post $L --bogus
	same "$w: a missing argument (75)" "$msg" post
}
all_same "no LMTP server"
check "without a server, nothing was handed over" \
	bash -c '! grep -qs "from herald-mta" "$1"/logs/*/lmtp' _ "$V"
check "an unknown option before the kind is 75 too" \
	bash -c 'printf x | "$1-mta" --bogus post L 2>/dev/null; [ $? -eq 75 ]' _ "$HERALD"
check "no var dir there is 75" \
	bash -c 'printf x | "$1-mta" --var "$2/none" post L 2>/dev/null; [ $? -eq 75 ]' _ "$HERALD" "$T_DIR"
check "HERALD_VAR names the var dir" \
	bash -c 'printf "%s" "$3" | HERALD_VAR="$2" "$1-mta" post pipe@example.org' _ "$HERALD" "$V" "$msg"
check "its log lines go to the mta log, as herald mta's" \
	test "$(grep -c 'accepted post for pipe@example.org' "$V"/logs/*/mta)" -ge 3
libs="libglib|libgobject|libgio|libgmime|libmicrohttpd|libsqlite3|libjson-glib|libgnutls"
check "it loads none of herald's libraries (GLib, GMime, GIO, ...)" \
	bash -c '! ldd "$1-mta" | grep -qE "$2"' _ "$HERALD" "$libs"
check "herald does (so the check above can fail)" \
	bash -c 'ldd "$1" | grep -qE "$2"' _ "$HERALD" "$libs"

# The LMTP server, listening on the pipe socket alone (lmtp.listen is
# empty): the same answers, handed over.
"$HERALD" --var "$V" lmtp 2>"$T_DIR/lmtp.err" &
LMTP=$!
wait_for 5 grep -qs "listening on the pipe socket" "$V"/logs/*/lmtp
check "the LMTP server listens on the pipe socket without lmtp.listen" \
	grep -qs "listening on the pipe socket" "$V"/logs/*/lmtp
all_same "handed over"
handed=$(grep -c "from herald-mta" "$V"/logs/*/lmtp)
check "the messages with their envelope and their kind's address were handed over (8 of them, got $handed)" \
	test "$handed" -eq 8

# Another user may not hand mail over: the server closes the connection
# before its greeting (herald-mta, as that user, would then run herald
# mta, which cannot write the var dir).
got=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys
dev, ino = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_UNIX)
s.connect(b"\0" + b"herald-mta/%x/%x" % (dev, ino))
s.settimeout(5)
print(repr(s.recv(100)))' "$(stat -c %d "$V")" "$(stat -c %i "$V")" 2>&1)
check "a connection from another user gets no greeting (got $got)" test "$got" = "b''"
wait_for 5 grep -qs "connection from another user refused" "$V"/logs/*/lmtp
check "and is logged" grep -qs "connection from another user refused" "$V"/logs/*/lmtp

# lmtp.pipe_socket false (SIGHUP): the socket closes, herald-mta stores
# the message itself.
"$HERALD" --var "$V" site set lmtp.pipe_socket false
kill -HUP $LMTP
sleep 0.5
before=$handed
out=$(run herald-mta "$msg" post $L --sender a@example.org --recipient $L)
check "with lmtp.pipe_socket false it still stores ($out)" \
	bash -c '[[ $1 == "exit 0; -; in "* ]]' _ "$out"
check "by itself, not through the server" \
	test "$(grep -c "from herald-mta" "$V"/logs/*/lmtp)" -eq "$before"
kill $LMTP
wait $LMTP 2>/dev/null

# A server that fails: one on the pipe socket's name that says 421 at
# once (herald-mta runs herald mta, which stores the post), and one that
# takes the DATA and dies in mid-message (75: the MTA keeps the message;
# nothing half-stored).
fake() {	# fake MODE: a one-connection server on the pipe socket
	python3 - "$(stat -c %d "$V")" "$(stat -c %i "$V")" "$1" "$T_DIR/fake.ready" <<'PY' &
import socket, sys
dev, ino, mode, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_UNIX)
s.bind(b"\0" + b"herald-mta/%x/%x" % (dev, ino))
s.listen(1)
s.settimeout(10)	# no client (a herald-mta that did not connect): end
open(ready, "w").close()
c, _ = s.accept()
if mode == "busy":
    c.sendall(b"421 4.3.2 too many connections, try again later\r\n")
else:
    f = c.makefile("rb")
    c.sendall(b"220 fake\r\n")
    for reply in (b"250 SIZE 100\r\n", b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"):
        f.readline()
        c.sendall(reply)
    f.readline()	# the first line of the message, then gone
c.close()
PY
	FAKE=$!
	wait_for 5 test -e "$T_DIR/fake.ready"
	rm -f "$T_DIR/fake.ready"
}
"$HERALD" --var "$V" site set lmtp.pipe_socket true
fake busy
before=$(grep -c "accepted post for pipe@example.org" "$V"/logs/*/mta)
out=$(run herald-mta "$msg" post $L --sender a@example.org --recipient $L)
check "a busy server (421): herald-mta stores the post itself ($out)" \
	bash -c '[[ $1 == "exit 0; -; in "* ]]' _ "$out"
check "as herald mta, in the mta log" \
	test "$(grep -c "accepted post for pipe@example.org" "$V"/logs/*/mta)" -eq $((before + 1))
wait $FAKE
fake die
out=$(run herald-mta "$msg" post $L --sender a@example.org --recipient $L)
check "a server gone in mid-message: 75, nothing stored ($out)" \
	test "$out" = "exit 75; -; -"
check "and standard error says why" \
	grep -q "temporary failure for pipe@example.org" "$T_DIR/err"
wait $FAKE
t_done
