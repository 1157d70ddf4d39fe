#!/usr/bin/env bash
# Golden-file tests of the posting pipeline (docs/pipeline.md): each
# directory of tests/data/pipeline/ is one case, a post as the MTA hands
# it over (in.eml), the list settings and members it needs, and what must
# become of it: the outcome (out, held, rejected, discarded) with its
# reason, the out queue entry byte for byte with its recipients, the
# notices in the virgin queue, the archive and digest copies.
# tests/data/pipeline/README.md describes the files and the
# normalisations.
#
# Each case runs in a var dir of its own: the list test@lists.example
# (owner owner@lists.example), the post injected with `herald mta post`
# (or `owner`), one pass of `herald runner in --once`.  The virgin runner
# is not run, so herald's notices wait in the virgin queue to be looked
# at, and the out queue holds the post alone.
#
#   CASES="a b" ...      only those cases
#   PIPELINE_DATA=DIR    cases from DIR instead of tests/data/pipeline
#   UPDATE=1 ...         write what herald did into the case's directory
#                        (out.eml, rcpt; held.eml, archive.eml, digest.eml
#                        when there is one; expect when there is none): for a
#                        new case, to be reviewed line by line before it is
#                        committed, never to bless a failure.
. "$(dirname "$0")/../lib.sh"
DATA=${PIPELINE_DATA:-$HERALD_TOP/tests/data/pipeline}
LIST=test@lists.example
OWNER=owner@lists.example
UPDATE=${UPDATE:-0}
unset SENDER RECIPIENT

# The default members, for a case without a members file: regular, mail
# on, no options (README.md).
DEFAULT_MEMBERS='alice@example.net
bob@example.net
carol@example.org'

# --- helpers ----------------------------------------------------------------

# The parts of a queue file: its metadata lines, its message (exactly
# `size` bytes after the first empty line).
q_meta() { sed '/^$/q' "$1"; }
q_msg() {
	local n size
	n=$(grep -n -m1 '^$' "$1" | cut -d: -f1)
	size=$(q_meta "$1" | sed -n 's/^size: //p')
	tail -c +"$(( $(head -n "$n" "$1" | wc -c) + 1 ))" "$1" | head -c "$size"
}

# What cannot be fixed in advance, replaced by placeholders in actual and
# expected alike (README.md, "Normalisations").
normalise() {
	perl -pe '
		$gen = 0 if /^\r?$/;	# a header block ends
		$gen = 1 if /^Message-ID:\s*<(herald\.[0-9a-f]{32}|[0-9A-Z]+\.[0-9A-Z]+)\@/i;
		s/<herald\.[0-9a-f]{32}\@/<herald.RANDOM\@/g;
		s/^((?i:Message-ID):\s*<)[0-9A-Z]+\.[0-9A-Z]+\@/${1}GENERATED\@/;
		s{(/msgid/)[0-9a-f]{40}>}{${1}KEY-OF-GENERATED>} if $gen;
		s{=-[A-Za-z0-9+/]{20,22}(?![A-Za-z0-9+/])}{"=-BOUNDARY-" . ($b{$&} //= ++$nb)}ge;
		s/([?&]t=)[A-Za-z0-9_-]{43}/${1}TOKEN/g;
	'
}

# entries V QUEUE: the ready entries of a queue, one path a line.
entries() { find "$1/queue/$2" -maxdepth 1 -name '*.msg' 2>/dev/null | sort; }
count() { entries "$1" "$2" | grep -c .; }

# add_members V FILE: "ADDR [OPTION ...]" lines; the options a member has
# are exactly those listed (new_member_options would give each nodupes).
add_members() {
	local v=$1 file=$2 addr opts o flags sets topics
	while read -r addr opts <&3; do
		case $addr in '' | '#'*) continue ;; esac
		flags=() sets=() topics=()
		for o in $opts; do
			case $o in
			digest) flags+=(--digest) ;;
			nomail) flags+=(--nomail) ;;
			mod) flags+=(--moderate) ;;
			nodupes | notmetoo | ack | hide | nmtopics) sets+=("$o") ;;
			topics=*) topics+=("${o#topics=}") ;;
			*) echo "unknown member option $o" >&2; return 1 ;;
			esac
		done
		echo "$addr" | "$HERALD" --var "$v" members add "$LIST" "${flags[@]}" >/dev/null || return 1
		case " $opts " in
		*" nodupes "*) ;;
		*) "$HERALD" --var "$v" members set "$LIST" "$addr" nodupes no </dev/null || return 1 ;;
		esac
		for o in "${sets[@]}"; do
			[ "$o" = nodupes ] && continue
			"$HERALD" --var "$v" members set "$LIST" "$addr" "$o" yes </dev/null || return 1
		done
		for o in "${topics[@]}"; do
			"$HERALD" --var "$v" members set "$LIST" "$addr" topics "$o" </dev/null || return 1
		done
	done 3<"$file"
}

