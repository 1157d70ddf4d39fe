#!/usr/bin/env bash
# Archived-At (RFC 5064): each copy of a post to a list that archives
# carries Archived-At: <BASEarchives/LIST/msgid/KEY>, KEY the SHA-1 of the
# Message-ID (computed here by Python's hashlib); an upstream list's
# Archived-At stays and this list's is added; a post marked X-No-Archive,
# a list that does not archive, or a Message-ID the key cannot carry gets
# none. The web service answers the URL, once the archive runner has the
# post, with a 301 to the message's page; an unknown or malformed key is a
# 404; a private archive's URL gives a stranger what the page itself gives
# a stranger (the login), never the redirect.
# Delivery: the sendmail transport into a spool.
. "$(dirname "$0")/../lib.sh"
V=$T_DIR/v
"$HERALD" --var "$V" init >/dev/null
L=at@example.org
SP=$T_DIR/spool
h() { "$HERALD" --var "$V" "$@"; }
sendmail_spool "$V" "$SP"
web_serve "$V" || { not_ok "the web interface starts"; t_done; }
h lists create $L --owner owner@example.org >/dev/null
printf 'reg@example.org\n' | h members add $L >/dev/null

post() {	# post ID [HEADER]: a post from the member, Message-ID <ID>
	printf 'From: reg@example.org\nTo: %s\nSubject: post %s\nMessage-ID: <%s>\n%b\nBody.\n' \
		"$L" "$1" "$1" "${2:+$2\n}" | h mta post $L
}
deliver() {	# deliver: through the pipeline into an empty spool
	rm -f "$SP"/*.eml
	h runner in --once && h runner out --once
}
key() { python3 -c 'import hashlib, sys; print(hashlib.sha1(sys.argv[1].encode()).hexdigest())' "$1"; }
archived_at() { grep -h '^Archived-At:' "$SP"/*.eml; }
code() { curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$1"; }

post one@example.org
check "a post is delivered" deliver
K=$(key one@example.org)
check "its copy names its place in the archive" \
	test "$(archived_at)" = "Archived-At: <${WEB_BASE}archives/$L/msgid/$K>"
check "the URL is not found before the archive has it" \
	test "$(code "${WEB_BASE}archives/$L/msgid/$K")" = "404 "
check "the archive runner archives it" h runner archive --once
P=$(h archive search $L subject:post | cut -f1)
check "then the URL is a 301 to the message's page" \
	test "$(code "${WEB_BASE}archives/$L/msgid/$K")" = "301 ${WEB_BASE}archives/${L/@/%40}/$P"
check "which is the post's page" bash -c "curl -sfL '${WEB_BASE}archives/$L/msgid/$K' | grep -q 'post one@example.org'"
check "an unknown key is not found" \
	test "$(code "${WEB_BASE}archives/$L/msgid/$(key other@example.org)")" = "404 "
check "a malformed key is not found" \
	test "$(code "${WEB_BASE}archives/$L/msgid/..%2F..%2Fetc")" = "404 "

post two@example.org 'Archived-At: <https://upstream.example.net/m/2>'
deliver
check "an upstream list's Archived-At stays, this list's follows it" \
	test "$(archived_at | tr '\n' '|')" = "Archived-At: <https://upstream.example.net/m/2>|Archived-At: <${WEB_BASE}archives/$L/msgid/$(key two@example.org)>|"

post three@example.org 'X-No-Archive: yes'
deliver
check "a post marked X-No-Archive gets none" test -z "$(archived_at)"
post 'four with space@example.org'
deliver
check "a Message-ID with a space gets none" test -z "$(archived_at)"

h config set $L archive no >/dev/null
post five@example.org
deliver
check "a list that does not archive adds none" test -z "$(archived_at)"

# A private archive: the URL is behind the login, like the pages.
h config set $L archive yes >/dev/null
h config set $L archive_private 1 >/dev/null
a=$(code "${WEB_BASE}archives/$L/msgid/$K") b=$(code "${WEB_BASE}archives/$L/$P")
diag "a stranger: $a (the page itself: $b)"
check "a stranger gets what the page gives a stranger, not a redirect to it" \
	test "$a" = "$b" -a "${a%% *}" != 301 -a "${a%% *}" != 200
t_done
