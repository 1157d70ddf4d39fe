#!/usr/bin/env bash
# Hostile mail into the archive: the MIME fixtures (tests/data/mime), the
# broken notmuch messages (tests/data/notmuch) and generated monsters
# (deep nesting, a 1 MB header line, 10,000 parts, bad charsets, <script>
# in every header and part, attachment names with ../ and NULs, an HTML
# part with script and event handlers) are imported and also added one
# by one.  No crash; every page parses with libxml2's HTML parser
# (xmllint --html) and holds no element or attribute but herald's own
# (so nothing of a message became markup); no file is written outside
# the archive's folders; attachments keep herald's names.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=hostile@example.org
"$HERALD" --var "$V" lists create $L --owner admin@example.org >/dev/null
D=$T_DIR/mail
mkdir -p "$D"

# The monsters.
python3 - "$D" <<'PY'
import os, sys
d = sys.argv[1]
S = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>'
def put(name, text):
    open(os.path.join(d, name), "wb").write(text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape"))
hdr = lambda extra="": f"From: {S} <evil@example.org>\nTo: {S}\nSubject: {S}\nMessage-ID: <{S}@x>\nIn-Reply-To: <{S}>\nDate: Sun, 6 Dec 2026 10:00:00 +0000\nX-Evil: {S}\nMIME-Version: 1.0\n{extra}"
# Deep nesting: 300 levels of multipart/mixed.
depth = 300
body = "".join(f'--b{i}\nContent-Type: multipart/mixed; boundary="b{i+1}"\n\n' for i in range(depth))
body += f"--b{depth}\nContent-Type: text/plain\n\ninnermost {S}\n--b{depth}--\n"
body += "".join(f"--b{i}--\n" for i in reversed(range(depth)))
put("deep.eml", hdr('Content-Type: multipart/mixed; boundary="b0"\n') + "\n" + body)
# A 1 MB header line.
put("longheader.eml", hdr() + "X-Long: " + ("A<b>" * 262144) + "\n\nbody\n")
# 10,000 parts.
parts = "".join(f"--p\nContent-Type: text/plain; charset=x-no-such-charset\n\npart {i} {S}\n" for i in range(10000))
put("manyparts.eml", hdr('Content-Type: multipart/mixed; boundary="p"\n') + "\n" + parts + "--p--\n")
# Bad charsets and bytes that decode to nothing.
put("charsets.eml", (hdr("Content-Type: text/plain; charset=iso-2022-jp\n") + "\n").encode() + b"\x1b$B\xff\xfe\x00\x01 " + S.encode() + b"\n\xc3\x28 invalid utf-8\n")
put("badutf8.eml", hdr("Content-Type: text/plain; charset=utf-8\nSubject2: =?utf-8?b?/w==?=\n").encode() + b"\n\xff\xfe\xfd\xed\xa0\x80 <script>\n")
# Attachments with hostile names and types.
att = ""
for i, (name, typ) in enumerate([("../../../etc/passwd", "text/html"), ("..\\..\\x.exe", "application/x-msdownload"),
                                 ("a\x00b.html", "image/svg+xml"), ("/abs/path", "text/html"),
                                 (S, "application/xhtml+xml"), ("=?utf-8?q?=2E=2E=2Fq.html?=", "text/javascript")]):
    att += f'--a\nContent-Type: {typ}; name="{name}"\nContent-Disposition: attachment; filename="{name}"\n\n<script>alert({i})</script><svg onload=alert(1)>\n'
put("attachments.eml", hdr('Content-Type: multipart/mixed; boundary="a"\n') + f"\n--a\nContent-Type: text/plain\n\nsee attached {S}\n" + att + "--a--\n")
# HTML only, with script, styles, event handlers and javascript: links.
put("html.eml", hdr("Content-Type: text/html; charset=utf-8\n") + f'\n<html><head><script>evil()</script><style>body{{}}</style></head><body onload="evil()"><a href="javascript:evil()">click</a> <p>{S}</p><iframe src="x"></iframe></body></html>\n')
# An attached message whose headers are hostile, and a URL that tries to break out.
put("rfc822.eml", hdr('Content-Type: multipart/mixed; boundary="m"\n') + f'\n--m\nContent-Type: text/plain\n\nhttp://example.org/"><script>x()</script> and https://e.org/a<b\n--m\nContent-Type: message/rfc822\n\n{hdr()}\ninner {S}\n--m--\n')
PY
for f in "$HERALD_TOP"/tests/data/mime/mailparse/*.txt "$HERALD_TOP"/tests/data/mime/mailparse/oeuue \
	 "$HERALD_TOP"/tests/data/mime/nodemailer-mailparser/*.eml \
	 "$HERALD_TOP"/tests/data/mime/gmime/partial/input/*/*.eml \
	 "$HERALD_TOP"/tests/data/notmuch/broken/* "$HERALD_TOP"/tests/data/notmuch/mangling/*; do
	[ -f "$f" ] && cp "$f" "$D/$(basename "$(dirname "$f")")-$(basename "$f")"
done
n=$(ls "$D" | wc -l)
diag "$n hostile messages"
touch "$T_DIR/before"

# One by one through archive add, then all at once through import.
added=0
for f in "$D"/*; do
	"$HERALD" --var "$V" archive add $L <"$f" >/dev/null 2>"$T_DIR/add.err" && added=$((added + 1)) ||
		diag "add $(basename "$f"): $(head -1 "$T_DIR/add.err")"
done
check "every hostile message is archived by archive add ($added of $n)" test $added = $n
python3 - "$D" "$T_DIR/hostile.mbox" <<'PY'
import os, sys
out = open(sys.argv[2], "wb")
for name in sorted(os.listdir(sys.argv[1])):
    data = open(os.path.join(sys.argv[1], name), "rb").read().replace(b"\r\n", b"\n")
    out.write(b"From hostile@example.org  Sun Dec  6 10:00:00 2026\n")
    for line in data.split(b"\n"):
        if line.lstrip(b">").startswith(b"From "):
            line = b">" + line
        out.write(line + b"\n")
    out.write(b"\n")
PY
check "the hostile mbox imports" "$HERALD" --var "$V" archive import $L "$T_DIR/hostile.mbox"
check "the archive counts every message twice" test "$(grep '^next ' "$V/archives/$L/state")" = "next $((2 * n))"
check "archive check finds nothing to repair" "$HERALD" --var "$V" archive check $L
H=$("$HERALD" --var "$V" archive path $L)

# No file written since "before" outside the archive's folders (and the
# locks, logs and the var dir's own bookkeeping).
outside=$(find "$T_DIR" -newer "$T_DIR/before" -type f ! -path "$V/archives/*" ! -path "$V/locks/*" \
	! -path "$V/logs/*" ! -path "$T_DIR/add.err" ! -path "$T_DIR/hostile.mbox" ! -path "$T_DIR/sanitizer*" | head -5)
check "no file written outside the archive (${outside:-none})" test -z "$outside"
bad_names=$(find "$H/attachments" -type f | grep -Ev '/attachments/[0-9]{8}/[0-9a-f]{8}/attachment(-[0-9]{4})?\.[a-z0-9]+$' | head -3)
check "attachments have herald's names only (${bad_names:-ok})" test -z "$bad_names"
check "no attachment is served as HTML or script" test -z "$(find "$H/attachments" -name '*.htm*' -o -name '*.svg' -o -name '*.js' -o -name '*.xht*')"

# Every page parses, and holds only herald's own markup.
pages=$(find "$H" -name '*.html' | wc -l)
diag "$pages pages"
check "every page parses with libxml2's HTML parser" bash -c "find '$H' -name '*.html' -print0 | xargs -0 -n 200 xmllint --html --noout 2>&1 | grep -v 'Tag .* invalid' | (! grep .)"
check "no page has markup that did not come from herald" python3 - "$H" <<'PY'
import os, sys
from html.parser import HTMLParser
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "p", "b", "i", "br", "ul", "li", "a", "hr", "pre", "span", "table", "tr", "th", "td"}
ATTRS = {"charset", "lang", "class", "id", "href", "rel", "data-count"}
bad = []
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        if tag not in TAGS:
            bad.append((self.path, tag))
        for k, v in attrs:
            if k not in ATTRS:
                bad.append((self.path, tag, k))
            if k == "href" and ":" in v.split("/")[0] and not v.startswith(("http:", "https:", "ftp:")):
                bad.append((self.path, k, v))
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f.endswith(".html"):
            p = P()
            p.path = os.path.join(root, f)
            p.feed(open(p.path, encoding="utf-8", errors="strict").read())
            p.close()
for b in bad[:5]:
    print("#", b)
sys.exit(1 if bad else 0)
PY
check "the text of a <script> subject is shown, escaped" grep -rq '&lt;script&gt;alert(1)&lt;/script&gt;' "$H"
check "undecodable bytes become U+FFFD" grep -rq $'\xef\xbf\xbd' "$H"
t_done
