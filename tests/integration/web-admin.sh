#!/usr/bin/env bash
# The owners' settings pages and the site administrator's page over HTTP
# (curl): every category page renders and parses, a change is checked as
# `herald config set` checks it (its message, nothing stored when one field
# is wrong), passwords are hashed and never shown, every POST needs the
# CSRF token, an owner of one list cannot read or change another, a
# moderator cannot change settings, admindb/ leads to the held posts; the
# site administrator creates and removes a list (the owners told by mail)
# and sees the site settings without secrets, and nobody else can.  Then
# the browser scenario (tests/web/admin.mjs).
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
A=a@example.org B=b@example.org C=c@example.org
# The checks run in bash -c.
export V HERALD A B C; export -f H
H lists create $A --owner owner-a@example.org >/dev/null
H lists create $B --owner owner-b@example.org >/dev/null
H config set $A password owner-a-pw
H config set $A mod_password mod-a-pw
H config set $B password owner-b-pw
echo site-pw | H web password >/dev/null
H site set mta.smtp_password smtp-secret-4711
web_serve "$V" || { not_ok "the web server starts"; t_done; }
AA=a%40example.org BB=b%40example.org

# curl into files: status on stdout.
get() { curl -s -o "$T_DIR/page" -w '%{http_code}' -b "$T_DIR/jar.$1" -c "$T_DIR/jar.$1" "$WEB_BASE$2"; }
post() { local j=$1 p=$2; shift 2; curl -s -o "$T_DIR/page" -w '%{http_code}' -b "$T_DIR/jar.$j" -c "$T_DIR/jar.$j" "$@" "$WEB_BASE$p"; }
csrf() { grep -o 'name="csrf" value="[^"]*"' "$T_DIR/page" | head -1 | sed 's/.*value="//; s/"$//'; }
has() { grep -qF -- "$1" "$T_DIR/page"; }
# xmllint's HTML parser is HTML 4's: it calls HTML 5's elements "invalid"
# and nothing else may be wrong.
parses() { ! xmllint --html --noout "$T_DIR/page" 2>&1 | grep 'error' | grep -v 'Tag \(header\|nav\|main\|footer\|section\) invalid' | grep -q .; }
# login JAR ROLE LIST PASSWORD: a session in JAR.
login() {
	rm -f "$T_DIR/jar.$1"
	get "$1" "admin/" >/dev/null
	post "$1" login --data-urlencode "csrf=$(csrf)" -d "role=$2" \
		--data-urlencode "list=$3" --data-urlencode "password=$4" -d next=/
}

check "admin/LIST without a login: 401 and the login form" \
	bash -c '[ "$1" = 401 ] && grep -q "name=\"password\"" "$2"' _ "$(get anon admin/$AA)" "$T_DIR/page"
check "the owner of $A logs in" [ "$(login owner owner $A owner-a-pw)" = 303 ]
check "admin/LIST shows the owner the General page" bash -c '[ "$1" = 200 ]' _ "$(get owner admin/$AA)"
check "  with a link to the roster and the moderation queue" \
	bash -c 'grep -q "/admin/a%40example.org/members\"" "$1" && grep -q "/admin/a%40example.org/held\"" "$1" && grep -q "/admin/a%40example.org/requests\"" "$1"' _ "$T_DIR/page"
OWNER_CSRF=$(csrf)

# Every category of the table (`config show` prints them), and Privacy's
# sub-pages.
cats=$(H config show $A | sed -n 's/^\[\(.*\)\]$/\1/p')
pages="$cats privacy/subscribing privacy/sender privacy/recipient privacy/spam"
bad=
for c in $pages; do
	s=$(get owner "admin/$AA/$c")
	if [ "$s" != 200 ] || ! parses || ! has 'class="setting"'; then bad="$bad $c($s)"; fi
