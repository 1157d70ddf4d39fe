#!/usr/bin/env bash
# Lists and their settings on the command line: create (names checked,
# none that is another list's address, races let one in), list, config
# get/set/show/export/import (types checked, UTF-8 only, weak hashes
# refused, secrets left out unless --show-secrets, round trip), remove
# (archive kept unless --purge).
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
H() { "$HERALD" --var "$V" "$@"; }
fails_with() {	# fails_with "text" command...: the command fails saying text
	local want=$1 out; shift
	out=$("$@" 2>&1) && return 1
	echo "$out" | grep -qF -- "$want" || { echo "# got: $out"; return 1; }
}

check "create a list" H lists create demo@example.org --owner admin@example.org
check "a second create of it fails" fails_with "exists already" H lists create demo@example.org --owner admin@example.org
check "an upper-case name is refused" fails_with "list names are lower case" H lists create Demo@example.org --owner a@example.org
check "a path trick is refused" fails_with "bad list name" H lists create ../etc@example.org --owner a@example.org
check "a slash is refused" fails_with "may only hold" H lists create a/b@example.org --owner a@example.org
check "a name without domain is refused" fails_with "name@domain" H lists create demo --owner a@example.org
check "a list needs an owner" fails_with "at least one owner" H lists create solo@example.org
check "a bad owner address is refused" fails_with "owner 'nobody'" H lists create x@example.org --owner nobody

# A list's name must not be another list's address, either way round:
# test-owner@ beside test@ would take the mail of test's owners.
H lists create test@example.org --owner a@example.org >/dev/null
for s in -owner -request -bounces -confirm -join -leave -subscribe -unsubscribe -admin; do
	check "test$s@ is refused beside test@" fails_with "is the" H lists create "test$s@example.org" --owner a@example.org
	check "and test$s@ was not made" test ! -e "$V/lists/test$s@example.org"
	H lists create "r$s$s@example.org" --owner a@example.org >/dev/null
	check "r$s@ is refused beside r$s$s@" fails_with "would be the posting address of list r$s$s@example.org" H lists create "r$s@example.org" --owner a@example.org
done
check "a VERP address of a list is refused" fails_with "is taken" H lists create test-bounces+x@example.org --owner a@example.org
check "the same name in another domain is fine" H lists create test-owner@example.net --owner a@example.org
# Two colliding creations at once: the domain's lock lets exactly one in.
for i in 1 2 3 4 5 6 7 8; do
	H lists create "race$i@example.org" --owner a@example.org >/dev/null 2>&1 &
	H lists create "race$i-owner@example.org" --owner a@example.org >/dev/null 2>&1 &
done
wait
n=$(ls "$V/lists" | grep -c '^race')
check "of each racing pair one list was made ($n of 8)" test "$n" -eq 8
for d in "$V"/lists/{test,r-,race}*@example.org; do
	H lists remove "$(basename "$d")" >/dev/null
done
H lists remove test-owner@example.net >/dev/null
check "lists prints one list a line" test "$(H lists)" = "demo@example.org"
H config set demo@example.org description "Demo list" >/dev/null
check "lists --verbose shows the description" bash -c "'$HERALD' --var '$V' lists --verbose | grep -q \$'^demo@example.org\tDemo list'"

check "defaults are Mailman's: max_message_size 40" test "$(H config get demo@example.org max_message_size)" = 40
check "real_name defaults to the capitalised name" test "$(H config get demo@example.org real_name)" = Demo
check "subject_prefix defaults to [Demo] " test "$(H config get demo@example.org subject_prefix)" = "[Demo] "
check "the owner was stored" test "$(H config get demo@example.org owner)" = admin@example.org
check "set and get an integer" bash -c "'$HERALD' --var '$V' config set demo@example.org max_message_size 100 && [ \$('$HERALD' --var '$V' config get demo@example.org max_message_size) = 100 ]"
check "a choice by name is stored as Mailman's number" bash -c "'$HERALD' --var '$V' config set demo@example.org reply_goes_to_list this_list && [ \$('$HERALD' --var '$V' config get demo@example.org reply_goes_to_list) = 1 ]"
check "yes/no accepts true" bash -c "'$HERALD' --var '$V' config set demo@example.org emergency true && [ \$('$HERALD' --var '$V' config get demo@example.org emergency) = yes ]"
check "a non-integer is refused naming the setting and type" fails_with "max_message_size: 'big' is not an integer (expected integer)" H config set demo@example.org max_message_size big
check "an out-of-range value is refused" fails_with "max_num_recipients: -1 is outside 0..100000" H config set demo@example.org max_num_recipients -1
check "a bad choice is refused with the choices" fails_with "0=poster|1=this_list|2=explicit" H config set demo@example.org reply_goes_to_list sometimes
check "a bad boolean is refused" fails_with "'maybe' is not yes or no" H config set demo@example.org archive maybe
check "a line break in a one-line setting is refused" fails_with "a line break is not allowed" H config set demo@example.org description $'two\nlines'
check "an unknown setting is refused" fails_with "unknown list setting 'colour'" H config set demo@example.org colour blue
check "a bad moderator address is refused" fails_with "moderator: 'x y'" H config set demo@example.org moderator "x y"
H config set demo@example.org password s3cret >/dev/null
check "a password is stored as an Argon2id hash" bash -c "grep -q '^password=\\\$argon2id\\\$' '$V/lists/demo@example.org/config' && ! grep -q s3cret '$V/lists/demo@example.org/config'"
check "show displays a password only as set" bash -c "'$HERALD' --var '$V' config show demo@example.org --category passwords | grep -qx 'password = (set)'"
check "show --category limits to the category" test "$(H config show demo@example.org --category archive | grep -c ' = ')" -eq 3
check "an unknown category is refused" fails_with "unknown category 'colours'" H config show demo@example.org --category colours
H config set demo@example.org accept_these_nonmembers $'friend@example.net\n^.*@partner\\.example$' >/dev/null
check "a list setting keeps one value a line" test "$(H config get demo@example.org accept_these_nonmembers | wc -l)" -eq 2

