# tests/lib.sh - shared by the integration tests: TAP output, a scratch var
# dir, the herald binary of the build under test ($HERALD_BUILD).
set -u
HERALD_TOP=${HERALD_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
HERALD_BUILD=${HERALD_BUILD:-build}
case $HERALD_BUILD in /*) BUILD=$HERALD_BUILD ;; *) BUILD=$HERALD_TOP/$HERALD_BUILD ;; esac
HERALD=$BUILD/herald
TOOLS=$BUILD/tests
SHIM=$BUILD/tests/nfsfault.so
# verify_asan_link_order=0: the fault shim and libfaketime are preloaded
# ahead of the ASan runtime in some tests.
T_NUM=0
T_FAILED=0

# A fresh scratch directory, removed at exit unless KEEP=1.
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/herald-test.XXXXXX")
# Sanitizer reports also go to files, so that those of daemonised
# processes (whose standard error is /dev/null) are not lost: t_done fails
# the test if there are any.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:verify_asan_link_order=0:log_path=$T_DIR/sanitizer}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:log_path=$T_DIR/sanitizer}
t_cleanup() {
	local pids
	pids=$(jobs -p)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	# Stop any master left running in our var dirs.
	for pf in "$T_DIR"/*/run/master.*.pid; do
		[ -f "$pf" ] && kill -9 "$(cat "$pf")" 2>/dev/null
	done
	[ "${KEEP:-0}" = 1 ] || rm -rf "$T_DIR"
}
trap t_cleanup EXIT

ok() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM - $*"; }
not_ok() { T_NUM=$((T_NUM + 1)); T_FAILED=1; echo "not ok $T_NUM - $*"; }
# check "description" command...: ok when the command succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
diag() { echo "# $*"; }
# skip "why": one test that could not run here (counted as passed by TAP).
skip() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM # skip $*"; }
t_done() {
	local r
	for r in "$T_DIR"/sanitizer.*; do
		[ -f "$r" ] || continue
		not_ok "sanitizer report $(basename "$r")"
		sed 's/^/# /' "$r" | head -30
	done
	exit $T_FAILED
}

# new_var NAME: a new var dir $T_DIR/NAME (its path is printed), without the runners `herald init` configures
# (in: the pipeline, virgin: notices), so that a test sets up just the
# runners it is about; pipeline_runners V puts those two back.
new_var() {
	local v=$T_DIR/$1
	"$HERALD" --var "$v" init >/dev/null || return 1
	sed -i '/^\[runner\./,$d' "$v/etc/herald.conf"
	echo "$v"
}
# drop_runner V QUEUE: no runner for QUEUE (its section removed).
drop_runner() {
	python3 - "$1/etc/herald.conf" "$2" <<'PY'
import re, sys
path, q = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"(?ms)^\[runner\.%s\]\n.*?(?=^\[|\Z)" % re.escape(q), "", text)
open(path, "w").write(text)
PY
}
pipeline_runners() {
	"$HERALD" --var "$1" site set runner.in.handler incoming &&
	"$HERALD" --var "$1" site set runner.virgin.handler virgin
}

# wait_for SECONDS command...: polls every 0.1 s until the command succeeds.
wait_for() {
	local limit=$1; shift
	local end=$(( $(date +%s%N) + limit * 1000000000 ))
	while ! "$@"; do
		[ "$(date +%s%N)" -gt "$end" ] && return 1
		sleep 0.1
	done
}

# chain V IN_SLICES OUT_SLICES: configure runners in -> out -> done (no
# runner works "done": it collects what arrived).
chain() {
	"$HERALD" --var "$1" site set runner.in.slices "$2" &&
	"$HERALD" --var "$1" site set runner.in.handler forward &&
	"$HERALD" --var "$1" site set runner.in.next out &&
	"$HERALD" --var "$1" site set runner.out.slices "$3" &&
	"$HERALD" --var "$1" site set runner.out.next done
}

# drained V: nothing left in in/ or out/, ready or claimed.
drained() { [ -z "$(find "$1/queue/in" "$1/queue/out" -name '*.msg' -o -name '*.bak')" ]; }
# no_leftovers V: no .tmp or .bak anywhere in the queues.
no_leftovers() { [ -z "$(find "$1/queue" -name '*.tmp' -o -name '*.bak')" ]; }

