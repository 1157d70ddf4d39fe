#!/usr/bin/env bash
# Delivery loses nothing: the out queue's runner against smtpfault
# (tests/tools/smtpfault.c) on loopback, one fault at a time, a list of 20
# members over four domains (local parts with '+', '=', '%' and a quoted
# one among them).  Each case counts, per member, the copies the server
# stored (its spool's .env files), the recipients in herald's retry queue,
# the members of the bounce events in the bounces queue, and the recipients
# the delivery log says were refused after DATA, and asserts
#     delivered + retried + bounced + refused == members
# with nobody in two of those, nobody delivered twice, and no address that
# is not a member.  The cases:
#   accept     a post through the pipeline, all accepted: each member once,
#              from LIST-bounces@DOMAIN, in transactions of at most
#              delivery.max_recipients recipients grouped by domain,
#              PIPELINING used
#   nopipe     the server does not offer PIPELINING: not used
#   defer      451 to RCPT for three: only they are retried, not before
#              they are due, then delivered once, nobody else twice
#   fail       550 to RCPT for two: a bounce event for them, no retry
#   refuse     554 after the data: no bounce events, one notice to the
#              owners (in the virgin queue) naming the refusal, no retry;
#              refuse1: only the first transaction refused, only its five;
#              refuselost: the owners' notice cannot be written at first
#              (the virgin queue broken): it must not be forgotten
#   dropdata   the connection drops during the data: that transaction's
#              recipients are retried (bulk: all; personalised: the one
#              copy that drops, and the next copy whose envelope went in
#              the same write), then delivered once
#   verdicts   personalised, one connection, each copy's dot in the same
#              write as the next copy's envelope: a 554 or 451 after a
#              copy, and a 550 to the next copy's RCPT, are each that
#              copy's alone
#   stall      a server slower than mta.smtp_timeout: the runner times out
#              and returns, everyone is retried, then delivered once
#   stalldot   a timeout after the final dot the server did take: retried,
#              so those copies come twice (nobody lost)
#   down       no server: everyone retried; back up: delivered once
#   mail550/mail451   MAIL FROM refused: everyone refused (an owner
#              notice, no bounce events) / deferred
#   verp       delivery.verp_interval 1: one transaction a member, from
#              LIST-bounces+LOCAL=DOMAIN@DOMAIN that decodes back to the
#              member (also for '+', '=', '%' and quotes); also for a post
#              that came through the pipeline
#   period     a recipient still deferred after delivery.retry_period
#              becomes a bounce event, not retried for ever
#   lmtp       mta.transport lmtp: per-recipient replies after the data
#              are each recipient's own (452: retried, 552: a bounce event)
#   sendmail   mta.transport sendmail: a command that stores what it is
#              given as smtpfault does gets every member once
#   sendmailhang   a sendmail command that takes the message and never
#              exits (nor does the child it waits for): killed after
#              mta.smtp_timeout with its child, everyone retried, then
#              delivered once by a working command
. "$(dirname "$0")/../lib.sh"
SF=$TOOLS/smtpfault
LIST=demo@lists.test
OWNER=owner@example.org

MEMBERS=$T_DIR/members
cat >"$MEMBERS" <<'EOF'
user01@alpha.example
user02@alpha.example
user03@alpha.example
user04@alpha.example
user05@alpha.example
user06@alpha.example
user07@alpha.example
user08@beta.example
user09@beta.example
user10@beta.example
user11@beta.example
user12@beta.example
user13@beta.example
user14@gamma.example
user15@gamma.example
user16@gamma.example
user17+tag@delta.example
user18=x@delta.example
user19%y@delta.example
"user 20"@delta.example
EOF
NMEMBERS=$(wc -l <"$MEMBERS")

# acct.py MEMBERS SPOOL VAR PREFIX: the accounting of one case, as shell
# assignments A_name=N; PREFIX.delivered, .retried, .bounced get the
# addresses (sorted, one a line, with repeats).
ACCT=$T_DIR/acct.py
cat >"$ACCT" <<'PY'
import glob, os, re, sys
members_file, spool, var, prefix = sys.argv[1:5]
members = [l.rstrip("\n") for l in open(members_file) if l.strip()]
mset = set(members)

def meta(path, key):
    data = open(path, "rb").read()
    head = data.split(b"\n\n", 1)[0].decode("utf-8", "replace").split("\n")[1:]
    return [l[len(key) + 2:] for l in head if l.startswith(key + ": ")]

delivered = []
for env in glob.glob(os.path.join(spool, "*.env")):
    for line in open(env):
        if line.startswith("rcpt "):
            delivered.append(line[5:].rstrip("\n"))
retried = []
for f in glob.glob(os.path.join(var, "queue/retry/*.msg")):
    retried += meta(f, "rcpt")
bounced = []
for f in glob.glob(os.path.join(var, "queue/bounces/*.msg")):
    if meta(f, "kind") == ["bounce-event"]:
        bounced += meta(f, "member")
refused = 0
for log in glob.glob(os.path.join(var, "logs/*/deliver")):
    for m in re.finditer(r"(\d+) refused", open(log).read()):
        refused += int(m.group(1))
