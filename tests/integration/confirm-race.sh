#!/usr/bin/env bash
# Two hosts confirming the same token at once: the same reply to
# LIST-confirm+TOKEN reaches two hosts' commands runners (two queues of
# one var dir, each worked by its own runner process under its own host
# name, started together), round after round.  Each round exactly one
# confirms (one member, one welcome); the other answers that no request
# waits for the code.
# sanitizer build: skip (process orchestration and races between hosts; the normal build runs it)
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@example.org
ROUNDS=${ROUNDS:-20}
H lists create $L --owner owner@example.org >/dev/null
H site set runner.commands.handler commands
H site set runner.commands-b.handler commands
H site set notice.max_autoresponses_per_day 0
both=0 none=0
for r in $(seq 1 "$ROUNDS"); do
	a=user$r@example.net
	printf 'From: %s\nSubject: subscribe\n\n' "$a" |
		H mta request $L --sender "$a" --recipient demo-request@example.org
	H runner commands --once >/dev/null 2>&1
	t=$(grep -l "^rcpt: $a\$" "$V"/queue/virgin/*.msg | xargs grep -h '^Subject: confirm ' | awk '{print $3}')
	msg="From: $a\nSubject: Re: confirm $t\n\n> quoted\n"
	for q in commands commands-b; do
		printf "$msg" | H queue inject $q --list $L --meta kind=confirm \
			--meta sender=$a --meta recipient="demo-confirm+$t@example.org" >/dev/null
	done
	HERALD_HOST=hosta H runner commands --once >/dev/null 2>&1 &
	p1=$!
	HERALD_HOST=hostb H runner commands-b --once >/dev/null 2>&1 &
	p2=$!
	wait $p1 $p2
	welcomes=$(grep -l "^rcpt: $a\$" "$V"/queue/virgin/*.msg | xargs grep -l "You are subscribed as $a" | wc -l)
	refused=$(grep -l "^rcpt: $a\$" "$V"/queue/virgin/*.msg | xargs grep -l "No request waits for this code" | wc -l)
	[ "$welcomes" -gt 1 ] && both=$((both + 1))
	[ "$welcomes" -eq 0 ] && none=$((none + 1))
	[ "$welcomes" -eq 1 ] && [ "$refused" -ne 1 ] && none=$((none + 1))
done
check "$ROUNDS rounds: never both confirmed" test $both -eq 0
check "never neither (the other was told no request waits)" test $none -eq 0
check "$ROUNDS members, each once" test "$(H members list $L | wc -l)" -eq "$ROUNDS"
check "no claim is left behind" test -z "$(ls "$V/lists/$L/pending/")"
t_done
