#!/usr/bin/env bash
# Umbrella lists (umbrella_list, umbrella_member_suffix; list/notice.c
# notice_member_address): on a list whose members are other lists, the
# notices meant for a member (welcome, goodbye, subscription
# confirmation) go to <local part><suffix>@<domain>, the member list's
# owners, while posts still go to the member address; on an ordinary list
# they go to the member.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
pipeline_runners "$V"
H site set runner.commands.handler commands
H site set notice.max_autoresponses_per_day 0
U=all@example.org
H lists create $U --owner owner@example.org >/dev/null
H config set $U umbrella_list yes >/dev/null
rcpts() { sed -n 's/^rcpt: //p' "$V"/queue/virgin/*.msg 2>/dev/null | sort -u | tr '\n' ' '; }

echo staff@example.org | H members add $U --welcome >/dev/null
check "the welcome goes to the member list's -owner" test "$(rcpts)" = "staff-owner@example.org "
rm -f "$V"/queue/virgin/*.msg
echo staff@example.org | H members remove $U --goodbye >/dev/null
check "the goodbye too" test "$(rcpts)" = "staff-owner@example.org "

rm -f "$V"/queue/virgin/*.msg
printf 'From: dev@example.org\nTo: all-request@example.org\nSubject: subscribe\nMessage-ID: <u1@example.org>\n\n' |
	H mta auto --sender dev@example.org --recipient all-request@example.org &&
	H runner commands --once >/dev/null 2>&1
check "a subscription confirmation goes to the -owner, the command's results to the sender" \
	test "$(rcpts)" = "dev-owner@example.org dev@example.org "
check "... the confirmation is the one at -owner" bash -c \
	'grep -l "^Subject: confirm " $(grep -l "^rcpt: dev-owner@example.org" "$1"/queue/virgin/*.msg) >/dev/null' _ "$V"

H config set $U umbrella_member_suffix -admins >/dev/null
rm -f "$V"/queue/virgin/*.msg
echo ops@example.org | H members add $U --welcome >/dev/null
check "umbrella_member_suffix is the suffix" test "$(rcpts)" = "ops-admins@example.org "

rm -f "$V"/queue/out/*.msg
printf 'From: ops@example.org\nTo: all@example.org\nSubject: hi\nMessage-ID: <u2@example.org>\n\nHello.\n' |
	H mta post $U --sender ops@example.org && H runner in --once >/dev/null 2>&1
check "posts still go to the member addresses" \
	test "$(sed -n 's/^rcpt: //p' "$V"/queue/out/*.msg | sort | tr '\n' ' ')" = "ops@example.org "

H config set $U umbrella_list no >/dev/null
rm -f "$V"/queue/virgin/*.msg
echo qa@example.org | H members add $U --welcome >/dev/null
check "on an ordinary list the welcome goes to the member" test "$(rcpts)" = "qa@example.org "
t_done