pending = 0
for f in glob.glob(os.path.join(var, "queue/out/*.msg")) + \
         glob.glob(os.path.join(var, "queue/out/*.bak")):
    pending += len(meta(f, "rcpt"))

# Members in more than one of delivered / retried / bounced, or retried
# or bounced twice.
sets = [set(delivered), set(retried), set(bounced)]
overlap = sum(1 for a in mset if sum(a in s for s in sets) > 1)
overlap += len(retried) - len(set(retried)) + len(bounced) - len(set(bounced))
strangers = len((set(delivered) | set(retried) | set(bounced)) - mset)
for name, lst in (("delivered", delivered), ("retried", retried),
                  ("bounced", bounced)):
    with open(prefix + "." + name, "w") as f:
        f.write("".join(a + "\n" for a in sorted(lst)))
print("A_delivered=%d A_copies=%d A_dups=%d A_retried=%d A_bounced=%d "
      "A_refused=%d A_pending=%d A_overlap=%d A_strangers=%d" % (
          len(set(delivered)), len(delivered),
          len(delivered) - len(set(delivered)), len(set(retried)),
          len(set(bounced)), refused, pending, overlap, strangers))
PY

# envcheck.py SPOOL MEMBERS MAX: the transactions' shape.  Prints
# "transactions N maxrcpts M ungrouped U senders S1,S2 ahead_min A
# improper_max I": U counts the transactions whose recipients are not a
# run of consecutive members in (domain, address) order.
ENVCHECK=$T_DIR/envcheck.py
cat >"$ENVCHECK" <<'PY'
import glob, os, sys
spool, members_file = sys.argv[1:3]
members = [l.rstrip("\n") for l in open(members_file) if l.strip()]
order = sorted(members, key=lambda a: (a.rsplit("@", 1)[1].lower(), a))
pos = {a: i for i, a in enumerate(order)}
n = maxr = ungrouped = 0
senders = set()
ahead_min, improper_max = None, 0
for env in sorted(glob.glob(os.path.join(spool, "*.env"))):
    rcpts, info = [], {}
    for line in open(env):
        k, _, v = line.rstrip("\n").partition(" ")
        if k == "rcpt":
            rcpts.append(v)
        else:
            info[k] = v
    n += 1
    maxr = max(maxr, len(rcpts))
    p = sorted(pos.get(a, -100) for a in rcpts)
    if p != list(range(p[0], p[0] + len(p))):
        ungrouped += 1
    senders.add(info["mail"].split(" ")[0])
    a = int(info["ahead"])
    ahead_min = a if ahead_min is None else min(ahead_min, a)
    improper_max = max(improper_max, int(info["improper"]))
print("transactions %d maxrcpts %d ungrouped %d senders %s ahead_min %s "
      "improper_max %d" % (n, maxr, ungrouped, ",".join(sorted(senders)),
                           ahead_min, improper_max))
PY

# verpcheck.py SPOOL: every transaction has one recipient and a VERP
# sender that decodes (verp.h: split at the last '=', %XX) to it.  Prints
# "transactions N good G bad B".
VERPCHECK=$T_DIR/verpcheck.py
cat >"$VERPCHECK" <<'PY'
import glob, os, re, sys
from urllib.parse import unquote
spool, bounces = sys.argv[1:3]
blocal, bdomain = bounces.rsplit("@", 1)
n = good = 0
for env in glob.glob(os.path.join(spool, "*.env")):
    lines = open(env).read().split("\n")
    rcpts = [l[5:] for l in lines if l.startswith("rcpt ")]
    sender = [l[5:].split(" ")[0] for l in lines if l.startswith("mail ")][0]
    n += 1
    m = re.fullmatch(re.escape(blocal) + r"\+(.*)@" + re.escape(bdomain), sender)
    if len(rcpts) == 1 and m:
        local, _, domain = m.group(1).rpartition("=")
        if "=" not in domain and unquote(local) + "@" + domain == rcpts[0]:
            good += 1
            continue
    print("bad: %s -> %s" % (sender, rcpts), file=sys.stderr)
print("transactions %d good %d bad %d" % (n, good, n - good))
PY

h() { "$HERALD" --var "$V" "$@"; }
entries() { find "$V/queue/$1" -maxdepth 1 -name '*.msg' 2>/dev/null | wc -l; }
rlog() { echo "$T_DIR/$CASE.runner.log"; }
run_out() { h runner out --once >>"$(rlog)" 2>&1; }
run_retry() { h runner retry --once >>"$(rlog)" 2>&1; }
# run_out_timed: runner out --once, killed if it takes over 60 s; the
# seconds it took in $elapsed.
run_out_timed() {
	local t0 r
	t0=$(date +%s)
	timeout 60 "$HERALD" --var "$V" runner out --once 2>>"$(rlog)"
	r=$?
	elapsed=$(( $(date +%s) - t0 ))
	return $r
}

