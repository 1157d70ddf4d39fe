#!/usr/bin/env bash
# The tasks of held posts, run by `herald tasks run` with a faked clock
# (libfaketime; the file server's clock, stat times, stays real):
#   - held.expire discards the held posts older than the list's
#     max_days_to_hold, logs each, and tells the owners and moderators in
#     one notice (a valid MIME message in queue/virgin); younger posts stay;
#     max_days_to_hold = 0 expires nothing, however old; a list that fails
#     does not stop the others, and the run is recorded as failed;
#   - held.summary sends each list with held posts one notice to owners
#     and moderators listing every post (id, poster, subject, reason, age)
#     and how to act on it, with the web address when web.base_url is set;
#     lists without held posts get none;
#   - the task state records each run; a run left "running" by a dead
#     process is marked abandoned (naming its host) before the next run;
#     a task whose lock is held elsewhere is not run twice.
. "$(dirname "$0")/../lib.sh"
export HERALD_HOST=t NO_FAKE_STAT=1
if [ -z "$FAKELIB" ]; then
	not_ok "libfaketime is not installed (apt-get install faketime)"
	t_done
fi
V=$(new_var v)
pipeline_runners "$V"
H() { "$HERALD" --var "$V" "$@"; }
L=demo@lists.test
H lists create $L --owner admin@example.org >/dev/null
H config set $L moderator mod@example.org
H lists create broken@lists.test --owner b@example.org >/dev/null
H lists create quiet@lists.test --owner q@example.org >/dev/null
H config set quiet@lists.test max_days_to_hold 1

# hold OFFSET FROM SUBJECT: a nonmember's post, held at now + OFFSET.
hold() {
	printf 'From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s@example.net>\n\nbody\n' \
		"$2" "$L" "$3" "${3// /.}" | at "$1" "$HERALD" --var "$V" mta post $L --sender "$2" &&
	at "$1" "$HERALD" --var "$V" runner in --once >>"$T_DIR/runner.log" 2>&1
}
hold -40d old@example.com "old post"
hold -10d mid@example.com "middle post"
hold +0 new@example.com "new post"
held_ids() { H held list $L | cut -f1 | tr '\n' ' '; }
check "three posts are held (ids 1 2 3)" test "$(held_ids)" = "1 2 3 "

# notice.py V SUBJECT: the newest virgin entry with that subject: checks
# it is valid MIME, prints its recipients ("rcpt: ..."), To, and body.
cat >"$T_DIR/notice.py" <<'PY'
import email, email.policy, os, sys
var, subject = sys.argv[1], sys.argv[2]
qdir = os.path.join(var, "queue", "virgin")
found = None
# Newest by mtime: the names' stamps follow the (faked) clock of their
# writer, mtimes the file server's.
names = [n for n in os.listdir(qdir) if n.endswith(".msg")]
names.sort(key=lambda n: os.stat(os.path.join(qdir, n)).st_mtime_ns)
for name in names:
    data = open(os.path.join(qdir, name), "rb").read()
    head, _, rest = data.partition(b"\n\n")
    lines = head.decode().split("\n")
    assert lines[0] == "herald-queue 1", lines[0]
    meta = [l.split(": ", 1) for l in lines[1:]]
    size = int(dict(meta)["size"])
    assert rest[size:] == b"herald-end\n", "bad end marker"
    msg = email.message_from_bytes(rest[:size], policy=email.policy.default)
    if msg["Subject"] == subject:
        found = (meta, msg)
if found is None:
    sys.exit("no notice with subject %r" % subject)
meta, msg = found
assert not msg.defects, msg.defects
assert msg.get_content_type() == "text/plain", msg.get_content_type()
for k, v in meta:
    if k == "rcpt":
        print("rcpt: " + v)
