#!/usr/bin/env bash
# The LMTP server's pipe workers (lmtp.pipe_workers, src/herald/lmtp.c):
# processes kept ready for herald-mta's connections on the pipe socket,
# each serving one session after another.  Posts handed over go through
# them with no process made per post; a connection none of them takes
# (both held busy) still gets a session process of its own; a worker that
# dies is replaced; SIGHUP replaces them with the new setting's number
# (0: a process per connection again); herald stop ends them.  A burst
# while both are busy gets a process per connection.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=workers@example.org
"$HERALD" --var "$V" lists create $L --owner owner@example.org >/dev/null
msg=$'From: a@example.org\nTo: workers@example.org\nSubject: hello\nMessage-ID: <w1@example.org>\n\nHello.\n'
post() { printf '%s' "$msg" | "$HERALD-mta" --var "$V" post $L --sender a@example.org --recipient $L; }
handed() { grep -c "from herald-mta" "$V"/logs/*/lmtp 2>/dev/null || echo 0; }
stored() { find "$V/queue/in" -name '*.msg' | wc -l; }
workers() { pgrep -P "$LMTP" -x herald-pipe | sort | tr '\n' ' '; }
children() { pgrep -P "$LMTP" | wc -l; }
# pids of the log's "accepted ... from herald-mta" lines, sorted, unique
accepting() { grep -h "from herald-mta" "$V"/logs/*/lmtp | awk '{ print $3 }' | sort -u | tr '\n' ' '; }

"$HERALD" --var "$V" lmtp 2>"$T_DIR/lmtp.err" &
LMTP=$!
wait_for 5 test "$(pgrep -P $LMTP -x herald-pipe | wc -l)" -eq 2
first=$(workers)
check "the server keeps 2 workers ready by default ($first)" test "$(echo $first | wc -w)" -eq 2

for i in $(seq 20); do post || break; done
check "20 posts handed over ($(handed))" test "$(handed)" -eq 20
check "and stored" test "$(stored)" -eq 20
check "by the workers alone, no session process made ($(accepting))" \
	bash -c 'for p in $2; do case " $1 " in *" $p "*) ;; *) exit 1 ;; esac; done' _ "$first" "$(accepting)"
check "the same workers still serve" test "$(workers)" = "$first"

# Both workers held by idle connections: a post waits 20 ms, then gets a
# session process of its own.
holdpy='
import socket, sys, time
dev, ino = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(2):
    s = socket.socket(socket.AF_UNIX)
    s.connect(b"\0" + b"herald-mta/%x/%x" % (dev, ino))
    s.recv(100)		# the greeting: a worker serves it
    held.append(s)
print("held", flush=True)
time.sleep(float(sys.argv[3]))'
python3 -c "$holdpy" "$(stat -c %d "$V")" "$(stat -c %i "$V")" 6 >"$T_DIR/hold" &
HOLD=$!
wait_for 5 grep -q held "$T_DIR/hold"
t0=$(date +%s%N)
post
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "with both workers busy a post is still handed over (exit $rc, $ms ms)" \
	test "$rc" -eq 0 -a "$(handed)" -eq 21
last=$(grep -h "from herald-mta" "$V"/logs/*/lmtp | tail -1 | awk '{ print $3 }')
check "by a session process of its own ($last)" \
	bash -c 'case " $1 " in *" $2 "*) exit 1 ;; esac' _ "$first" "$last"
# A burst while they are held: each waiting connection gets a process.
for i in 1 2 3 4; do post & done
wait_for 5 test "$(handed)" -eq 25
check "a burst of 4 with both workers busy is handed over too ($(handed))" test "$(handed)" -eq 25
burst=$(grep -h "from herald-mta" "$V"/logs/*/lmtp | tail -4 | awk '{ print $3 }' | sort -u | wc -l)
check "by 4 session processes ($burst)" test "$burst" -eq 4
kill $HOLD 2>/dev/null
wait $HOLD 2>/dev/null

