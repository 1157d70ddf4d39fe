#!/usr/bin/env bash
# Templates of herald's own mail through `herald templates show|list`: the
# built-in English and German texts with the list's variables filled, the
# lookup order (the list's file over the site's over the built-in one),
# the language fallback (asked, the list's preferred_language, en), --set
# variables, --raw, and the errors (no such template, a bad name).
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
L=dev@example.org
H lists create $L --owner admin@example.org >/dev/null

out=$(H templates show $L verify --set cookie=c0ffee --set email=ann@example.com --set remote=)
check "verify: the subject carries the cookie" bash -c 'echo "$1" | grep -qx "Subject: confirm c0ffee"' _ "$out"
check "verify: English by default" bash -c 'echo "$1" | grep -qx "Language: en"' _ "$out"
check "verify: the list's variables are filled" bash -c 'echo "$1" | grep -q "message to dev-request@example.org with"' _ "$out"
check "verify: --set variables are filled" bash -c 'echo "$1" | grep -q "ann@example.com"' _ "$out"
check "verify: a variable not set stays as written" bash -c 'echo "$1" | grep -q "%(confirmurl)s"' _ "$out"

out=$(H templates show $L subscribeack --language de --set user=ann@example.com)
check "German when asked" bash -c 'echo "$1" | grep -qx "Subject: Willkommen auf der Mailingliste \"Dev\""' _ "$out"
check "German body" bash -c 'echo "$1" | grep -q "Sie sind als ann@example.com eingetragen"' _ "$out"

out=$(H templates show $L probe --language fr)
check "no French: the list's language, English" bash -c 'echo "$1" | grep -qx "Language: en"' _ "$out"
H config set $L preferred_language de >/dev/null
out=$(H templates show $L probe --language fr)
check "no French: the list's preferred_language, German" bash -c 'echo "$1" | grep -qx "Language: de"' _ "$out"
out=$(H templates show $L probe)
check "no language asked: the list's" bash -c 'echo "$1" | grep -qx "Subject: Testnachricht der Mailingliste Dev"' _ "$out"
out=$(H templates show $L probe --language en)
check "a member's English over the list's German" bash -c 'echo "$1" | grep -qx "Subject: Dev mailing list probe message"' _ "$out"

mkdir -p "$V/etc/templates/de" "$V/lists/$L/templates/de"
printf 'Subject: Site %%(real_name)s\n\nSite text for %%(listname)s, 100%%%%.\n' >"$V/etc/templates/de/probe.txt"
out=$(H templates show $L probe)
check "the site's template over the built-in one" bash -c 'echo "$1" | grep -qx "Subject: Site Dev"' _ "$out"
check "%% is % and variables are filled" bash -c 'echo "$1" | grep -qx "Site text for dev, 100%."' _ "$out"
printf 'Subject: List %%(real_name)s\n\nList text.\n' >"$V/lists/$L/templates/de/probe.txt"
out=$(H templates show $L probe)
check "the list's template over the site's" bash -c 'echo "$1" | grep -qx "Subject: List Dev"' _ "$out"
check "templates list: the list's file is the one in use" bash -c 'echo "$1" | grep -qx "probe	de	list"' _ "$(H templates list $L)"
check "templates list: the others built in" bash -c 'echo "$1" | grep -qx "verify	de	built-in"' _ "$(H templates list $L)"
check "templates list: English for a member who asks" bash -c 'echo "$1" | grep -qx "probe	en	built-in"' _ "$(H templates list $L --language en)"
check "templates list names every template" test "$(H templates list $L | wc -l)" -ge 20
raw=$(H templates show $L probe --raw)
check "--raw prints the file as found" test "$raw" = "$(printf 'Subject: List %%(real_name)s\n\nList text.')"
raw=$(H templates show $L help --raw --language en)
check "--raw of a built-in template keeps its variables" bash -c 'echo "$1" | grep -q "%(requestaddr)s"' _ "$raw"

H templates show $L nosuch >/dev/null 2>"$T_DIR/err"
rc=$?
check "no such template: exit 1" test "$rc" -eq 1
check "no such template: said so" grep -q 'no template "nosuch" for list dev@example.org' "$T_DIR/err"
H templates show $L ../../etc/passwd >/dev/null 2>"$T_DIR/err"
rc=$?
check "a name with a path is refused" test "$rc" -eq 1
check "and said so" grep -q 'is not a template name' "$T_DIR/err"
H templates show $L verify --set novalue >/dev/null 2>&1
check "--set without = is a usage error" test $? -eq 64
H templates show nosuch@example.org verify >/dev/null 2>&1
check "an unknown list fails" test $? -eq 1
t_done
