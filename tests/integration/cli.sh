#!/usr/bin/env bash
# The command line: init, site get/set/show (secrets masked unless asked),
# queue counts, inject, show, unshunt, and a corrupt queue file set aside
# in bad/ with a reason.
. "$(dirname "$0")/../lib.sh"
V=$T_DIR/v
check "init creates a var dir" bash -c "'$HERALD' --var '$V' init >/dev/null"
for d in etc queue lists archives locks leases logs run; do
	[ -d "$V/$d" ] || not_ok "init made no $d/"
done
check "the default configuration is documented" grep -q "^#smtp_port = 25" "$V/etc/herald.conf"
check "init twice keeps the configuration" bash -c "'$HERALD' --var '$V' site set mta.smtp_port 2525 && '$HERALD' --var '$V' init >/dev/null && [ \"\$('$HERALD' --var '$V' site get mta.smtp_port)\" = 2525 ]"
check "HERALD_VAR selects the var dir" test "$(HERALD_VAR=$V "$HERALD" site get mta.smtp_host)" = 127.0.0.1
err=$("$HERALD" --var "$V" site set mta.smtp_port 99999 2>&1)
check "a value out of range is refused, naming the setting ($err)" bash -c "echo \"\$1\" | grep -q 'mta.smtp_port: 99999 is outside 1..65535'" _ "$err"
err=$("$HERALD" --var "$V" site get mta.nope 2>&1)
check "an unknown setting is an error ($err)" bash -c "echo \"\$1\" | grep -q \"unknown site setting 'mta.nope'\"" _ "$err"
# A secret is shown by site show only when asked, by site get when named.
"$HERALD" --var "$V" site set mta.smtp_password 'hunter2 secret'
check "site show masks mta.smtp_password" bash -c "'$HERALD' --var '$V' site show | grep -qx 'mta.smtp_password = (set)'"
check "site show prints no secret" bash -c "! '$HERALD' --var '$V' site show | grep -q hunter2"
check "site show --show-secrets prints it" bash -c "'$HERALD' --var '$V' site show --show-secrets | grep -qx 'mta.smtp_password = hunter2 secret'"
check "site get prints it when named" test "$("$HERALD" --var "$V" site get mta.smtp_password)" = "hunter2 secret"
check "site get --help says so" bash -c "'$HERALD' site get --help | grep -q 'naming it is asking for it'"
"$HERALD" --var "$V" site set mta.smtp_password ''
check "an unset secret shows as not set" bash -c "'$HERALD' --var '$V' site show | grep -qx 'mta.smtp_password = (not set)'"
err=$("$HERALD" --var "$T_DIR/none" queue 2>&1)
check "a var dir without configuration says to run init ($err)" bash -c "echo \"\$1\" | grep -q 'herald --var .* init'" _ "$err"
"$HERALD" --var "$V" queue inject in </dev/null >/dev/null; rc=$?
check "inject without a message body still stores an (empty) message" test "$rc" -eq 0

name=$(printf 'Subject: hello\n\nworld\n' | "$HERALD" --var "$V" queue inject in --list demo@example.com --meta pipeline=a,b)
check "inject prints the entry name ($name)" bash -c "[[ '$name' =~ ^in/[0-9]{16}\+[0-9a-f]{40}\.msg$ ]]"
shown=$("$HERALD" queue show "$V/queue/$name")
check "show prints the metadata" bash -c "echo \"\$1\" | grep -q '^list: demo@example.com$' && echo \"\$1\" | grep -q '^pipeline: a,b$'" _ "$shown"
check "show prints the message" bash -c "echo \"\$1\" | grep -q '^world$'" _ "$shown"
check "queue counts the entries" bash -c "'$HERALD' --var '$V' queue | grep -Eq '^in +2 +0$'"

# Unshunt: back to the queue it came from, metadata kept, shunt fields gone.
printf 'Subject: s\n\nshunted\n' | "$HERALD" --var "$V" queue inject shunt --meta whichq=out --meta shunt-reason=test --meta pipeline=decorate >/dev/null
out=$("$HERALD" --var "$V" queue unshunt)
check "unshunt moves it back ($out)" test "$out" = "1 message moved back to their queues"
f=$(ls "$V/queue/out"/*.msg)
check "to its origin queue, with its remaining work" bash -c "'$HERALD' queue show '$f' | grep -q '^pipeline: decorate$'"
check "without the shunt fields" bash -c "! '$HERALD' queue show '$f' | grep -q '^whichq\|^shunt-reason'"

# A corrupt entry goes to bad/ with a log line naming why; the rest moves.
"$HERALD" --var "$V" site set runner.in.handler sink
printf 'herald-queue 1\nsize: 100\n\ntruncated' >"$V/queue/in/0000000000000001+0123456789abcdef0123456789abcdef01234567.msg"
"$HERALD" --var "$V" runner in --once 2>"$T_DIR/runner.err"
check "the runner survives a corrupt file" test $? -eq 0
check "the corrupt file is in bad/" test -f "$V/queue/bad/0000000000000001+0123456789abcdef0123456789abcdef01234567.msg"
check "the log says why" grep -q "moved to bad/: .*no end marker" "$T_DIR/runner.err"
check "the good entries were handled" test -z "$(ls "$V/queue/in")"
check "docs/settings.md is what \`herald site doc\` prints" bash -c "'$HERALD' site doc | diff -q - '$HERALD_TOP/docs/settings.md'"
t_done