print("To: " + str(msg["To"]))
print("Auto-Submitted: " + str(msg["Auto-Submitted"]))
print(msg.get_content())
PY
notice() { python3 "$T_DIR/notice.py" "$V" "$1"; }
nvirgin() { find "$V/queue/virgin" -name '*.msg' | wc -l; }
# has FILE LINE...: FILE has every LINE (a fixed string, the whole line
# after leading blanks).
has() {
	local f=$1; shift
	for l in "$@"; do
		sed 's/^ *//' "$f" | grep -qxF -- "$l" || { diag "missing: $l"; return 1; }
	done
}

# --- held.expire ------------------------------------------------------------
H config set $L max_days_to_hold 30
out=$(H tasks run held.expire)
check "held.expire at day 0 succeeds ($out)" test "$out" = "held.expire: ok: 1 held post expired on 1 list (manual run)"
check "the 40-day-old post is gone, the 10-day and new ones stay" test "$(held_ids)" = "2 3 "
check "its expiry is logged (tasks) with its age and the limit" \
	grep -q "list $L: held post 1 from old@example.com expired (held 40 days, max_days_to_hold 30): discarded" "$V/logs/t/tasks"
check "and its discard (held)" grep -q "list $L: held post 1 discarded: expired" "$V/logs/t/held"
notice "1 held post expired on $L" >"$T_DIR/n1" 2>"$T_DIR/n1.err"
check "the owners are told: a valid MIME notice in queue/virgin" test $? -eq 0
sed 's/^/# /' "$T_DIR/n1.err"
check "to the owner and the moderator" has "$T_DIR/n1" "rcpt: admin@example.org" "rcpt: mod@example.org" \
	"To: admin@example.org, mod@example.org" "Auto-Submitted: auto-generated"
check "it names the post, its poster, subject, reason and age" has "$T_DIR/n1" \
	"This post to $L waited for moderation longer than the list's" \
	"Subject: old post" "Reason: Post by non-member to a members-only list"
check "... (#1 from old@example.com, 40 days)" grep -q "#1  from old@example.com, held .* (40 days ago)" "$T_DIR/n1"
check "the state records the run" has "$V/tasks/held.expire" "herald-task 1" "run: manual" "host: t" "outcome: ok" \
	"message: 1 held post expired on 1 list"

n=$(nvirgin)
out=$(at +25d "$HERALD" --var "$V" tasks run held.expire)
check "25 days later ($out)" test "$out" = "held.expire: ok: 1 held post expired on 1 list (manual run)"
check "the post held 35 days ago is gone, the one held 25 days ago stays" test "$(held_ids)" = "3 "
check "one more notice" test "$(nvirgin)" -eq $((n + 1))
notice "1 held post expired on $L" >"$T_DIR/n2"
check "it names post #2 (35 days)" grep -q "#2  from mid@example.com, held .* (35 days ago)" "$T_DIR/n2"

H config set $L max_days_to_hold 0
n=$(nvirgin)
out=$(at +400d "$HERALD" --var "$V" tasks run held.expire)
check "max_days_to_hold 0 expires nothing, 400 days on ($out)" test "$out" = "held.expire: ok: 0 held posts expired on 0 lists (manual run)"
check "post 3 is still held" test "$(held_ids)" = "3 "
check "and nobody is told" test "$(nvirgin)" -eq "$n"

# A list whose held posts cannot be read fails; the others are still done.
H config set $L max_days_to_hold 30
H config set broken@lists.test max_days_to_hold 30
mkdir -p "$V/lists/broken@lists.test/held"
echo garbage >"$V/lists/broken@lists.test/held/7.msg"
out=$(at +31d "$HERALD" --var "$V" tasks run held.expire 2>&1)
rc=$?
check "a run with a failing list exits 1 ($out)" test $rc -eq 1
check "it says which list failed and what was done" \
	bash -c 'grep -q "^held.expire: failed: 1 list failed, the first: list broken@lists.test: .* (1 held post expired on 1 list) (manual run)$" <<<"$1"' _ "$out"
check "the other lists were still done (post 3, 31 days old, expired)" test -z "$(held_ids)"
check "the state records the failure" grep -q "^outcome: failed: 1 list failed, the first: list broken@lists.test" "$V/tasks/held.expire"
check "and the failure is logged" grep -q "task held.expire: manual run on host t: failed: " "$V/logs/t/tasks"
rm -r "$V/lists/broken@lists.test/held"

