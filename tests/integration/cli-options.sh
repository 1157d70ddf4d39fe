#!/usr/bin/env bash
# One command line for every command (cli_parse, src/herald/cli.c): each
# command and verb prints its usage to standard output and exits 0 on
# --help; an unknown option, a missing option argument, a wrong number of
# arguments or an unknown verb exit 64 with "herald: <message>" and the
# usage line on standard error (herald mta: 75, see mta.sh); --opt VALUE
# and --opt=VALUE are the same; a value that starts with a dash is a value.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=demo@example.org

# The commands and verbs, as `herald --help` and `herald CMD --help` list
# them: a command or verb added later is covered without editing this.
commands=$("$HERALD" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
check "herald --help lists the commands" test "$(echo "$commands" | wc -w)" -ge 14

# help_ok CMD...: `herald CMD... --help` (and -h) print a usage to
# standard output only, exit 0.
help_ok() {
	local out err rc
	for h in --help -h; do
		out=$("$HERALD" "$@" "$h" 2>"$T_DIR/help.err"); rc=$?
		err=$(cat "$T_DIR/help.err")
		[ "$rc" -eq 0 ] || { echo "# $* $h: exit $rc: $err"; return 1; }
		[ -z "$err" ] || { echo "# $* $h: standard error: $err"; return 1; }
		echo "$out" | head -1 | grep -qx 'Usage:' || { echo "# $* $h: $out" | head -3; return 1; }
		echo "$out" | grep -q "^  herald $* \[OPTION...\]" || { echo "# $* $h: usage line: $out" | head -3; return 1; }
	done
}
# usage_error CODE TEXT CMD...: exits CODE, standard error says TEXT and
# gives the usage line, standard output stays empty.
usage_error() {
	local code=$1 text=$2 out rc; shift 2
	out=$("$@" 2>"$T_DIR/usage.err"); rc=$?
	[ "$rc" -eq "$code" ] || { echo "# exit $rc, not $code: $(cat "$T_DIR/usage.err")"; return 1; }
	[ -z "$out" ] || { echo "# standard output: $out"; return 1; }
	grep -qF -- "$text" "$T_DIR/usage.err" || { echo "# no '$text' in: $(cat "$T_DIR/usage.err")"; return 1; }
	grep -q '^usage: herald' "$T_DIR/usage.err" || { echo "# no usage line: $(cat "$T_DIR/usage.err")"; return 1; }
}

check "herald --help exits 0 with the usage on standard output" bash -c "'$HERALD' --help 2>&1 >/dev/null | wc -c | grep -qx 0 && '$HERALD' --help | grep -q '^  herald \[OPTION...\] COMMAND'"
for c in $commands; do
	check "herald $c --help prints its usage to standard output, exit 0" help_ok "$c"
	verbs=$("$HERALD" "$c" --help 2>/dev/null | sed -n '/^Verbs:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
	for v in $verbs; do
		check "herald $c $v --help prints its usage to standard output, exit 0" help_ok "$c" "$v"
		if [ "$c" = mta ]; then continue; fi
		check "herald $c $v --no-such-option exits 64 naming it" \
			usage_error 64 "unknown option --no-such-option" H "$c" "$v" --no-such-option
	done
	code=64; [ "$c" = mta ] && code=75
	check "herald $c --no-such-option exits $code naming it" \
		usage_error "$code" "unknown option --no-such-option" H "$c" --no-such-option
done
check "the verbs of a command are listed by its --help" bash -c "'$HERALD' members --help | grep -q '^  compact '"
check "a verb's --help describes the verb, with its options" bash -c "'$HERALD' lists create --help | grep -q -- '--owner=ADDR'"

# Errors: unknown verb, no verb, argument counts, missing option values.
check "an unknown option before the command exits 64" usage_error 64 "unknown option --frobnicate" "$HERALD" --frobnicate init
check "no command exits 64" usage_error 64 "no command given" "$HERALD"
check "an unknown verb exits 64 naming it" usage_error 64 "unknown verb 'frobnicate'" H members frobnicate $L
check "a command without its verb exits 64" usage_error 64 "missing arguments (VERB" H config
check "too few arguments exit 64" usage_error 64 "config get: missing arguments (LIST NAME)" H config get $L
check "too many arguments exit 64 naming the first extra one" usage_error 64 "unexpected argument 'extra'" H site get mta.smtp_port extra
check "a missing option argument exits 64 naming the option" usage_error 64 "missing argument for --owner" H lists create $L --owner
check "the same for --var" usage_error 64 "missing argument for --var" "$HERALD" --var
check "and for --category" usage_error 64 "missing argument for --category" H config show $L --category

# --opt VALUE and --opt=VALUE.
check "--var=DIR is --var DIR" bash -c "[ \"\$('$HERALD' --var='$V' site get mta.smtp_port)\" = 25 ]"
check "lists create --owner ADDR" H lists create $L --owner admin@example.org
check "lists create --owner=ADDR, repeated" H lists create other@example.org --owner=a@example.org --owner=b@example.org
check "both owners were stored" test "$(H config get other@example.org owner | tr '\n' ' ')" = "a@example.org b@example.org "
check "options may come before the arguments" H lists create --owner c@example.org third@example.org
check "config show --category=C is --category C" bash -c "diff <('$HERALD' --var '$V' config show $L --category=archive) <('$HERALD' --var '$V' config show $L --category archive) && [ \$('$HERALD' --var '$V' config show $L --category=archive | grep -c ' = ') -eq 3 ]"
name=$(printf 'Subject: x\n\nx\n' | H queue inject in --list=$L --meta=kind=post --meta pipeline=a,b)
check "queue inject --list=L --meta=K=V --meta K=V ($name)" bash -c "'$HERALD' queue show '$V/queue/$name' | grep -qx 'list: $L' && '$HERALD' queue show '$V/queue/$name' | grep -qx 'kind: post' && '$HERALD' queue show '$V/queue/$name' | grep -qx 'pipeline: a,b'"
check "queue inject --meta without = exits 64" usage_error 64 "--meta nokey: not KEY=VALUE" H queue inject in --meta nokey

# Values that start with a dash are values; -- ends the options.
check "a footer starting with '-- ' is a value, no -- needed" H config set $L msg_footer $'-- \nthe footer'
check "and is stored as given" test "$(H config get $L msg_footer)" = $'-- \nthe footer'
check "a negative number is a value (the setting refuses it)" bash -c "'$HERALD' --var '$V' config set $L max_num_recipients -1 2>&1 | grep -q 'outside 0..100000'"
check "-- ends the options" H config set $L description -- --not-an-option
check "so an option-shaped value can be stored" test "$(H config get $L description)" = --not-an-option
check "the value of a string option may start with a dash" H config set $L description ok
echo bob@example.org | H members add $L --digest >/dev/null
check "a flag after the arguments (members list LIST --digest)" test "$(H members list $L --digest)" = bob@example.org
check "two member filters at once exit 64" usage_error 64 "exclude each other" H members list $L --digest --nomail
t_done