done
check "every category page renders (200), parses, has settings:$(echo $cats | wc -w) categories" [ -z "$bad" ]
[ -z "$bad" ] || diag "bad pages:$bad"
get owner "admin/$AA/general" >/dev/null
check "a setting nothing acts on yet says so" has "not acted on yet"
get owner "admin/$AA/privacy/sender" >/dev/null
check "a privacy sub-page holds its settings only" bash -c 'grep -q "name=\"generic_nonmember_action\"" "$1" && ! grep -q "name=\"advertised\"" "$1"' _ "$T_DIR/page"
s=$(curl -s -o "$T_DIR/page" -w '%{http_code}' -b "$T_DIR/jar.owner" -H 'Accept-Language: de' "${WEB_BASE}admin/$AA/general")
check "in German when the browser asks for it" bash -c '[ "$1" = 200 ] && grep -q "Allgemeine Optionen" "$2" && grep -q "Änderungen speichern" "$2"' _ "$s" "$T_DIR/page"
check "a trailing slash is the same page" [ "$(get owner admin/$AA/general/)" = 200 ]
check "a path below a page: 404" [ "$(get owner admin/$AA/general/x)" = 404 ]
check "no such category: 404" [ "$(get owner admin/$AA/nosuch)" = 404 ]
check "no such privacy sub-page: 404" [ "$(get owner admin/$AA/privacy/nosuch)" = 404 ]
get owner "admin/$AA/passwords" >/dev/null
hash=$(H config get $A password)
check "passwords: never shown, not even the hash" bash -c '! grep -qF "$1" "$2" && ! grep -q "argon2" "$2"' _ "$hash" "$T_DIR/page"

# CSRF on every POST.
check "a settings POST without the CSRF token: 403" \
	[ "$(post owner admin/$AA/general -d description=nocsrf)" = 403 ]
check "a settings POST with a wrong token: 403" \
	[ "$(post owner admin/$AA/general -d csrf=forged -d description=forged)" = 403 ]
check "  and nothing changed" bash -c '[ -z "$(H config get $A description)" ]'

# A wrong field: the CLI's message, nothing stored.
cli_msg=$(H config set $A max_message_size 12abc 2>&1 >/dev/null | sed 's/^herald: //')
s=$(post owner admin/$AA/general -d "csrf=$OWNER_CSRF" -d description=Changed \
	-d max_message_size=12abc -d emergency=yes)
check "a wrong value is refused (400)" [ "$s" = 400 ]
check "  with the command line's message next to the field" \
	bash -c 'python3 -c "import html,sys; sys.exit(0 if sys.argv[1] in html.unescape(open(sys.argv[2]).read()) else 1)" "$1" "$2"' _ "$cli_msg" "$T_DIR/page"
check "  the message names the setting ($cli_msg)" bash -c '[[ $1 == max_message_size:* ]]' _ "$cli_msg"
check "  and no field was stored" bash -c '[ -z "$(H config get $A description)" ] && [ "$(H config get $A emergency)" = no ] && [ "$(H config get $A max_message_size)" = 40 ]'
check "  the form keeps what was typed" has 'value="Changed"'
cli_msg=$(H config set $A owner "" 2>&1 >/dev/null | sed 's/^herald: //')
check "no owner left: refused with the command line's message ($cli_msg)" \
	bash -c '[ "$1" = 400 ] && grep -qF "$2" "$3"' _ \
	"$(post owner admin/$AA/general -d "csrf=$OWNER_CSRF" -d owner= -d description=Changed)" "$cli_msg" "$T_DIR/page"
check "  nothing changed" bash -c '[ "$(H config get $A owner)" = owner-a@example.org ] && [ -z "$(H config get $A description)" ]'
s=$(post owner admin/$AA/general -d "csrf=$OWNER_CSRF" --data-urlencode "info=First line"$'\r\n'"second line" \
	-d description=Changed -d max_message_size=100 -d emergency=yes -d from_is_list=munge_from)
check "right values: 303 back to the page" [ "$s" = 303 ]
check "  stored as config set would: a choice by name as its number, CRLF as LF" \
	bash -c '[ "$(H config get $A description)" = Changed ] && [ "$(H config get $A max_message_size)" = 100 ] && [ "$(H config get $A emergency)" = yes ] && [ "$(H config get $A from_is_list)" = 1 ] && [ "$(H config get $A info)" = "$(printf "First line\nsecond line")" ]'