# setup CASE: a var dir with the list, its members, the delivery runners'
# handlers, an empty spool; PORT unset (the next sf_start takes a free one).
setup() {
	CASE=$1
	V=$(new_var "$CASE")
	SP=$T_DIR/$CASE.spool
	mkdir -p "$SP"
	PORT=
	SF_N=0
	h site set runner.out.handler outgoing
	h site set runner.retry.handler retry
	h site set delivery.max_recipients 5
	h site set delivery.retry_wait 1
	h lists create "$LIST" --owner "$OWNER" >/dev/null
	h members add "$LIST" <"$MEMBERS" >/dev/null
}

# sf_start SCRIPT [OPTION...]: (re)starts smtpfault with the fault script
# (rules, one a line; "" for none) on $PORT, or a free port the first time.
sf_start() {
	local script=$T_DIR/$CASE.script.$((++SF_N)) out=$T_DIR/$CASE.sf.$SF_N
	printf '%s\n' "$1" >"$script"
	shift
	"$SF" --port "${PORT:-0}" --spool "$SP" --script "$script" "$@" \
		>"$out" 2>"$out.err" &
	SF_PID=$!
	wait_for 10 grep -qs '^port ' "$out" || { cat "$out.err" >&2; return 1; }
	PORT=$(awk '/^port /{print $2}' "$out")
	h site set mta.smtp_port "$PORT"
}
sf_stop() { kill "$SF_PID" 2>/dev/null; wait "$SF_PID" 2>/dev/null; }

# post ID [BODY]: a post to every member straight into the out queue, as
# the pipeline leaves it (post-id ID; 0: none).
post() {
	local args=() m
	while IFS= read -r m; do args+=(--meta "rcpt=$m"); done <"$MEMBERS"
	[ "$1" -gt 0 ] && args+=(--meta "post-id=$1")
	printf 'From: user01@alpha.example\nTo: %s\nSubject: post %s\nMessage-ID: <%s.%s@alpha.example>\n\n%s\n' \
		"$LIST" "$1" "$CASE" "$1" "${2:-the body of the post}" |
		h queue inject out --list "$LIST" --meta kind=post \
			--meta "message-id=<$CASE.$1@alpha.example>" "${args[@]}" >/dev/null
}

# pipeline_post SUBJECT: a member's post through `herald mta post` and the
# pipeline (runner in --once) into the out queue.
pipeline_post() {
	printf 'From: user01@alpha.example\nTo: %s\nSubject: %s\nMessage-ID: <%s.%s@alpha.example>\n\nbody\n' \
		"$LIST" "$1" "$CASE" "${1// /.}" |
		h mta post "$LIST" --sender user01@alpha.example &&
	h site set runner.in.handler incoming &&
	h runner in --once >>"$(rlog)" 2>&1
}

# acct LABEL: counts this case's fates into A_* and prints them.
acct() {
	local line
	line=$(python3 "$ACCT" "$MEMBERS" "$SP" "$V" "$T_DIR/$CASE")
	eval "$line"
	diag "$CASE ($1): delivered $A_delivered (copies $A_copies, duplicates $A_dups)," \
		"retried $A_retried, bounced $A_bounced, refused $A_refused," \
		"still in out $A_pending"
}
# balanced: every member has exactly one fate and nobody else got one.
balanced() {
	[ $((A_delivered + A_retried + A_bounced + A_refused)) -eq "$NMEMBERS" ] &&
		[ "$A_overlap" -eq 0 ] && [ "$A_strangers" -eq 0 ] && [ "$A_pending" -eq 0 ]
}
# check_balance LABEL [DUPS]: the two assertions every case makes.
check_balance() {
	acct "$1"
	check "$CASE ($1): delivered + retried + bounced + refused == $NMEMBERS, nobody twice" balanced
	check "$CASE ($1): nobody got more than one copy" test "$A_dups" -eq "${2:-0}"
}
# same_set FILE PATTERN: FILE holds exactly the members matching the
# (extended) regexp.
same_set() { diff <(sort "$1") <(grep -E "$2" "$MEMBERS" | sort) >/dev/null; }
# make_due: waits until the retry runner has moved every retry entry back
# to out (the entries are due after delivery.retry_wait).
retry_all_due() { run_retry; [ "$(entries retry)" -eq 0 ]; }
redeliver() {
	wait_for 15 retry_all_due && run_out
}

# --- accept: all accepted, through the pipeline ------------------------------
setup accept
sf_start ""
pipeline_post "first post"
check "accept: the pipeline leaves one out entry for the $NMEMBERS members" \
	test "$(grep -c '^rcpt: ' "$V"/queue/out/*.msg)" -eq "$NMEMBERS"
check "accept: runner out --once succeeds" run_out
check_balance "all accepted"
check "accept: every member got it" test "$A_delivered" -eq "$NMEMBERS"
shape=$(python3 "$ENVCHECK" "$SP" "$MEMBERS")
diag "accept: $shape"
read -r _ ntx _ maxr _ ungrouped _ senders _ ahead _ improper <<<"$shape"
check "accept: the envelope sender is demo-bounces@lists.test" test "$senders" = demo-bounces@lists.test
check "accept: 20 recipients, at most 5 a transaction: 4 transactions" test "$ntx" -eq 4
check "accept: none over delivery.max_recipients 5" test "$maxr" -le 5
check "accept: each transaction is a run of the members in domain order" test "$ungrouped" -eq 0
check "accept: PIPELINING offered and used (ahead > 0 in each transaction)" test "$ahead" -gt 0
check "accept: the out queue is empty, nothing retried or bounced" \
	test "$(entries out)/$(entries retry)/$(entries bounces)" = 0/0/0