# free_port: a free TCP port on loopback.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# postfix_herald V PF MAILDIRS MAILBOXES: a new var dir V for herald behind
# the private Postfix of PF (tests/postfix/instance.sh). Postfix's agents
# run as postfix (the LMTP client: the socket's group, through a setgid
# run/) and nobody (virtual(8): the Maildirs under MAILDIRS), so every
# directory on the way is made traversable; herald listens on
# V/run/lmtp.sock, writes Postfix's tables for PF and sends to its SMTP
# port. Exports what instance.sh reads: PORT (a free one), HERALD_TABLES,
# HERALD_MAILDIRS and HERALD_MAILBOXES (the addresses with a Maildir).
postfix_herald() {
	local v=$1 pf=$2
	chmod o+x "$T_DIR" &&
		"$HERALD" --var "$v" init >/dev/null &&
		chgrp postfix "$v" "$v/run" "$v/etc" && chmod g+s "$v/run" || return 1
	PORT=$(free_port)
	export PORT HERALD_TABLES=$v/etc/postfix HERALD_MAILDIRS=$3 HERALD_MAILBOXES=$4
	"$HERALD" --var "$v" site set lmtp.listen "unix:$v/run/lmtp.sock" &&
		"$HERALD" --var "$v" site set lmtp.socket_group postfix &&
		"$HERALD" --var "$v" site set mta.postfix_config "$pf/etc" &&
		"$HERALD" --var "$v" site set mta.smtp_port "$PORT" &&
		"$HERALD" --var "$v" site set master.restart_backoff_max 1
}

# libfaketime, for the tests that move the clock (empty when it is not
# installed: such a test says so and stops); at OFFSET CMD...: CMD with
# the clock moved by OFFSET (+8d, -2d, ...).
FAKELIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
at() { local off=$1; shift; LD_PRELOAD=$FAKELIB FAKETIME="$off" "$@"; }

# sendmail_spool V DIR: var dir V delivers through the sendmail transport
# into DIR, one file a copy (DIR/mail.XXXXXX.eml).
sendmail_spool() {
	local v=$1 dir=$2
	mkdir -p "$dir" || return 1
	cat >"$T_DIR/sendmail" <<'SH'
#!/bin/sh
f=$(mktemp "$1/mail.XXXXXX") && cat >"$f.eml" && rm -f "$f"
SH
	chmod +x "$T_DIR/sendmail" &&
		"$HERALD" --var "$v" site set mta.transport sendmail &&
		"$HERALD" --var "$v" site set mta.sendmail_command "$T_DIR/sendmail $dir"
}

# web_serve V: the web interface of var dir V (`herald web serve`) on a free
# port of 127.0.0.1, in the background until the test ends; exports WEB_BASE
# (http://127.0.0.1:PORT/, also web.base_url) and WEB_PID, logs in V/web.log.
web_serve() {
	local v=$1 port
	port=$(free_port)
	export WEB_BASE=http://127.0.0.1:$port/
	"$HERALD" --var "$v" site set web.listen "127.0.0.1:$port" &&
		"$HERALD" --var "$v" site set web.base_url "$WEB_BASE" || return 1
	"$HERALD" --var "$v" web serve 2>>"$v/web.log" &
	WEB_PID=$!
	wait_for 20 curl -s -o /dev/null "$WEB_BASE"
}
# api_subscribe LIST TOKEN FIRST COUNT CONNS EXTRA: COUNT POSTs to the
# REST API adding sub<FIRST..>@example.com to LIST, one member each, over
# CONNS keep-alive connections; EXTRA is JSON merged into each body ("{}"
# for none). The statuses, one a line in address order, on standard output.
api_subscribe() {
	python3 - "${WEB_BASE}" "$@" <<'EOF'
import http.client, json, sys, threading, urllib.parse
base, lst, tok = sys.argv[1], sys.argv[2], sys.argv[3]
first, n, conns = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
extra = json.loads(sys.argv[7])
u = urllib.parse.urlparse(base)
h = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
status = {}
def client(k):
    c = http.client.HTTPConnection(u.hostname, u.port)
    for i in range(first + k, first + n, conns):
        c.request("POST", "/api/v1/lists/%s/members" % lst, headers=h,
                  body=json.dumps(dict(extra, address="sub%d@example.com" % i)))
        r = c.getresponse(); r.read()
        status[i] = r.status
ts = [threading.Thread(target=client, args=(k,)) for k in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
for i in sorted(status): print(status[i])
EOF
}
# browser SCRIPT [ARGS...]: runs tests/web/SCRIPT (node, playwright-core and
# Debian's chromium; tests/web/lib.mjs) against WEB_BASE; its "ok" / "not ok"
# lines count like the test's own. Screenshots go to $WEB_SHOTS when set.
browser() {
	local script=$1; shift
	if [ ! -d "$HERALD_TOP/tests/web/node_modules/playwright-core" ] ||
		[ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
		not_ok "browser test $script: playwright-core or chromium is missing (scripts/install-deps.sh)"
		return 1
	fi
	local out=$T_DIR/browser.$$.out rc line
	(cd "$HERALD_TOP/tests/web" && WEB_BASE=$WEB_BASE node "$script" "$@") \
		>"$out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) not_ok "${line#not ok - }" ;;
		*) echo "# $line" ;;
		esac
	done <"$out"
	[ "$rc" = 0 ] || [ "$T_FAILED" = 1 ] ||
		not_ok "browser test $script exited with status $rc"
	rm -f "$out"
}
# html_ok FILE: an HTML5 page without an error or warning from tidy (HTML
# Tidy knows HTML5; xmllint's HTML parser does not).
html_ok() { tidy -q -e "$1" 2>"$1.tidy" || { sed 's/^/# /' "$1.tidy"; return 1; }; }
