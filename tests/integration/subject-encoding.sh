#!/usr/bin/env bash
# encode_ascii_prefixes (Mailman 2.1's setting): how the Subject of the
# copy the members get is written, checked raw and decoded by Python's
# email package (not herald's reader):
#   never (0, the default): only what is not ASCII is encoded; the prefix
#     stays plain;
#   always (1): the whole Subject, prefix included, is encoded words;
#   as_needed (2): plain when all ASCII, else the whole Subject encoded.
# Every form decodes to the same text.
. "$(dirname "$0")/../lib.sh"
V=$T_DIR/v
"$HERALD" --var "$V" init >/dev/null
L=enc@example.org
SP=$T_DIR/spool
h() { "$HERALD" --var "$V" "$@"; }
sendmail_spool "$V" "$SP"
h lists create $L --owner owner@example.org >/dev/null
h config set $L subject_prefix '[Enc] ' >/dev/null
printf 'm@example.org\n' | h members add $L >/dev/null

# subject SUBJECT_HEADER: the raw Subject of the member's copy of a post
# with that Subject header, then a tab, then the copy's Subject decoded.
subject() {
	rm -f "$SP"/*.eml
	printf 'From: m@example.org\nTo: %s\nSubject: %s\nMessage-ID: <s%s@example.org>\n\nBody.\n' \
		"$L" "$1" "$RANDOM" | h mta post $L &&
		h runner in --once >/dev/null 2>&1 && h runner out --once >/dev/null 2>&1 &&
		python3 - "$SP"/*.eml <<'PY'
import email, email.header, email.policy, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.compat32)
raw = " ".join(msg["Subject"].split())
text = str(email.header.make_header(email.header.decode_header(msg["Subject"])))
print(raw + "\t" + " ".join(text.split()))
PY
}
ascii='hello world'
utf=$'=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?='
got=$(subject "$ascii")
check "never, ASCII: plain" test "$got" = $'[Enc] hello world\t[Enc] hello world'
got=$(subject "$utf")
check "never, not ASCII: the prefix plain, the rest encoded" bash -c '[[ "$1" == "[Enc] =?"* ]]' _ "$got"
check "and it reads [Enc] Grüße aus Köln" test "${got#*$'\t'}" = "[Enc] Grüße aus Köln"

h config set $L encode_ascii_prefixes always >/dev/null
got=$(subject "$ascii")
check "always, ASCII: all encoded words" bash -c '[[ "$1" == "=?utf-8?b?"* && "${1%%	*}" != *"[Enc]"* ]]' _ "$got"
check "and it reads [Enc] hello world" test "${got#*$'\t'}" = "[Enc] hello world"
got=$(subject "$utf")
check "always, not ASCII: all encoded, reads the same" \
	bash -c '[[ "$1" == "=?utf-8?b?"* && "${1#*	}" == "[Enc] Grüße aus Köln" ]]' _ "$got"

h config set $L encode_ascii_prefixes as_needed >/dev/null
got=$(subject "$ascii")
check "as_needed, ASCII: plain" test "$got" = $'[Enc] hello world\t[Enc] hello world'
got=$(subject "$utf")
check "as_needed, not ASCII: the prefix encoded with the rest" \
	bash -c '[[ "$1" == "=?utf-8?b?"* && "${1#*	}" == "[Enc] Grüße aus Köln" ]]' _ "$got"
long=$(printf 'word%d ' $(seq 1 40))é
got=$(subject "$long")
check "a long Subject: every encoded word within RFC 2047's 75 characters" \
	bash -c 'for w in ${1%%	*}; do [ ${#w} -le 75 ] || exit 1; done' _ "$got"
check "and it reads back whole" test "${got#*$'\t'}" = "[Enc] $(echo $long)"
t_done