check "accept: no progress record is left" test -z "$(find "$V/queue/out" -name '*.progress')"
check "accept: the log line counts 20 accepted" grep -q "20 accepted, 0 deferred, 0 failed, 0 refused" "$V"/logs/*/deliver
sf_stop

# --- nopipe: PIPELINING not offered ------------------------------------------
setup nopipe
sf_start "" --no-pipelining
post 1
check "nopipe: runner out --once succeeds" run_out
check_balance "all accepted, no PIPELINING"
check "nopipe: every member got it" test "$A_delivered" -eq "$NMEMBERS"
shape=$(python3 "$ENVCHECK" "$SP" "$MEMBERS")
diag "nopipe: $shape"
read -r _ ntx _ maxr _ ungrouped _ senders _ ahead _ improper <<<"$shape"
check "nopipe: no command sent before the previous reply (improper 0)" test "$improper" -eq 0
check "nopipe: none over 5 recipients" test "$maxr" -le 5
sf_stop

# --- defer: 451 to RCPT for three --------------------------------------------
setup defer
h site set delivery.retry_wait 3
# The first RCPT of each gets 451, the next 250: the fault is gone at the
# retry.
sf_start "rcpt-first 1 user0[3-5]@* 451 4.2.0 greylisted, try later"
post 1
check "defer: runner out --once succeeds" run_out
check_balance "after the first attempt"
check "defer: 17 delivered" test "$A_delivered" -eq 17
check "defer: one retry entry" test "$(entries retry)" -eq 1
check "defer: its rcpt lines are exactly the three deferred" same_set "$T_DIR/defer.retried" '^user0[3-5]@'
rf=$(ls "$V"/queue/retry/*.msg | head -1)
check "defer: the retry entry says attempt 2 and the first attempt's time" \
	bash -c 'grep -qx "attempt: 2" "$1" && grep -q "^first-attempt: [0-9]" "$1"' _ "$rf"
check "defer: nothing bounced" test "$(entries bounces)" -eq 0
run_retry
check "defer: not yet due (retry_wait 3): the retry runner leaves it" test "$(entries retry)/$(entries out)" = 1/0
check "defer: once due it goes back to out and is delivered" redeliver
check_balance "after the retry"
check "defer: all $NMEMBERS delivered, exactly once each" test "$A_delivered/$A_copies" = "$NMEMBERS/$NMEMBERS"
check "defer: the retry, out and bounces queues are empty" \
	test "$(entries retry)/$(entries out)/$(entries bounces)" = 0/0/0
sf_stop

# --- fail: 550 to RCPT for two -----------------------------------------------
setup fail
sf_start "rcpt user0[6-7]@* 550 5.1.1 no such user"
post 1
check "fail: runner out --once succeeds" run_out
check_balance "550 for two"
check "fail: 18 delivered" test "$A_delivered" -eq 18
check "fail: one bounce event" test "$(entries bounces)" -eq 1
bf=$(ls "$V"/queue/bounces/*.msg | head -1)
check "fail: kind bounce-event, for the list" \
	bash -c 'grep -qx "kind: bounce-event" "$1" && grep -qx "list: demo@lists.test" "$1"' _ "$bf"
check "fail: one member line for each of the two" same_set "$T_DIR/fail.bounced" '^user0[67]@'
check "fail: the event carries the Message-ID and the reply" \
	bash -c 'grep -qx "message-id: <fail.1@alpha.example>" "$1" && grep -q "550 5.1.1 no such user" "$1"' _ "$bf"
check "fail: nothing retried" test "$(entries retry)" -eq 0
sleep 1.1
run_retry
run_out
acct "after another pass of both runners"
check "fail: and nothing sent again" test "$A_copies" -eq 18
sf_stop

# --- refuse: 554 after the data ----------------------------------------------
setup refuse
sf_start "dot-if FORBIDDEN-WORD 554 5.7.1 message content rejected"
post 1 "this body holds the FORBIDDEN-WORD"
check "refuse: runner out --once succeeds" run_out
check_balance "554 after the data"
check "refuse: all $NMEMBERS refused (the log line)" test "$A_refused" -eq "$NMEMBERS"
check "refuse: no bounce event (the message was refused, not the members)" test "$(entries bounces)" -eq 0
check "refuse: nothing retried" test "$(entries retry)" -eq 0
check "refuse: one notice in the virgin queue" test "$(entries virgin)" -eq 1
nf=$(ls "$V"/queue/virgin/*.msg 2>/dev/null | head -1)
check "refuse: to the list's owner" grep -qx "rcpt: $OWNER" "${nf:-/dev/null}"
check "refuse: naming the refusal, its reply and the number of recipients" \
	bash -c 'grep -q "refused" "$1" && grep -q "554 5.7.1 message content rejected" "$1" && grep -q "for 20 recipients" "$1"' _ "${nf:-/dev/null}"
check "refuse: with the refused post attached" grep -q "FORBIDDEN-WORD" "${nf:-/dev/null}"
check "refuse: the log says 20 refused" grep -q "0 accepted, 0 deferred, 0 failed, 20 refused" "$V"/logs/*/deliver
sf_stop