H config set $A goodbye_msg "$(printf '\nafter a blank line')"
get owner "admin/$AA/general" >/dev/null
check "a text starting with a line break is shown with it (textarea)" \
	python3 -c 'import html,re,sys; t=html.unescape(re.search(r"<textarea name=\"goodbye_msg\"[^>]*>(.*?)</textarea>", open(sys.argv[1]).read(), re.S).group(1)); sys.exit(0 if t == "\n\nafter a blank line" else 1)' "$T_DIR/page"
check "privacy: a list setting from a textarea" \
	[ "$(post owner admin/$AA/privacy/sender -d "csrf=$OWNER_CSRF" --data-urlencode "accept_these_nonmembers=x@example.com"$'\r\n'"  ^.*@example\.net"$'\r\n')" = 303 ]
check "  one value a line, trimmed" bash -c '[ "$(H config get $A accept_these_nonmembers)" = "$(printf "x@example.com\n^.*@example\\\\.net")" ]'

# Passwords: hashed as the CLI does, both fields must agree.
old=$(H config get $A mod_password)
check "two different passwords: refused" \
	[ "$(post owner admin/$AA/passwords -d "csrf=$OWNER_CSRF" -d mod_password=new-mod -d again.mod_password=other)" = 400 ]
check "  and the password is unchanged" bash -c '[ "$(H config get $A mod_password)" = "$1" ]' _ "$old"
check "a new moderator password" \
	[ "$(post owner admin/$AA/passwords -d "csrf=$OWNER_CSRF" -d mod_password=new-mod -d again.mod_password=new-mod -d password= -d again.password=)" = 303 ]
check "  stored as an Argon2id hash; the empty owner password field kept it" \
	bash -c '[[ $(H config get $A mod_password) == \$argon2id\$* ]] && [ "$(H config get $A password)" = "$1" ]' _ "$hash"
check "no password in the log" bash -c '! grep -q "new-mod\|owner-a-pw" "$1/web.log"' _ "$V"

# An owner of A and list B.
check "the owner of $A cannot read $B's settings (403)" [ "$(get owner admin/$BB/general)" = 403 ]
check "  nor change them (403)" [ "$(post owner admin/$BB/general -d "csrf=$OWNER_CSRF" -d description=hijacked)" = 403 ]
check "  nothing changed" bash -c '[ -z "$(H config get $B description)" ]'

# The moderator of A.
check "the moderator of $A logs in" [ "$(login mod moderator $A new-mod)" = 303 ]
check "admin/LIST shows the moderator the moderation links" \
	bash -c '[ "$1" = 200 ] && grep -q "/admin/a%40example.org/held\"" "$2" && ! grep -q "name=\"description\"" "$2"' _ "$(get mod admin/$AA)" "$T_DIR/page"
MOD_CSRF=$(csrf)
check "a moderator cannot see a settings page (403)" [ "$(get mod admin/$AA/general)" = 403 ]
check "a moderator cannot change settings (403)" \
	[ "$(post mod admin/$AA/general -d "csrf=$MOD_CSRF" -d description=bymod)" = 403 ]
check "  nothing changed" bash -c '[ "$(H config get $A description)" = Changed ]'

check "admindb/LIST: 303 to admin/LIST/held" \
	bash -c '[ "$(curl -s -o /dev/null -w "%{http_code} %{redirect_url}" "${WEB_BASE}admindb/a@example.org")" = "303 ${WEB_BASE}admin/a%40example.org/held" ]'
check "admindb/ of no list: 404" [ "$(get anon admindb/nosuch@example.org)" = 404 ]

# The site administrator.
check "an owner cannot see the site page (403)" [ "$(get owner admin/)" = 403 ]
check "an owner cannot create a list (403)" \
	[ "$(post owner admin/ -d "csrf=$OWNER_CSRF" -d op=create -d list=$C -d owners=x@example.com -d password=p)" = 403 ]
check "an owner cannot remove a list (403)" \
	[ "$(post owner admin/ -d "csrf=$OWNER_CSRF" -d op=remove -d list=$B -d do=confirm)" = 403 ]