# Round trip: export, import into a new list, export again: identical.
H config export demo@example.org >"$T_DIR/demo.conf"
H lists create copy@example.org --owner other@example.org >/dev/null
check "import into a new list" bash -c "'$HERALD' --var '$V' config import copy@example.org < '$T_DIR/demo.conf'"
H config export copy@example.org >"$T_DIR/copy.conf"
check "export -> import -> export is identical" diff "$T_DIR/demo.conf" "$T_DIR/copy.conf"
printf '[general]\nmax_message_size = huge\n' >"$T_DIR/bad.conf"
check "import refuses a bad value, naming it" fails_with "max_message_size: 'huge'" H config import copy@example.org <"$T_DIR/bad.conf"
check "and changes nothing" test "$(H config get copy@example.org max_message_size)" = 100
printf '[privacy]\nmax_message_size = 5\n' >"$T_DIR/wrong.conf"
check "import refuses a setting in the wrong category" fails_with "belongs in [general]" H config import copy@example.org <"$T_DIR/wrong.conf"

# Not UTF-8: refused (it used to be stored and read back empty).
check "a value that is not UTF-8 is refused" fails_with "description: the value is not UTF-8" H config set copy@example.org description $'D\xff'
check "and the old value is kept" test "$(H config get copy@example.org description)" = "Demo list"
printf '[general]\ndescription = D\xff\n' >"$T_DIR/latin1.conf"
check "import refuses a value that is not UTF-8" fails_with "description:" H config import copy@example.org <"$T_DIR/latin1.conf"
check "and changes nothing" test "$(H config get copy@example.org description)" = "Demo list"

# Secrets: export leaves the password hashes out unless --show-secrets.
hash=$(H config get demo@example.org password)
check "config get prints a password's hash when named" bash -c "[[ '$hash' == '\$argon2id\$'* ]]"
check "config export leaves the hashes out" bash -c "! grep -q 'argon2\|^password' '$T_DIR/demo.conf'"
check "and says so" grep -q "^# The passwords (password, mod_password, post_password) are left out" "$T_DIR/demo.conf"
check "config show --show-secrets prints the hash" bash -c "'$HERALD' --var '$V' config show demo@example.org --show-secrets --category passwords | grep -qxF 'password = $hash'"
H config import demo@example.org <"$T_DIR/demo.conf"
check "importing an export keeps the list's password" test "$(H config get demo@example.org password)" = "$hash"
H config export demo@example.org --show-secrets >"$T_DIR/secrets.conf"
check "config export --show-secrets includes the hash" grep -qxF "password=$hash" "$T_DIR/secrets.conf"
H lists create moved@example.org --owner other@example.org >/dev/null
check "an export with secrets imports into a new list" bash -c "'$HERALD' --var '$V' config import moved@example.org < '$T_DIR/secrets.conf'"
check "which gets the password" test "$(H config get moved@example.org password)" = "$hash"
H config export moved@example.org --show-secrets >"$T_DIR/moved.conf"
check "export --show-secrets -> import -> export is identical" diff "$T_DIR/secrets.conf" "$T_DIR/moved.conf"
H lists remove moved@example.org >/dev/null
# A hash weaker than herald's own (Argon2id m=8 KiB, t=1, of "pw") is
# refused.
H config set copy@example.org password s3cret >/dev/null
copyhash=$(H config get copy@example.org password)
weak='$argon2id$v=19$m=8,t=1,p=1$F3OqO7IjKWWUR5A8V4zUzw$yfvY+hLcAevG/wF7T5lYPIqLnegNbzi00X5mwelqQLk'
printf '[passwords]\npassword = %s\n' "$weak" >"$T_DIR/weak.conf"
check "import refuses a weak password hash" fails_with "password: the hash costs less than herald's (m=8 KiB, t=1" H config import copy@example.org <"$T_DIR/weak.conf"
check "and keeps the password" test "$(H config get copy@example.org password)" = "$copyhash"
printf '[passwords]\npassword = $argon2id$garbage\n' >"$T_DIR/junk.conf"
check "import refuses a hash it cannot read" fails_with "password: not an Argon2id hash" H config import copy@example.org <"$T_DIR/junk.conf"
check "counters live apart from the settings" test -f "$V/lists/demo@example.org/counters"
check "config doc is docs/list-settings.md" bash -c "'$HERALD' config doc | diff -q - '$HERALD_TOP/docs/list-settings.md'"

# Remove: the archive stays unless --purge.
mkdir -p "$V/archives/copy@example.org" "$V/archives/demo@example.org"
check "remove a list" H lists remove copy@example.org
check "its settings are gone" test ! -e "$V/lists/copy@example.org"
check "its archive is kept" test -d "$V/archives/copy@example.org"
check "remove --purge" H lists remove demo@example.org --purge
check "removes the archive too" test ! -e "$V/archives/demo@example.org"
check "removing a missing list fails" fails_with "no such list" H lists remove demo@example.org
t_done
