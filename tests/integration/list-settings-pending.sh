#!/usr/bin/env bash
# List settings nothing acts on yet (LS_PENDING in src/lib/list/
# list_settings.c): `herald config doc` and `config show` mark them, and
# the flag stays true to the code: a setting with the flag is named by no
# file of src/ (besides the table), and every setting without it is named
# by one.  When a feature starts reading a pending setting (bounce
# processing, digests, ...), this test fails until its flag is removed.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=demo@example.org
"$HERALD" --var "$V" lists create $L --owner admin@example.org >/dev/null
NOTE="not acted on yet"
doc=$("$HERALD" config doc)
row() { echo "$doc" | grep "^| \`$1\` |"; }

check "config doc marks send_reminders ($(row send_reminders | cut -c1-80))" bash -c "echo \"\$1\" | grep -q '$NOTE'" _ "$(row send_reminders)"
check "but not subject_prefix, which the pipeline reads" bash -c "[ -n \"\$1\" ] && ! echo \"\$1\" | grep -q '$NOTE'" _ "$(row subject_prefix)"
check "config doc says what the mark means" bash -c "echo \"\$1\" | grep -q 'marked \*$NOTE\*'" _ "$doc"
show=$("$HERALD" --var "$V" config show $L)
check "config show marks send_reminders" bash -c "echo \"\$1\" | grep -qx 'send_reminders = yes    # $NOTE'" _ "$show"
check "but not subject_prefix" bash -c "echo \"\$1\" | grep -q '^subject_prefix = ' && ! echo \"\$1\" | grep '^subject_prefix = ' | grep -q '#'" _ "$show"
check "config get gives the bare value of a pending setting" test "$("$HERALD" --var "$V" config get $L send_reminders)" = yes

# The flag against the code: a grep of src/ for each setting's name as a
# string literal, outside the table itself.
pending=$(echo "$doc" | grep "^| \`[a-z_0-9]*\` |.*$NOTE" | sed 's/^| `\([a-z_0-9]*\)`.*/\1/')
acted=$(echo "$doc" | grep "^| \`[a-z_0-9]*\` |" | grep -v "$NOTE" | sed 's/^| `\([a-z_0-9]*\)`.*/\1/')
diag "pending: $(echo $pending)"
check "some settings are pending ($(echo "$pending" | wc -w))" test -n "$pending"
named() {	# named NAME: the files of src/ besides the table that name it
	grep -rlF --include='*.c' --include='*.h' "\"$1\"" "$HERALD_TOP/src" |
		grep -v 'src/lib/list/list_settings\.[ch]$'
}
read_pending=
for n in $pending; do
	f=$(named "$n")
	[ -n "$f" ] && read_pending="$read_pending $n (${f#"$HERALD_TOP"/})"
done
check "no pending setting is named in src/ (else remove its LS_PENDING):${read_pending:- none}" test -z "$read_pending"
unread=
for n in $acted; do
	[ -z "$(named "$n")" ] && unread="$unread $n"
done
check "every setting without the flag is named in src/ (else flag it LS_PENDING):${unread:- none}" test -z "$unread"
t_done