# meta_get FILE KEY: a "key: value" line of a case's meta file.
meta_get() { [ -f "$1" ] && sed -n "s/^$2:[[:space:]]*//p" "$1" | head -1; }

# The first From: address of a message (the default envelope sender).
from_addr() {
	sed -n -e '/^\r\?$/q' -e '/^[Ff][Rr][Oo][Mm]:/{s/\r$//;s/^[^:]*:[[:space:]]*//;s/.*<\([^>]*\)>.*/\1/;p;q}' "$1"
}

# outcome V: what became of the post: "out", "held REASON",
# "rejected REASON", "discarded REASON", "shunted REASON", "bad", "none"
# (no recipients), or "unprocessed".
outcome() {
	local v=$1 held line
	if [ "$(count "$v" in)" -gt 0 ] || [ -n "$(find "$v/queue/in" -name '*.bak')" ]; then
		echo unprocessed
	elif [ "$(count "$v" shunt)" -gt 0 ]; then
		echo "shunted $(q_meta "$(entries "$v" shunt | head -1)" | sed -n 's/^shunt-reason: //p')"
	elif [ "$(count "$v" bad)" -gt 0 ]; then
		echo bad
	elif held=$("$HERALD" --var "$v" held list "$LIST" 2>/dev/null) && [ -n "$held" ]; then
		echo "held $(printf '%s\n' "$held" | head -1 | cut -f5-)"
	elif line=$(grep -h ' rejected by ' "$v"/logs/*/incoming 2>/dev/null | head -1) && [ -n "$line" ]; then
		echo "rejected ${line#* rejected by *: }"
	elif line=$(grep -h ' discarded by ' "$v"/logs/*/incoming 2>/dev/null | head -1) && [ -n "$line" ]; then
		echo "discarded ${line#* discarded by *: }"
	elif [ "$(count "$v" out)" -eq 1 ]; then
		echo out
	else
		echo none
	fi
}

