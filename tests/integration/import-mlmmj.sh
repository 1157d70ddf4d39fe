#!/usr/bin/env bash
# `herald import mlmmj`: an mlmmj list directory (control/, subscribers.d/,
# digesters.d/, nomailsubs.d/, archive/) becomes a herald list: regular,
# digest and no-mail subscribers with their modes and delivery, the
# control files herald has a setting for (the others named in the report),
# the archive in order; --dry-run writes nothing; a second run changes
# nothing.
. "$(dirname "$0")/../lib.sh"
V=$(new_var var)
M=$T_DIR/mlmmj/demo
LIST=demo@lists.test
H() { "$HERALD" --var "$V" "$@"; }

mkdir -p "$M/control" "$M/subscribers.d" "$M/digesters.d" "$M/nomailsubs.d" "$M/archive"
echo owner@example.org >"$M/control/owner"
echo '[demo]' >"$M/control/prefix"
touch "$M/control/subonlypost" "$M/control/closedlist" "$M/control/tocc"
echo 100000 >"$M/control/maxmailsize"
echo 'some.host' >"$M/control/relayhost"
printf 'alice@example.org\nann@example.org\n' >"$M/subscribers.d/a"
echo bob@example.org >"$M/subscribers.d/b"
echo dan@example.org >"$M/digesters.d/d"
echo nora@example.org >"$M/nomailsubs.d/n"
echo 'not an address' >"$M/subscribers.d/n"
for i in 1 2 3 4 5; do
	printf 'From: alice@example.org\nTo: %s\nSubject: mlmmj post %d\nDate: Mon, 0%d Mar 2020 10:00:00 +0000\nMessage-ID: <m%d@example.org>\n\nbody %d\n' \
		"$LIST" $i $i $i $i >"$M/archive/$i"
	touch -d "2020-03-0$i 10:00:05 UTC" "$M/archive/$i"
done

H import mlmmj --dry-run "$M" $LIST >"$T_DIR/dry"
check "--dry-run succeeds" test $? -eq 0
check "and makes no list" test -z "$(H lists)"
check "nor anything under import/" test ! -e "$V/import"

H import mlmmj "$M" $LIST >"$T_DIR/report" 2>&1
check "the import succeeds" test $? -eq 0
sed 's/^/# /' "$T_DIR/report"
check "the list exists" test "$(H lists)" = $LIST
check "five members (the bad address named, not carried)" test "$(H members list $LIST | wc -l)" = 5
check "the bad address is in the report" grep -q "member not carried: not an address" "$T_DIR/report"
check "dan is a MIME digest member" bash -c "'$HERALD' --var '$V' members show $LIST dan@example.org | grep -qx 'mode: mime'"
check "nora gets no mail" bash -c "'$HERALD' --var '$V' members show $LIST nora@example.org | grep -q '^delivery: byuser'"
check "alice is regular and enabled" test "$(H members show $LIST alice@example.org | grep -E '^(mode|delivery):' | tr '\n' ' ')" = "mode: regular delivery: enabled "
check "prefix" test "$(H config get $LIST subject_prefix)" = "[demo]"
check "subonlypost: non-members held" test "$(H config get $LIST generic_nonmember_action)" = 1
check "closedlist: subscriptions need approval" test "$(H config get $LIST subscribe_policy)" = 2
check "maxmailsize in KB" test "$(H config get $LIST max_message_size)" = 98
check "relayhost is named as not carried" grep -q "not carried: control/relayhost" "$T_DIR/report"
check "five archived posts" test "$(H archive search $LIST mlmmj | wc -l)" = 5
HTML=$(H archive path $LIST)
check "mlmmj's archive/1 is herald's 000000" grep -q "mlmmj post 1" "$HTML/2020-March/000000.html"
check "and archive/5 herald's 000004" grep -q "mlmmj post 5" "$HTML/2020-March/000004.html"
H import mlmmj "$M" $LIST >"$T_DIR/report2" 2>&1
check "a second run leaves the list alone" grep -q "exists already" "$T_DIR/report2"
check "with its five members" test "$(H members list $LIST | wc -l)" = 5
t_done