# Only the first transaction is refused: its recipients alone.
setup refuse1
h site set delivery.connections 1
sf_start "reply-first 1 dot 554 5.7.1 refused this once"
post 1
check "refuse1: runner out --once succeeds" run_out
check_balance "554 after the data for one transaction"
check "refuse1: that transaction's 5 refused, the other 15 delivered" test "$A_refused/$A_delivered" = 5/15
check "refuse1: the first 5 in domain order were refused" \
	test "$(grep -c alpha "$T_DIR/refuse1.delivered")" -eq 2
check "refuse1: no bounce event, nothing retried" test "$(entries bounces)/$(entries retry)" = 0/0
nf=$(ls "$V"/queue/virgin/*.msg 2>/dev/null | head -1)
check "refuse1: one owner notice, for 5 recipients, with the reply" \
	bash -c '[ "$(ls "$2"/queue/virgin | wc -l)" -eq 1 ] && grep -q "for 5 recipients" "$1" && grep -q "554 5.7.1 refused this once" "$1"' _ "${nf:-/dev/null}" "$V"
sf_stop

# The owners' notice cannot be written (the virgin queue is not a
# directory): the refusal must not be forgotten.  deliver.h: 0 only "when
# every recipient has its fate recorded (..., owner report)"; otherwise the
# entry stays, and its progress record keeps the refusals, so a later run
# reports them without sending again.
setup refuselost
sf_start "dot-if FORBIDDEN-WORD 554 5.7.1 message content rejected"
post 1 "FORBIDDEN-WORD"
rm -rf "$V/queue/virgin"
touch "$V/queue/virgin"
run_out
diag "refuselost: out $(entries out), deliver log: $(grep -c 'reporting a refused post' "$V"/logs/*/deliver) report failure(s) logged"
rm -f "$V/queue/virgin"
mkdir "$V/queue/virgin"
run_out
acct "after the virgin queue is back"
check "refuselost: the owners get the notice once the virgin queue works again" \
	test "$(grep -l "554 5.7.1 message content rejected" "$V"/queue/virgin/*.msg 2>/dev/null | wc -l)" -eq 1
check "refuselost: nobody got a copy, the out queue is empty" test "$A_copies/$(entries out)" = 0/0
sf_stop

# --- dropdata: the connection drops during the data --------------------------
setup dropdata
# Every transaction of a bulk post drops: all recipients are retried.
sf_start "drop-data 100"
post 1 "$(printf 'a line of the body that makes the message long enough %s\n' 1 2 3 4)"
check "dropdata: runner out --once succeeds" run_out
check_balance "every transaction dropped during the data"
check "dropdata: nobody delivered" test "$A_delivered" -eq 0
check "dropdata: all $NMEMBERS in the retry queue" test "$A_retried" -eq "$NMEMBERS"
check "dropdata: nothing bounced" test "$(entries bounces)" -eq 0
sf_stop
sf_start ""
check "dropdata: with the server well again, the retry delivers" redeliver
check_balance "after the retry"
check "dropdata: all $NMEMBERS delivered exactly once" test "$A_delivered/$A_copies" = "$NMEMBERS/$NMEMBERS"
sf_stop

