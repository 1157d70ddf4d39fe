#!/usr/bin/env bash
# herald-mta, `herald mta` as a program of its own for the MTA's pipe:
# for each case (a post, each role address by `auto`, no such list, a
# message too large, a message that is not one, a usage error before and
# after the kind, no var dir) it answers what `herald mta` answers (exit
# code, the status on standard error) and stores the same entry (queue,
# kind, list, sender, recipient, bytes); and it does not load the
# libraries of what it does not do (the web service's, the archive's,
# the API's), which is its reason to exist.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=pipe@example.org
"$HERALD" --var "$V" lists create $L --owner owner@example.org >/dev/null
"$HERALD" --var "$V" site set entry.max_message_size 2048
msg=$'From: a@example.org\nTo: pipe@example.org\nSubject: hello\nMessage-ID: <m1@example.org>\n\nHello.\n'
big=$(printf 'From: a@example.org\nSubject: big\n\n%03000d\n' 0)

# run PROG INPUT ARGS...: "exit CODE; STATUS; QUEUE ENTRY" where STATUS is
# standard error's RFC 3463 code (or "-") and QUEUE ENTRY the new entry's
# queue and metadata but its time stamps (or "-").
run() {
	local prog=$1 input=$2; shift 2
	local before after code status entry
	before=$(find "$V/queue" -name '*.msg' | sort)
	if [ "$prog" = herald ]; then
		printf '%s' "$input" | "$HERALD" --var "$V" mta "$@" 2>"$T_DIR/err"
	else
		printf '%s' "$input" | "$HERALD-mta" --var "$V" "$@" 2>"$T_DIR/err"
	fi
	code=$?
	status=$(grep -oE '^[245]\.[0-9]+\.[0-9]+' "$T_DIR/err" || echo -)
	after=$(find "$V/queue" -name '*.msg' | sort)
	entry=$(comm -13 <(echo "$before") <(echo "$after"))
	if [ -n "$entry" ]; then
		echo "exit $code; $status; $(basename "$(dirname "$entry")") $(sed '/^$/q' "$entry" | grep -vE '^(time|received|id|host|pid)' | tr '\n' ' ')"
	else
		echo "exit $code; $status; -"
	fi
}
same() {	# same DESCRIPTION INPUT ARGS...: both programs answer alike
	local d=$1 input=$2 a b; shift 2
	a=$(run herald "$input" "$@") b=$(run herald-mta "$input" "$@")
	if [ "$a" = "$b" ]; then ok "$d: $a"; else not_ok "$d"; diag "herald mta: $a"; diag "herald-mta: $b"; fi
}
same "a post" "$msg" post $L
same "a post with its envelope" "$msg" post $L --sender a@example.org --recipient $L
same "auto, the list's address" "$msg" auto --recipient $L
same "auto, -request" "$msg" auto --recipient pipe-request@example.org
same "auto, -owner" "$msg" auto --recipient pipe-owner@example.org
same "auto, a VERP bounce" "$msg" auto --recipient pipe-bounces+b=example.net@example.org
same "auto, no list's address (67)" "$msg" auto --recipient nolist@example.org
same "no such list (67)" "$msg" post nolist@example.org
same "too large (65, 5.3.4)" "$big" post $L
same "not a message (65, 5.6.0)" $'From VM Thu Oct\n\nHi\n' post $L
same "an unknown kind (75)" "$msg" bogus $L
same "an unknown option of the command (75)" "$msg" post $L --bogus
same "a missing argument (75)" "$msg" post
check "an unknown option before the kind is 75 too" \
	bash -c 'printf x | "$1-mta" --bogus post L 2>/dev/null; [ $? -eq 75 ]' _ "$HERALD"
check "no var dir there is 75" \
	bash -c 'printf x | "$1-mta" --var "$2/none" post L 2>/dev/null; [ $? -eq 75 ]' _ "$HERALD" "$T_DIR"
check "HERALD_VAR names the var dir" \
	bash -c 'printf "%s" "$3" | HERALD_VAR="$2" "$1-mta" post pipe@example.org' _ "$HERALD" "$V" "$msg"
check "its log lines go to the mta log, as herald mta's" \
	test "$(grep -c 'accepted post for pipe@example.org' "$V"/logs/*/mta)" -ge 3
check "it does not load the web service's, the archive's or the API's libraries" \
	bash -c '! ldd "$1-mta" | grep -E "libmicrohttpd|libsqlite3|libjson-glib|libgnutls"' _ "$HERALD"
check "herald does (so the check above can fail)" \
	bash -c 'ldd "$1" | grep -q libmicrohttpd' _ "$HERALD"
t_done
