#!/usr/bin/env bash
# runner.*.nice: the master starts each runner at its queue's priority.
# `herald init` gives 10 to the archive, digest and news runners (work that
# can wait) and leaves the others at 0; a site's own value is honoured,
# and the setting refuses what nice(1) does not count.
. "$(dirname "$0")/../lib.sh"

V=$T_DIR/var
"$HERALD" --var "$V" init >/dev/null
H() { "$HERALD" --var "$V" "$@"; }
check "init: the archive runner's nice is 10" test "$(H site get runner.archive.nice)" = 10
check "init: the digest runner's nice is 10" test "$(H site get runner.digest.nice)" = 10
check "init: the news runner's nice is 10" test "$(H site get runner.news.nice)" = 10
check "init: the incoming runner's nice is 0" test "$(H site get runner.in.nice)" = 0
check "a nice of 20 is refused" bash -c '! "$1" --var "$2" site set runner.in.nice 20 2>/dev/null' _ "$HERALD" "$V"
check "a nice of -1 is refused" bash -c '! "$1" --var "$2" site set runner.in.nice -- -1 2>/dev/null' _ "$HERALD" "$V"
H site set runner.out.nice 3

# The runner's pid, from the master's log line "runner Q slice 0/1
# started as pid N" (the last one).
runner_pid() {
	grep -h "runner $1 slice 0/1 started as pid" "$V"/logs/*/master 2>/dev/null |
		tail -1 | grep -o 'pid [0-9]*' | awk '{print $2}'
}
# Field 19 of /proc/PID/stat is the nice value (after the command's
# parenthesised name, which may hold spaces).
nice_of() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $17}'; }
H start >/dev/null
check "the master started its runners" wait_for 10 bash -c '[ -n "$(grep -h "runner archive slice 0/1 started as pid" "$1"/logs/*/master 2>/dev/null)" ] && [ -n "$(grep -h "runner out slice 0/1 started as pid" "$1"/logs/*/master 2>/dev/null)" ]' _ "$V"
sleep 0.5
A=$(runner_pid archive) D=$(runner_pid digest) I=$(runner_pid in) O=$(runner_pid out)
check "the archive runner runs at nice 10" test "$(nice_of "$A")" = 10
check "the digest runner runs at nice 10" test "$(nice_of "$D")" = 10
check "the incoming runner runs at nice 0" test "$(nice_of "$I")" = 0
check "the out runner runs at the site's nice 3" test "$(nice_of "$O")" = 3
H stop >/dev/null
t_done
