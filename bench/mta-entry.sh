#!/usr/bin/env bash
# bench/mta-entry.sh - the pipe's entry alone (docs/PERFORMANCE.md,
# "herald-mta hands over"): N posts of about 800 bytes, one after the
# other, through `herald-mta auto` as master.cf runs it, to a list whose
# LMTP server runs (so herald-mta hands each over its pipe socket) and no
# runner; the time of each, median / min / p90, and posts a second.
# `/bin/true` is timed the same way, for scale.
#   bench/mta-entry.sh [N] [ROUNDS]
#   OLD=/elsewhere/build/herald-mta: another herald-mta (an earlier
#   commit's build) timed against it, alternately, on the same var dir
#   WORKERS=1: herald-mta timed with the server's lmtp.pipe_workers 0 (a
#   process forked per connection) and 2, alternately (SIGHUP between)
# A benchmark: it prints figures and never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
ROUNDS=${2:-3}
BUILD=${BUILD:-build}
make BUILD="$BUILD" -j2 "$BUILD/herald" "$BUILD/herald-mta" >/dev/null
D=$(mktemp -d "${HERALD_BENCH_DIR:-/var/tmp}/herald-bench-mta.XXXXXX")
H=$BUILD/herald
LMTP=
. bench/discard.sh
trap '[ -n "$LMTP" ] && kill $LMTP; bench_discard "$D"' EXIT
$H --var "$D/v" init >/dev/null
$H --var "$D/v" lists create bench@lists.test --owner owner@example.org >/dev/null
$H --var "$D/v" lmtp 2>/dev/null &
LMTP=$!
for _ in $(seq 50); do grep -qs "pipe socket" "$D"/v/logs/*/lmtp && break; sleep 0.1; done
printf 'From: a@example.net\nTo: bench@lists.test\nSubject: x\nMessage-ID: <a@example.net>\n\n%0700d\n' 0 >"$D/post"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(df -T "$D" | awk 'NR==2{print $2}') at $D"
python3 - "$D/v" "$D/post" "$N" "$ROUNDS" "$BUILD/herald-mta" "${OLD:-}" "${WORKERS:-}" "$H" "$LMTP" <<'EOF'
import os, signal, subprocess, sys, time
var, post, n, rounds, new, old, workers, herald, lmtp = sys.argv[1:10]
os.makedirs(var + "/../stored", exist_ok=True)
n, rounds = int(n), int(rounds)
env = ["auto", "--sender", "a@example.net", "--recipient", "bench@lists.test"]
def run(cmd):
    ts = []
    for _ in range(n):
        with open(post, "rb") as f:
            t = time.perf_counter()
            r = subprocess.run(cmd, stdin=f)
            ts.append(time.perf_counter() - t)
        assert r.returncode == 0, r
    # Each program finds the queue as empty as the last: what it stored
    # is moved aside (renamed: a mass delete would slow the file system).
    for q in os.listdir(var + "/queue/in"):
        os.rename(var + "/queue/in/" + q, var + "/../stored/" + q)
    ts.sort()
    return "median %.2f ms, min %.2f, p90 %.2f; %d a second" % (
        ts[n // 2] * 1000, ts[0] * 1000, ts[int(n * 0.9)] * 1000, n / sum(ts))
def set_workers(k):
    subprocess.run([herald, "--var", var, "site", "set", "lmtp.pipe_workers", str(k)], check=True)
    os.kill(int(lmtp), signal.SIGHUP)
    time.sleep(0.5)
for _ in range(rounds):
    if workers:
        for k in (0, 2):
            set_workers(k)
            print("%-24s %s" % ("herald-mta, %d workers" % k, run([new, "--var", var] + env)))
        continue
    print("%-24s %s" % ("herald-mta", run([new, "--var", var] + env)))
    if old:
        print("%-24s %s" % ("herald-mta (OLD)", run([old, "--var", var] + env)))
    print("%-24s %s" % ("/bin/true", run(["/bin/true"])))
EOF
echo "handed over: $(grep -c 'from herald-mta' "$D"/v/logs/*/lmtp) of $(find "$D/stored" -name '*.msg' | wc -l) posts stored"
