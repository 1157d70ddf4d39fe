#!/usr/bin/env bash
# scrub_nondigest (Mailman 2.1): a post with a PDF and a PNG to a list with
# scrub_nondigest reaches its regular members as text, with a link to each
# attachment in the list's archive; each link's path is a file under the
# archive tree holding the attachment's bytes, the same file the archive
# runner writes when it archives the post, linked from the post's page.
# The plain digest (RFC 1153) scrubs the post the same way, with links to
# the same files.  Without scrub_nondigest the members get
# the attachments.  Delivery: the sendmail transport into a spool.
. "$(dirname "$0")/../lib.sh"
V=$T_DIR/v
"$HERALD" --var "$V" init >/dev/null
L=scrub@example.org
SP=$T_DIR/spool
h() { "$HERALD" --var "$V" "$@"; }
sendmail_spool "$V" "$SP"
h site set web.base_url https://lists.example.org/
h lists create $L --owner owner@example.org >/dev/null
printf 'reg@example.org\n' | h members add $L >/dev/null
printf 'dig@example.org\n' | h members add --digest $L >/dev/null
h config set $L scrub_nondigest yes >/dev/null

# The attachments, and the post (base64, as a mail program sends them).
head -c 3000 /dev/urandom >"$T_DIR/a.pdf"
head -c 1500 /dev/urandom >"$T_DIR/b.png"
post() {	# post N
	printf 'From: Poster <reg@example.org>\nTo: %s\nSubject: files %s\nMessage-ID: <scrub%s@example.org>\nDate: %s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain; charset=utf-8\n\nHere are the files of post %s.\n--B\nContent-Type: application/pdf; name="report.pdf"\nContent-Disposition: attachment; filename="report.pdf"\nContent-Transfer-Encoding: base64\n\n%s\n--B\nContent-Type: image/png; name="pic.png"\nContent-Disposition: attachment; filename="pic.png"\nContent-Transfer-Encoding: base64\n\n%s\n--B--\n' \
		"$L" "$1" "$1" "$(date -R)" "$1" "$(base64 -w 76 "$T_DIR/a.pdf")" "$(base64 -w 76 "$T_DIR/b.png")" |
		h mta post $L
}
post 1
check "the post goes through the pipeline" h runner in --once
check "it is delivered (runner out --once)" h runner out --once
M=$(grep -l '^Subject: \[Scrub\] files 1$' "$SP"/*.eml 2>/dev/null | head -1)
check "the regular member's copy arrives" test -n "$M"
check "it is one text/plain part" bash -c '! grep -q "^Content-Type: multipart" "$1" && grep -q "^Content-Type: text/plain" "$1"' _ "$M"
check "the text is kept" grep -q "Here are the files of post 1." "$M"
check "a stub names each attachment" bash -c 'grep -q "^Name: report.pdf$" "$1" && grep -q "^Name: pic.png$" "$1" && grep -q "^Type: application/pdf$" "$1" && grep -q "^Size: 3000 bytes$" "$1"' _ "$M"
ARCH=$(h archive path $L)
BASE="https://lists.example.org/archives/$L/"
# resolves URL FILE: the link's path under the archive tree holds FILE.
resolves() {
	local url rel
	url=$(grep -o "^URL: <[^>]*$2>" "$M" | sed 's/^URL: <//; s/>$//')
	case $url in "$BASE"attachments/*) ;; *) diag "url: $url"; return 1 ;; esac
	rel=${url#"$BASE"}
	cmp "$ARCH/$rel" "$1" || { diag "$ARCH/$rel"; return 1; }
	echo "$rel" >>"$T_DIR/rels"
}
check "the PDF's link resolves to a stored file with its bytes" resolves "$T_DIR/a.pdf" '\.pdf'
check "the PNG's link resolves to a stored file with its bytes" resolves "$T_DIR/b.png" '\.png'
check "nothing base64 of the attachments is left in the copy" bash -c '! grep -q "^Content-Transfer-Encoding: base64" "$1"' _ "$M"
check "the archive runner archives the whole post" h runner archive --once
page=$(grep -l 'files 1' "$ARCH"/*/0*.html | head -1)
links() {
	local rel
	while read -r rel; do
		grep -q "href=\"../$rel\"" "$page" || { diag "$rel not on $page"; return 1; }
	done <"$T_DIR/rels"
}
check "its page links the same files the members' links name" links
check "the files still hold the attachments" bash -c 'cmp "$1/$(sed -n 1p "$2")" "$3" && cmp "$1/$(sed -n 2p "$2")" "$4"' _ "$ARCH" "$T_DIR/rels" "$T_DIR/a.pdf" "$T_DIR/b.png"
check "the digest runner takes the post" h runner digest --once
check "digests send" h digests send $L
check "the plain digest is delivered" h runner out --once
M=$(grep -l '^Subject: Scrub Digest, Vol 1, Issue 1$' "$SP"/*.eml | head -1)
check "the plain digest (RFC 1153) has the post's text" grep -q "Here are the files of post 1." "$M"
: >"$T_DIR/rels"
check "the plain digest's PDF link resolves to the stored file (Mailman's Scrubber)" resolves "$T_DIR/a.pdf" '\.pdf'
check "the plain digest's PNG link resolves to the stored file" resolves "$T_DIR/b.png" '\.png'
check "the plain digest links the files the page links" links

h config set $L scrub_nondigest no >/dev/null
post 2
h runner in --once && h runner out --once
M2=$(grep -l '^Subject: \[Scrub\] files 2$' "$SP"/*.eml 2>/dev/null | head -1)
check "without scrub_nondigest the members get the attachments" bash -c '[ -n "$1" ] && grep -q "^Content-Type: multipart/mixed" "$1" && grep -q "filename=\"report.pdf\"" "$1" && ! grep -q "^URL: <" "$1"' _ "$M2"
t_done