# notices V: one line per recipient of each notice in the virgin queue,
# "ADDR<TAB>SUBJECT" (the subject unfolded).
notices() {
	local f
	for f in $(entries "$1" virgin); do
		local subj
		subj=$(q_msg "$f" | awk '
			/^\r?$/ { exit }
			/^[Ss]ubject:/ { s = $0; c = 1; next }
			c && /^[ \t]/ { s = s $0; next }
			{ c = 0 }
			END { sub(/^[Ss]ubject:[ \t]*/, "", s); gsub(/\r/, "", s); gsub(/[ \t]+/, " ", s); print s }')
		q_meta "$f" | sed -n 's/^rcpt: //p' | while read -r r; do
			printf '%s\t%s\n' "$r" "$subj"
		done
	done
}

# notices_match EXPECT ACTUAL: every "notice ADDR SUBJECT-SUBSTRING" line
# of the expect file matches one notice recipient, and no notice is left
# over.
notices_match() {
	local want=$1 have=$2 addr subj i found
	local -a pairs=() used=()
	mapfile -t pairs <"$have"
	while read -r kw addr subj; do
		[ "$kw" = notice ] || continue
		found=0
		for i in "${!pairs[@]}"; do
			[ -n "${used[$i]:-}" ] && continue
			local a=${pairs[$i]%%$'\t'*} s=${pairs[$i]#*$'\t'}
			if [ "${a,,}" = "${addr,,}" ] && [[ $s == *"$subj"* ]]; then
				used[$i]=1 found=1
				break
			fi
		done
		[ $found = 1 ] || return 1
	done <"$want"
	[ "${#used[@]}" -eq "${#pairs[@]}" ]
}

# compare NAME WHAT EXPECTED ACTUAL: one TAP line; the diff as comments.
compare() {
	local name=$1 what=$2 exp=$3 act=$4
	if [ ! -f "$exp" ]; then
		not_ok "$name: $what (no $(basename "$exp") in the case)"
	elif cmp -s <(normalise <"$exp") "$act"; then
		ok "$name: $what"
	else
		not_ok "$name: $what"
		diff -u --label expected --label actual <(normalise <"$exp") "$act" |
			head -60 | sed 's/^/# /'
	fi
}

# --- the list every case starts from ------------------------------------------

BASE=$(new_var base) || { not_ok "a var dir is made"; t_done; }
pipeline_runners "$BASE" &&
	"$HERALD" --var "$BASE" lists create "$LIST" --owner "$OWNER" >/dev/null ||
	{ not_ok "the list $LIST is created"; t_done; }
BASE_MEMBERS=$T_DIR/base-members
cp -a "$BASE" "$BASE_MEMBERS"
printf '%s\n' "$DEFAULT_MEMBERS" >"$T_DIR/default-members"
add_members "$BASE_MEMBERS" "$T_DIR/default-members" ||
	{ not_ok "the default members are added"; t_done; }

# --- one case ------------------------------------------------------------------

run_case() {
	local dir=$1 name V W kind sender want got wword gword wreason
	name=$(basename "$dir")
	V=$T_DIR/case-$name
	W=$T_DIR/work-$name
	mkdir -p "$W"
	if [ ! -f "$dir/in.eml" ]; then
		not_ok "$name: has an in.eml"
		return
	fi
	if [ -f "$dir/members" ]; then
		cp -a "$BASE" "$V"
	else
		cp -a "$BASE_MEMBERS" "$V"
	fi
	# The config first: a member's topics must be the list's.
	if [ -f "$dir/config" ] &&
		! "$HERALD" --var "$V" config import "$LIST" <"$dir/config" 2>"$W/config.err"; then
		not_ok "$name: its config imports"
		sed 's/^/# /' "$W/config.err"
		return
	fi
	if [ -f "$dir/members" ] &&
		! add_members "$V" "$dir/members" 2>"$W/members.err"; then
		not_ok "$name: its members are added"
		sed 's/^/# /' "$W/members.err"
		return
	fi
	kind=$(meta_get "$dir/meta" kind)
	kind=${kind:-post}
	if [ -f "$dir/meta" ] && grep -q '^sender:' "$dir/meta"; then
		sender=$(meta_get "$dir/meta" sender)
		[ "$sender" = "<>" ] && sender=
	else
		sender=$(from_addr "$dir/in.eml")
	fi
	if ! "$HERALD" --var "$V" mta "$kind" "$LIST" --sender "$sender" \
		<"$dir/in.eml" 2>"$W/mta.err"; then
		not_ok "$name: herald mta $kind stores the post"
		sed 's/^/# /' "$W/mta.err"
		return
	fi
	"$HERALD" --var "$V" runner in --once >"$W/runner.log" 2>&1

	got=$(outcome "$V")
	gword=${got%% *}
	[ -f "$dir/expect" ] && want=$(head -1 "$dir/expect") || want=
	wword=${want%% *}
	wreason=${want#"$wword"}
	wreason=${wreason# }

	# The out queue entry: message and recipients.
	if [ "$gword" = out ]; then
		local f
		f=$(entries "$V" out | head -1)
		q_msg "$f" | normalise >"$W/out.eml"
		q_meta "$f" | grep '^rcpt: ' | sort >"$W/rcpt"
	fi
	notices "$V" >"$W/notices"

	if [ "$UPDATE" = 1 ]; then
		if [ "$gword" = out ]; then
			cp "$W/out.eml" "$dir/out.eml"
			cp "$W/rcpt" "$dir/rcpt"
		fi
		# held.eml, archive.eml, digest.eml: refreshed when the case
		# has one (create an empty one to have it written).
		local q qf
		for q in held archive digest; do
			[ -f "$dir/$q.eml" ] || continue
			if [ "$q" = held ]; then
				qf=$(find "$V/lists/$LIST/held" -name '*.msg' 2>/dev/null | sort | head -1)
			else
				qf=$(entries "$V" "$q" | head -1)
			fi
			[ -n "$qf" ] && q_msg "$qf" | normalise >"$dir/$q.eml"
		done
		if [ ! -f "$dir/expect" ]; then
			{
				echo "$got"
				sed 's/^/notice /; s/\t/ /' "$W/notices"
				echo "archive $([ "$(count "$V" archive)" -gt 0 ] && echo yes || echo no)"
				echo "digest $([ "$(count "$V" digest)" -gt 0 ] && echo yes || echo no)"
			} >"$dir/expect"
		fi
		diag "$name: UPDATE=1 wrote what herald did ($got); review it line by line"
		return
	fi

	if [ -z "$want" ]; then
		not_ok "$name: has an expect file (herald did: $got)"
		return
	fi
	if [ "$gword" = "$wword" ] && [[ ${got#"$gword"} == *"$wreason"* ]]; then
		ok "$name: $want"
	else
		not_ok "$name: $want"
		diag "herald did: $got"
		sed 's/^/# herald wrote the notice: /' "$W/notices"
		# The checks below follow from the outcome: with the wrong one
		# they would only repeat this failure.
		return
	fi
	if [ "$wword" = out ]; then
		compare "$name" "out.eml is the message in the out queue" "$dir/out.eml" "$W/out.eml"
		compare "$name" "rcpt are its recipients" "$dir/rcpt" "$W/rcpt"
	fi
	if [ -f "$dir/held.eml" ]; then
		local hf
		hf=$(find "$V/lists/$LIST/held" -name '*.msg' 2>/dev/null | sort | head -1)
		if [ -n "$hf" ]; then
			q_msg "$hf" | normalise >"$W/held.eml"
			compare "$name" "held.eml is the held message" "$dir/held.eml" "$W/held.eml"
		else
			not_ok "$name: held.eml is the held message (nothing held)"
		fi
	fi
	local q
	for q in archive digest; do
		local w
		w=$(sed -n "s/^$q[[:space:]]\+//p" "$dir/expect" | head -1)
		if [ -n "$w" ]; then
			local n
			n=$(count "$V" "$q")
			if { [ "$w" = yes ] && [ "$n" -eq 1 ]; } || { [ "$w" = no ] && [ "$n" -eq 0 ]; }; then
				ok "$name: $q copy: $w"
			else
				not_ok "$name: $q copy: $w (the $q queue has $n)"
			fi
		fi
		if [ -f "$dir/$q.eml" ]; then
			local af
			af=$(entries "$V" "$q" | head -1)
			if [ -n "$af" ]; then
				q_msg "$af" | normalise >"$W/$q.eml"
				compare "$name" "$q.eml is the $q copy" "$dir/$q.eml" "$W/$q.eml"
			else
				not_ok "$name: $q.eml is the $q copy (none)"
			fi
		fi
	done
	if notices_match "$dir/expect" "$W/notices"; then
		ok "$name: notices: $(grep -c '^notice ' "$dir/expect")"
	else
		not_ok "$name: notices as in expect"
		sed 's/^/# herald wrote: /' "$W/notices"
		[ -s "$W/notices" ] || diag "herald wrote no notice"
	fi
}

for dir in "$DATA"/*/; do
	dir=${dir%/}
	if [ -n "${CASES:-}" ]; then
		case " $CASES " in *" $(basename "$dir") "*) ;; *) continue ;; esac
	fi
	run_case "$dir"
done
t_done