check "  nothing created or removed" bash -c 'H lists | grep -qx "$1" && ! H lists | grep -qx "$2"' _ $B $C
check "the site administrator logs in" [ "$(login site site "" site-pw)" = 303 ]
check "admin/: 200, every list with its settings link" \
	bash -c '[ "$1" = 200 ] && grep -q "/admin/a%40example.org\"" "$2" && grep -q "/admin/b%40example.org\"" "$2"' _ "$(get site admin/)" "$T_DIR/page"
check "  it parses" parses
check "  the site settings without secrets" \
	bash -c 'grep -q "web.base_url" "$1" && ! grep -q "smtp-secret-4711\|argon2" "$1"' _ "$T_DIR/page"
SITE_CSRF=$(csrf)
check "create without the CSRF token: 403" \
	[ "$(post site admin/ -d op=create -d list=$C -d owners=co@example.com -d password=c-pw)" = 403 ]
check "create with a bad name: refused with list_name_check's reason" \
	bash -c '[ "$1" = 400 ] && grep -q "Bad..example.org\|Bad\.\.example\.org" "$2"' _ \
	"$(post site admin/ -d "csrf=$SITE_CSRF" -d op=create -d list=Bad..example.org -d owners=co@example.com -d password=c-pw)" "$T_DIR/page"
check "create with an owner that is no address: refused" \
	[ "$(post site admin/ -d "csrf=$SITE_CSRF" -d op=create -d list=$C -d owners=not-an-address -d password=c-pw)" = 400 ]
check "  nothing created" bash -c '! H lists | grep -qx "$1"' _ $C
s=$(post site admin/ -d "csrf=$SITE_CSRF" -d op=create -d list=$C --data-urlencode "owners=co@example.com"$'\r\n'"co2@example.com" -d password=c-pw)
check "the site administrator creates $C (303)" [ "$s" = 303 ]
check "  it exists with both owners and the password" \
	bash -c 'H lists | grep -qx "$1" && [ "$(H config get $1 owner)" = "$(printf "co@example.com\nco2@example.com")" ] && [[ $(H config get $1 password) == \$argon2id\$* ]]' _ $C
check "  its owners are told by mail (newlist), without the password" \
	bash -c 'f=$(grep -rl "Your new mailing list: c" "$1/queue" | head -1); [ -n "$f" ] && grep -q "co2@example.com" "$f" && grep -q "admin/c@example.org" "$f" && ! grep -q "c-pw" "$f"' _ "$V"
check "  its owner logs in with that password" [ "$(login cowner owner $C c-pw)" = 303 ]
check "creating it again: refused" \
	[ "$(post site admin/ -d "csrf=$SITE_CSRF" -d op=create -d list=$C -d owners=co@example.com -d password=x)" = 400 ]
s=$(post site admin/ -d "csrf=$SITE_CSRF" -d op=remove -d list=$C)
check "remove asks to confirm first" bash -c '[ "$1" = 200 ] && grep -q "name=\"do\" value=\"confirm\"" "$2" && H lists | grep -qx "$3"' _ "$s" "$T_DIR/page" $C
check "remove, confirmed (303)" [ "$(post site admin/ -d "csrf=$SITE_CSRF" -d op=remove -d list=$C -d do=confirm)" = 303 ]
check "  the list is gone" bash -c '! H lists | grep -qx "$1"' _ $C
check "  its owners are told by mail (rmlist)" bash -c 'grep -rq "The mailing list c was removed" "$1/queue"' _ "$V"
check "removing a list that is not there: 404" \
	[ "$(post site admin/ -d "csrf=$SITE_CSRF" -d op=remove -d list=$C -d do=confirm)" = 404 ]

# The browser: an owner changes three categories; the site admin creates
# a list.
browser admin.mjs
check "the browser's list exists" bash -c 'H lists | grep -qx browser@example.org'
check "the browser's settings were stored" \
	bash -c '[ "$(H config get $1 description)" = "Set in the browser" ] && [ "$(H config get $1 digestable)" = no ] && [ "$(H config get $1 archive_private)" = 1 ]' _ $B
kill "$WEB_PID" 2>/dev/null
t_done