# --- held.summary -----------------------------------------------------------
hold +0 new2@example.com "second post"
hold +0 third@example.com "third post"
H site set web.base_url https://lists.example.org/
n=$(nvirgin)
out=$(at +3d "$HERALD" --var "$V" tasks run held.summary)
check "held.summary succeeds ($out)" test "$out" = "held.summary: ok: 1 list with 2 held posts: owners told (manual run)"
check "one notice: lists without held posts get none" test "$(nvirgin)" -eq $((n + 1))
notice "2 held posts wait for moderation on $L" >"$T_DIR/s1" 2>"$T_DIR/s1.err"
check "the summary is a valid MIME notice in queue/virgin" test $? -eq 0
sed 's/^/# /' "$T_DIR/s1.err"
check "to the owner and the moderator" has "$T_DIR/s1" "rcpt: admin@example.org" "rcpt: mod@example.org"
check "it lists each post: id, poster, age, subject, reason" has "$T_DIR/s1" \
	"The mailing list $L has 2 posts held for moderation:" \
	"Subject: second post" "Subject: third post" \
	"Reason: Post by non-member to a members-only list"
check "... #4 from new2@example.com and #5 from third@example.com, 3 days old" \
	bash -c 'grep -q "#4  from new2@example.com, held .* (3 days ago)" "$1" && grep -q "#5  from third@example.com, held .* (3 days ago)" "$1"' _ "$T_DIR/s1"
check "it says how to act" has "$T_DIR/s1" "herald held approve $L ID    send it to the list" \
	"herald held reject $L ID     return it to the poster" \
	"or on the web: https://lists.example.org/admindb/$L" \
	"Held posts are discarded after 30 days (max_days_to_hold)."
H site set web.base_url ""
H tasks run held.summary >/dev/null
notice "2 held posts wait for moderation on $L" >"$T_DIR/s2"
check "without web.base_url there is no web line" bash -c '! grep -q "on the web" "$1" && grep -q "herald held approve" "$1"' _ "$T_DIR/s2"
H held discard $L 4 && H held discard $L 5
n=$(nvirgin)
out=$(H tasks run held.summary)
check "with nothing held, no summary ($out)" test "$(nvirgin)" -eq "$n"

# --- the state and the lock -------------------------------------------------
check "herald tasks shows each task's last run" \
	bash -c '"$1" --var "$2" tasks | grep -qE "^held.summary +daily 08:00 .* t +.* ok: 0 lists with 0 held posts: owners told \(manual run\)$"' _ "$HERALD" "$V"
# A run that died: its state says running, its lock's holder is gone.
"$TOOLS/locktool" hold "$V/locks" task-held.summary 60000 >"$T_DIR/hold.out" &
hp=$!
wait_for 5 grep -q held "$T_DIR/hold.out"
out=$(H tasks run held.summary 2>&1)
rc=$?
check "a task whose lock is held elsewhere is not run ($out)" \
	bash -c '[ "$1" -eq 1 ] && grep -q "task held.summary is running" <<<"$2"' _ $rc "$out"
kill -9 $hp; wait $hp 2>/dev/null
printf 'herald-task 1\nslot: 0\nrun: scheduled\nhost: t\npid: %s\nstarted: 1\nended: 0\noutcome: running\nmessage: \n' \
	$hp >"$V/tasks/held.summary"
out=$(H tasks run held.summary)
check "a run left running by a dead process: the next run goes ahead ($out)" \
	test "$out" = "held.summary: ok: 0 lists with 0 held posts: owners told (manual run)"
check "after marking it abandoned, naming its host and pid" \
	grep -q "task held.summary: the scheduled run of slot 0 (-) on host t (pid $hp) did not finish" "$V/logs/t/tasks"
check "an unknown task is a usage error" bash -c '"$1" --var "$2" tasks run no.such 2>/dev/null; [ $? -eq 64 ]' _ "$HERALD" "$V"
t_done