# A worker killed is replaced.
victim=${first%% *}
kill -9 "$victim"
wait_for 5 bash -c '[ "$(pgrep -P $1 -x herald-pipe | wc -l)" -eq 2 ] && ! pgrep -P $1 -x herald-pipe | grep -qx $2' _ "$LMTP" "$victim"
check "a worker killed is replaced ($(workers))" \
	bash -c '[ "$(pgrep -P $1 -x herald-pipe | wc -l)" -eq 2 ] && ! pgrep -P $1 -x herald-pipe | grep -qx $2' _ "$LMTP" "$victim"
check "and its death is logged" grep -q "pipe worker $victim killed by signal 9" "$V"/logs/*/lmtp

# SIGHUP: new workers with the new number; 0 is a process per connection.
before=$(workers)
"$HERALD" --var "$V" site set lmtp.pipe_workers 3
kill -HUP $LMTP
wait_for 5 test "$(pgrep -P $LMTP -x herald-pipe | wc -l)" -eq 3
now=$(workers)
check "lmtp.pipe_workers 3 after SIGHUP: 3 workers ($now)" test "$(echo $now | wc -w)" -eq 3
check "none of them one from before" \
	bash -c 'for p in $2; do case " $1 " in *" $p "*) exit 1 ;; esac; done' _ "$before" "$now"
"$HERALD" --var "$V" site set lmtp.pipe_workers 0
kill -HUP $LMTP
wait_for 5 test "$(pgrep -P $LMTP -x herald-pipe | wc -l)" -eq 0
check "lmtp.pipe_workers 0: no worker" test -z "$(workers)"
post
check "and a post is still handed over (a process for it)" test "$(handed)" -eq 26

"$HERALD" --var "$V" site set lmtp.pipe_workers 2
kill -HUP $LMTP
wait_for 5 test "$(pgrep -P $LMTP -x herald-pipe | wc -l)" -eq 2
last=$(workers)
kill $LMTP
wait_for 10 bash -c '! kill -0 $1 2>/dev/null' _ "$LMTP"
alive=0
for p in $last; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "the server stops, its workers with it ($alive of $(echo $last | wc -w) alive)" \
	test "$alive" -eq 0 -a -n "$last"
check "every post handed over is stored ($(stored))" test "$(stored)" -eq 26

# Another process holds the pipe socket's name when the server starts
# (the workers of a listener that died, finishing their sessions): posts
# are stored by herald-mta itself meanwhile (here at once: the holder
# refuses connections), and the server takes the socket once it is free,
# without a SIGHUP.
bindpy='
import socket, sys, time
dev, ino = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_UNIX)
s.bind(b"\0" + b"herald-mta/%x/%x" % (dev, ino))	# bound, not listening
print("bound", flush=True)
time.sleep(60)'
python3 -c "$bindpy" "$(stat -c %d "$V")" "$(stat -c %i "$V")" >"$T_DIR/bound" &
BOUND=$!
wait_for 5 grep -q bound "$T_DIR/bound"
"$HERALD" --var "$V" lmtp 2>>"$T_DIR/lmtp.err" &
LMTP=$!
wait_for 5 grep -q "another process of this host has it" "$V"/logs/*/lmtp
check "a server that finds the pipe socket taken says so" \
	grep -q "another process of this host has it" "$V"/logs/*/lmtp
check "and keeps no workers" test -z "$(workers)"
h=$(handed)
printf '%s' "${msg/w1@/w2@}" | "$HERALD-mta" --var "$V" post $L --sender a@example.org --recipient $L
check "a post meanwhile is stored by herald-mta itself" \
	test "$(stored)" -eq 27 -a "$(handed)" -eq "$h"
kill $BOUND
wait $BOUND 2>/dev/null
wait_for 5 test "$(pgrep -P $LMTP -x herald-pipe | wc -l)" -eq 2
check "once it is free, the server takes it within its retry time, with 2 workers ($(workers))" \
	test "$(pgrep -P $LMTP -x herald-pipe | wc -l)" -eq 2
printf '%s' "${msg/w1@/w3@}" | "$HERALD-mta" --var "$V" post $L --sender a@example.org --recipient $L
check "and the next post is handed over to them" \
	test "$(stored)" -eq 28 -a "$(handed)" -eq $((h + 1))
kill $LMTP
wait_for 10 bash -c '! kill -0 $1 2>/dev/null' _ "$LMTP"
t_done
