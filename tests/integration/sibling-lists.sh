#!/usr/bin/env bash
# Sibling lists through the posting pipeline, the out queue inspected
# (calcrecips, docs/topics.md): regular_include_lists adds the other
# list's regular members with delivery on, each address once, unless the
# post went to that list too; regular_exclude_lists drops the other
# list's members when the post went to it too, and with
# regular_exclude_ignore only when the poster is its member; a list that
# names itself or a missing list is logged and skipped.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
pipeline_runners "$V"
for l in a b c; do H lists create $l@example.org --owner owner@example.org >/dev/null; done
printf 'ann@example.net\nshared@example.net\nposter@example.net\nboth@example.net\n' |
	H members add a@example.org >/dev/null
printf 'bea@example.net\nShared@example.net\n' | H members add b@example.org >/dev/null
echo bdig@example.net | H members add b@example.org --digest >/dev/null
echo boff@example.net | H members add b@example.org --nomail >/dev/null
printf 'cid@example.net\nboth@example.net\n' | H members add c@example.org >/dev/null

# post TO CC: a post of poster@ to a@, one pass of the in runner; prints
# the recipients of the out queue entry, sorted, on one line.
N=0
post() {
	N=$((N + 1))
	rm -f "$V"/queue/out/*.msg
	printf 'From: poster@example.net\nTo: %s\n%sSubject: s%d\nMessage-ID: <s%d@example.net>\n\nHello.\n' \
		"$1" "${2:+Cc: $2
}" "$N" "$N" | H mta post a@example.org --sender poster@example.net &&
		H runner in --once >/dev/null 2>&1
	sed -n 's/^rcpt: //p' "$V"/queue/out/*.msg 2>/dev/null | sort | tr '\n' ' '
}

A_ALL="ann@example.net both@example.net poster@example.net shared@example.net "
check "without siblings: a's members" test "$(post a@example.org)" = "$A_ALL"

H config set a@example.org regular_include_lists b@example.org >/dev/null
r=$(post a@example.org)
check "include: b's regular enabled members too, shared@ once (any case), no digest or nomail member" \
	test "$r" = "ann@example.net bea@example.net both@example.net poster@example.net shared@example.net "
r=$(post a@example.org b@example.org)
check "include: not when the post was sent to b too (b delivers it)" test "$r" = "$A_ALL"
H config set a@example.org regular_include_lists "" >/dev/null

H config set a@example.org regular_exclude_lists c@example.org >/dev/null
check "exclude: nothing when the post was not sent to c" test "$(post a@example.org)" = "$A_ALL"
r=$(post a@example.org c@example.org)
check "exclude with regular_exclude_ignore: not when the poster is not c's member" test "$r" = "$A_ALL"
echo poster@example.net | H members add c@example.org >/dev/null
r=$(post a@example.org c@example.org)
check "exclude: c's members (both@, poster@) get it from c, not a" \
	test "$r" = "ann@example.net shared@example.net "
echo poster@example.net | H members remove c@example.org >/dev/null
H config set a@example.org regular_exclude_ignore no >/dev/null
r=$(post a@example.org c@example.org)
check "exclude without regular_exclude_ignore: whoever the poster" \
	test "$r" = "ann@example.net poster@example.net shared@example.net "
H config set a@example.org regular_exclude_lists "" >/dev/null

H config set a@example.org regular_include_lists nope@example.org >/dev/null
H config set a@example.org regular_exclude_lists a@example.org >/dev/null
r=$(post a@example.org)
check "a missing sibling, or the list excluding itself: the post goes to a's members" test "$r" = "$A_ALL"
check "... and both are logged" bash -c 'grep -q "names the list itself" "$1"/logs/*/pipeline && grep -q "no such list: nope@example.org" "$1"/logs/*/pipeline' _ "$V"
t_done
