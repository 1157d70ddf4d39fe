#!/usr/bin/env bash
# Site settings change while herald runs: `herald site set` on a running
# master changes delivery from the next message on, without a restart.
# A list of 12 members over two domains, the out runner of a real master
# against smtpfault (tests/tools/smtpfault.c, one .env file a transaction):
#   post 1   delivery.max_recipients 3: no transaction over 3 recipients
#   set      max_recipients 12, with the master running
#   post 2   a transaction of more than 3
#   set      delivery.verp_interval 1
#   post 3   one transaction a member, each from LIST-bounces+member
#   set      runner.out.handler sink
#   post 4   swallowed by the new handler, delivered to nobody
# and the runner process is the same throughout (no restart).  A second
# master (HERALD_HOST=b on the same var dir, as a second NFS host would
# be) rereads the changed file too: no signal crosses hosts, each master
# and runner looks at the file itself.
. "$(dirname "$0")/../lib.sh"
SF=$TOOLS/smtpfault
LIST=demo@lists.test
V=$(new_var live)
SP=$T_DIR/spool
mkdir -p "$SP"
h() { HERALD_HOST=a "$HERALD" --var "$V" "$@"; }
MEMBERS=$T_DIR/members
for i in 1 2 3 4 5 6; do echo "a$i@alpha.example"; echo "b$i@beta.example"; done >"$MEMBERS"

h site set runner.out.handler outgoing
h site set delivery.max_recipients 3
h site set master.poll_interval 100
h site set master.lease_lifetime 3	# a master tick a second
h lists create "$LIST" --owner owner@example.org >/dev/null
h members add "$LIST" <"$MEMBERS" >/dev/null

"$SF" --port 0 --spool "$SP" --script /dev/null --die-with-parent >"$T_DIR/sf" 2>"$T_DIR/sf.err" &
wait_for 10 grep -qs '^port ' "$T_DIR/sf" || { cat "$T_DIR/sf.err"; exit 1; }
h site set mta.smtp_port "$(awk '/^port /{print $2}' "$T_DIR/sf")"

post() {
	local args=() m
	while IFS= read -r m; do args+=(--meta "rcpt=$m"); done <"$MEMBERS"
	printf 'From: a1@alpha.example\nTo: %s\nSubject: post %s\nMessage-ID: <live.%s@alpha.example>\n\nbody %s\n' \
		"$LIST" "$1" "$1" "$1" |
		h queue inject out --list "$LIST" --meta kind=post --meta "post-id=$1" "${args[@]}" >/dev/null
}
# txs N: "transactions recipients-in-the-largest senders" of post N.
txs() {
	python3 - "$SP" "$1" <<'PY'
import glob, os, sys
spool, n = sys.argv[1], sys.argv[2]
tx, most, senders = 0, 0, set()
for env in glob.glob(os.path.join(spool, "*.env")):
    msg = open(env[:-4] + ".msg", errors="replace").read()
    if "Subject: post %s\n" % n not in msg:
        continue
    lines = open(env).read().splitlines()
    rcpts = [l for l in lines if l.startswith("rcpt ")]
    senders.update(l.split()[1] for l in lines if l.startswith("mail "))
    tx += 1
    most = max(most, len(rcpts))
print(tx, most, ",".join(sorted(senders)))
PY
}
copies() { python3 - "$SP" "$1" <<'PY'
import glob, os, sys
spool, n = sys.argv[1], sys.argv[2]
c = 0
for env in glob.glob(os.path.join(spool, "*.env")):
    if "Subject: post %s\n" % n in open(env[:-4] + ".msg", errors="replace").read():
        c += sum(1 for l in open(env) if l.startswith("rcpt "))
print(c)
PY
}
delivered() { [ "$(copies "$1" | tail -1)" -eq 12 ]; }
runner_pid() { awk '$1 == "out" {print $3}' "$V"/run/runners.* 2>/dev/null; }

check "the master starts" h start
check "a second master, host b, starts" env HERALD_HOST=b "$HERALD" --var "$V" start
wait_for 10 test -n "$(runner_pid)"
pid0=$(runner_pid)
post 1
check "post 1 reaches all 12 members" wait_for 20 delivered 1
read -r tx most _ <<<"$(txs 1)"
diag "post 1: $tx transactions, at most $most recipients"
check "post 1: no transaction over max_recipients 3" test "$most" -le 3

check "site set max_recipients 12 while the master runs" h site set delivery.max_recipients 12
sleep 1.5	# a runner rereads within a second, between messages
post 2
check "post 2 reaches all 12 members" wait_for 20 delivered 2
read -r tx most _ <<<"$(txs 2)"
diag "post 2: $tx transactions, at most $most recipients"
check "post 2: the new max_recipients applies (a transaction of more than 3)" test "$most" -gt 3

check "site set verp_interval 1 while the master runs" h site set delivery.verp_interval 1
sleep 1.5
post 3
check "post 3 reaches all 12 members" wait_for 20 delivered 3
read -r tx most senders <<<"$(txs 3)"
diag "post 3: $tx transactions, senders $senders"
check "post 3: VERP now, one transaction a member" test "$tx" -eq 12 -a "$most" -eq 1
check "post 3: VERP senders (LIST-bounces+member)" bash -c '[[ $1 == *demo-bounces+a1=alpha.example@lists.test* ]]' _ "$senders"
check "site set runner.out.handler sink while the master runs" h site set runner.out.handler sink
sleep 1.5
post 4
sunk() { [ -z "$(ls "$V/queue/out")" ] && ! grep -qs "^Subject: post 4$" "$SP"/*.msg; }
check "post 4 is taken by the new handler (sink): gone from out, delivered to nobody" \
	wait_for 10 sunk
check "the out runner was never restarted (pid $pid0)" test "$(runner_pid)" = "$pid0"
check "the runner logged that it reread the settings" grep -q "runner out: settings reread" "$V"/logs/*/runner
for host in a b; do
	check "master $host logged that it reread the settings" \
		wait_for 10 grep -q "settings changed: reread" "$V/logs/$host/master"
done
h stop >/dev/null
env HERALD_HOST=b "$HERALD" --var "$V" stop >/dev/null
t_done