# Personalised: one transaction a member, each copy its own size.  The
# member with the longest address gets the longest copy; the server drops
# only copies that long.
setup droppers
h config set "$LIST" personalize 1
h config set "$LIST" msg_footer 'sent to %(user_address)s'
h site set delivery.verp_personalized false
sf_start ""
post 1
run_out
sizes=$(for e in "$SP"/*.env; do echo "$(stat -c %s "${e%.env}.wire") $(sed -n 's/^rcpt //p' "$e")"; done | sort -n)
diag "droppers: wire sizes: $(echo "$sizes" | head -1) .. $(echo "$sizes" | tail -1)"
check "droppers: personalised, each member a copy of their own" \
	test "$(ls "$SP"/*.env | wc -l)" -eq "$NMEMBERS"
big=$(echo "$sizes" | tail -1 | cut -d' ' -f1)
second=$(echo "$sizes" | tail -2 | head -1 | cut -d' ' -f1)
longest=$(echo "$sizes" | tail -1 | cut -d' ' -f2-)
sf_stop
rm -rf "$SP" "$T_DIR/$CASE.spool"
mkdir -p "$SP"
check "droppers: the longest address's copy is the one longest copy ($second < $big)" test "$second" -lt "$big"
sf_start "drop-data $big"
post 2
check "droppers: runner out --once succeeds" run_out
check_balance "one personalised copy dropped"
# The next copy's envelope went out with the end of the dropped copy's
# data (RFC 2920 pipelining across transactions), so that copy, whose
# data never went, may be retried with it; nobody else.
check "droppers: the others delivered ($((NMEMBERS - 1)) or $((NMEMBERS - 2)))" \
	test "$A_delivered" -eq $((NMEMBERS - A_retried))
check "droppers: the dropped one ($longest) is retried, with at most the copy after it" \
	bash -c 'grep -qxF "$1" "$2" && [ "$(wc -l <"$2")" -le 2 ]' _ "$longest" "$T_DIR/droppers.retried"
sf_stop
sf_start ""
check "droppers: the retry delivers it" redeliver
check_balance "after the retry"
check "droppers: all $NMEMBERS delivered exactly once" test "$A_delivered/$A_copies" = "$NMEMBERS/$NMEMBERS"
check "droppers: the retried copy is personalised for its member too" \
	bash -c 'f=$(grep -l "^rcpt $1\$" "$2"/*.env) && grep -qF "sent to $1" "${f%.env}.msg"' _ "$longest" "$SP"
sf_stop

# Personalised, one connection: each copy's final dot goes with the next
# copy's MAIL, RCPT and DATA, its reply read with theirs.  A 554 and a
# 451 after one copy's data are that copy's alone, and so is a 550 to the
# RCPT of the copy after the 451.
setup verdicts
h config set "$LIST" personalize 1
h config set "$LIST" msg_footer 'sent to %(user_address)s'
h site set delivery.verp_personalized false
h site set delivery.connections 1
sf_start "dot-if user04@alpha.example 554 5.7.1 not this one
dot-if user07@alpha.example 451 4.3.0 later
rcpt user08@* 550 5.1.1 gone"
post 1
check "verdicts: runner out --once succeeds" run_out
check_balance "554 and 451 after a copy, 550 to the next RCPT"
check "verdicts: 17 delivered, 1 refused" test "$A_delivered/$A_refused" = 17/1
check "verdicts: user07 alone is retried" same_set "$T_DIR/verdicts.retried" '^user07@'
check "verdicts: user08 alone bounced" same_set "$T_DIR/verdicts.bounced" '^user08@'
check "verdicts: user04 is not among the delivered" bash -c '! grep -q "^user04@" "$1"' _ "$T_DIR/verdicts.delivered"
ahead3=$(grep -lx 'dot-ahead 3' "$SP"/*.env | wc -l)
ahead0=$(grep -lx 'dot-ahead 0' "$SP"/*.env | wc -l)
diag "verdicts: copies whose dot came with the next envelope $ahead3, alone $ahead0"
check "verdicts: each stored copy's dot came with the next copy's MAIL, RCPT, DATA, but the last of each batch of 5" \
	test "$ahead3/$ahead0" = 13/4
sf_stop
sf_start ""
check "verdicts: the retry delivers user07" redeliver
check_balance "after the retry"
check "verdicts: 18 delivered, each once" test "$A_delivered/$A_copies" = 18/18
sf_stop

# --- stall: slower than mta.smtp_timeout -------------------------------------
setup stall
h site set mta.smtp_timeout 2
sf_start "stall data 8"
post 1
check "stall: runner out --once returns (timeout 60)" run_out_timed
diag "stall: runner out --once took $elapsed s (mta.smtp_timeout 2, 4 batches over 4 connections)"
check "stall: it gave up after the timeouts, not the server's 8 s" test "$elapsed" -lt 8
check_balance "every transaction timed out"
check "stall: all $NMEMBERS retried" test "$A_retried" -eq "$NMEMBERS"
check "stall: the log names the timeout" grep -q "no progress within 2000 ms" "$V"/logs/*/deliver
sf_stop
sf_start ""
check "stall: with a prompt server, the retry delivers" redeliver
check_balance "after the retry"
check "stall: all $NMEMBERS delivered exactly once" test "$A_delivered/$A_copies" = "$NMEMBERS/$NMEMBERS"
sf_stop

# Slow after the final dot: the server has the message when the client
# gives up.  Herald cannot know it was taken, so it retries (RFC 5321
# 4.5.3.2: a timeout is a temporary failure): nobody lost, and the copies
# of the timed-out transactions come twice.
setup stalldot
h site set mta.smtp_timeout 2
sf_start "stall dot 3"
post 1
check "stalldot: runner out --once returns" timeout 60 "$HERALD" --var "$V" runner out --once 2>>"$(rlog)"
# The server stores each message once its stall is over.
wait_for 10 test "$(ls "$SP" | grep -c '\.env$')" -eq 4
acct "timed out after the dot"
check "stalldot: all $NMEMBERS retried" test "$A_retried" -eq "$NMEMBERS"
sf_stop
sf_start ""
check "stalldot: the retry delivers" redeliver
acct "after the retry"
check "stalldot: every member has it, nobody lost" test "$A_delivered" -eq "$NMEMBERS"
check "stalldot: the duplicates are exactly the timed-out transactions' ($A_dups)" test "$A_dups" -eq "$NMEMBERS"
sf_stop

# --- down: no server, then back ----------------------------------------------
setup down
sf_start ""
sf_stop
post 1
t0=$(date +%s)
check "down: runner out --once succeeds with nobody listening" run_out
diag "down: runner out --once took $(( $(date +%s) - t0 )) s"
check_balance "server down"
check "down: all $NMEMBERS in the retry queue" test "$A_retried" -eq "$NMEMBERS"
check "down: one retry entry" test "$(entries retry)" -eq 1
check "down: the log says why" grep -q "connecting to the MTA" "$V"/logs/*/deliver
sf_start ""
check "down: back up and due, the retry delivers" redeliver
check_balance "server back"
check "down: all $NMEMBERS delivered exactly once" test "$A_delivered/$A_copies" = "$NMEMBERS/$NMEMBERS"
check "down: retry and out empty" test "$(entries retry)/$(entries out)" = 0/0
sf_stop

# --- mail550 / mail451: MAIL FROM refused ------------------------------------
setup mail550
sf_start "mail demo-bounces* 550 5.7.1 sender rejected"
post 1
check "mail550: runner out --once succeeds" run_out
check_balance "MAIL 550"
# deliver.h: a 5xx to MAIL refuses the message (the sender, or its size),
# not the members: refused, reported to the owners, no bounce events.
check "mail550: all $NMEMBERS refused" test "$A_refused" -eq "$NMEMBERS"
check "mail550: no bounce event (the sender was refused, not the members)" test "$(entries bounces)" -eq 0
check "mail550: nothing retried" test "$(entries retry)" -eq 0
nf=$(ls "$V"/queue/virgin/*.msg 2>/dev/null | head -1)
check "mail550: one notice to the owner naming the reply" \
	bash -c '[ "$(ls "$2"/queue/virgin | wc -l)" -eq 1 ] && grep -qx "rcpt: $3" "$1" && grep -q "550 5.7.1 sender rejected" "$1"' _ "${nf:-/dev/null}" "$V" "$OWNER"
check "mail550: the log names the refused MAIL" grep -q "MAIL FROM:<demo-bounces@lists.test> refused: 550" "$V"/logs/*/deliver
sf_stop

setup mail451
sf_start "mail demo-bounces* 451 4.3.0 try again later"
post 1
check "mail451: runner out --once succeeds" run_out
check_balance "MAIL 451"
check "mail451: all $NMEMBERS deferred: retried" test "$A_retried" -eq "$NMEMBERS"
check "mail451: no bounce event" test "$(entries bounces)" -eq 0
sf_stop

# --- verp --------------------------------------------------------------------
setup verp
h site set delivery.verp_interval 1
sf_start ""
post 1
check "verp: runner out --once succeeds" run_out
check_balance "VERP"
v=$(python3 "$VERPCHECK" "$SP" demo-bounces@lists.test 2>"$T_DIR/verp.bad")
diag "verp: $v"
sed 's/^/# /' "$T_DIR/verp.bad"
check "verp: $NMEMBERS transactions, one recipient each, each sender decoding to its recipient" \
	test "$v" = "transactions $NMEMBERS good $NMEMBERS bad 0"
check "verp: the '+' member's sender" grep -qx 'mail demo-bounces+user17+tag=delta.example@lists.test.*' "$SP"/*.env
check "verp: the '=' member's sender" grep -qx 'mail demo-bounces+user18=x=delta.example@lists.test.*' "$SP"/*.env
check "verp: the '%' member's sender" grep -qx 'mail demo-bounces+user19%25y=delta.example@lists.test.*' "$SP"/*.env
check "verp: the log marks it VERP" grep -q "(VERP)" "$V"/logs/*/deliver
# A post as the pipeline makes it, with verp_interval 1 ("every post").
rm -f "$SP"/*
pipeline_post "through the pipeline"
check "verp: the pipeline's post reaches out" test "$(entries out)" -eq 1
grep -h '^post-id: ' "$V"/queue/out/*.msg | sed 's/^/# pipeline out entry: /'
run_out
v=$(python3 "$VERPCHECK" "$SP" demo-bounces@lists.test 2>/dev/null)
diag "verp (pipeline post): $v"
check "verp: a post through the pipeline is VERP'd too with verp_interval 1" \
	test "$v" = "transactions $NMEMBERS good $NMEMBERS bad 0"
sf_stop

# --- period: the retry period runs out ---------------------------------------
setup period
h site set delivery.retry_period 60
sf_start "rcpt user1[01]@* 451 4.2.0 still not ready"
post 1
check "period: runner out --once succeeds" run_out
check_balance "first attempt"
check "period: the two are retried" same_set "$T_DIR/period.retried" '^user1[01]@'
# Two minutes pass: the first attempt is moved back 120 s (the metadata
# header; the entry's size line counts only the message).
rf=$(ls "$V"/queue/retry/*.msg | head -1)
first=$(sed -n 's/^first-attempt: //p' "$rf")
sed -i "s/^first-attempt: .*/first-attempt: $((first - 120))/" "$rf"
check "period: the retry runs once it is due" redeliver
check_balance "after the retry period"
check "period: they became a bounce event" same_set "$T_DIR/period.bounced" '^user1[01]@'
check "period: the event says the retry period ran out" grep -q "retry_period" "$V"/queue/bounces/*.msg
check "period: no retry left" test "$(entries retry)" -eq 0
check "period: the others were delivered once" test "$A_delivered/$A_copies" = 18/18
sf_stop

# --- lmtp ---------------------------------------------------------------------
setup lmtp
h site set mta.transport lmtp
sf_start "dot-rcpt user0[23]@* 452 4.2.2 mailbox full, try later
dot-rcpt user1[23]@* 552 5.2.2 mailbox over quota for good" --lmtp
post 1
check "lmtp: runner out --once succeeds" run_out
check_balance "per-recipient replies after the data"
check "lmtp: 16 delivered" test "$A_delivered" -eq 16
check "lmtp: the two with 452 after the data are retried" same_set "$T_DIR/lmtp.retried" '^user0[23]@'
check "lmtp: the two with 552 for their own mailbox are bounce events, not a refusal of the message" \
	same_set "$T_DIR/lmtp.bounced" '^user1[23]@'
sf_stop
sf_start "" --lmtp
check "lmtp: the retry delivers once the mailboxes have room" redeliver
check_balance "after the retry"
check "lmtp: the deferred two were delivered" test "$(grep -cE '^user0[23]@' "$T_DIR/lmtp.delivered")" -eq 2
sf_stop

# --- sendmail: the command transport -----------------------------------------
# sendmail-spool SPOOL -i -f SENDER -- RCPT...: keeps the message and an .env
# file as smtpfault's spool does (mail and rcpt lines).
SENDMAIL_SPOOL=$T_DIR/sendmail-spool
cat >"$SENDMAIL_SPOOL" <<'SH'
#!/bin/sh
spool=$1
shift
if [ "$1 $2" != "-i -f" ] || [ "$4" != "--" ]; then
	echo "unexpected arguments: $*"
	exit 64
fi
sender=$3
shift 4
f=$(mktemp "$spool/sendmail.XXXXXX") || exit 75
cat >"$f.msg" || exit 75
{ echo "mail $sender"; for r in "$@"; do echo "rcpt $r"; done; } >"$f.tmp" &&
	mv "$f.tmp" "$f.env" && rm -f "$f"
SH
# sendmail-hang DIR ...: takes the message, then waits for ever for a child
# that sleeps (an hour); both pids go to DIR/hung.pids.
SENDMAIL_HANG=$T_DIR/sendmail-hang
cat >"$SENDMAIL_HANG" <<'SH'
#!/bin/sh
cat >/dev/null
echo $$ >>"$1/hung.pids"
sleep 3600 &
echo $! >>"$1/hung.pids"
wait
SH
chmod +x "$SENDMAIL_SPOOL" "$SENDMAIL_HANG"
# alive PID: the process runs (a zombie, dead and waiting for init, is
# not running).
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
# none_alive FILE: no pid listed in FILE runs.
none_alive() {
	local p
	while read -r p; do alive "$p" && return 1; done <"$1"
	return 0
}

setup sendmail
h site set mta.transport sendmail
h site set mta.sendmail_command "$SENDMAIL_SPOOL $SP"
post 1
check "sendmail: runner out --once succeeds" run_out
check_balance "all accepted by the command"
check "sendmail: every member got it" test "$A_delivered" -eq "$NMEMBERS"
check "sendmail: 4 runs of the command (5 recipients each)" test "$(ls "$SP"/*.env | wc -l)" -eq 4
check "sendmail: the envelope sender is demo-bounces@lists.test" \
	test "$(sed -n 's/^mail //p' "$SP"/*.env | sort -u)" = demo-bounces@lists.test

setup sendmailhang
h site set mta.transport sendmail
h site set mta.smtp_timeout 2
mkdir -p "$T_DIR/$CASE.run"
: >"$T_DIR/$CASE.run/hung.pids"
h site set mta.sendmail_command "$SENDMAIL_HANG $T_DIR/$CASE.run"
post 1
check "sendmailhang: runner out --once returns (timeout 60)" run_out_timed
diag "sendmailhang: runner out --once took $elapsed s (mta.smtp_timeout 2, 4 runs of the command)"
check "sendmailhang: it gave up after the timeouts" test "$elapsed" -lt 30
check_balance "every command hung"
check "sendmailhang: all $NMEMBERS retried, nobody lost" test "$A_retried" -eq "$NMEMBERS"
check "sendmailhang: nothing bounced or refused" test "$(entries bounces)/$A_refused" = 0/0
check "sendmailhang: the log names the timeout and the kill" \
	grep -q "no progress within 2000 ms (waiting for it to exit); killed" "$V"/logs/*/smtp
check "sendmailhang: 4 commands were run, each with its child" \
	test "$(wc -l <"$T_DIR/$CASE.run/hung.pids")" -eq 8
check "sendmailhang: none of them, nor their children, still runs" \
	wait_for 5 none_alive "$T_DIR/$CASE.run/hung.pids"
h site set mta.sendmail_command "$SENDMAIL_SPOOL $SP"
check "sendmailhang: with a working command, the retry delivers" redeliver
check_balance "after the retry"
check "sendmailhang: all $NMEMBERS delivered exactly once" test "$A_delivered/$A_copies" = "$NMEMBERS/$NMEMBERS"
# Whatever a failure above left running is this test's own.
while read -r p; do alive "$p" && kill -9 "$p"; done <"$T_DIR/$CASE.run/hung.pids"

t_done
