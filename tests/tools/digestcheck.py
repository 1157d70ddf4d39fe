#!/usr/bin/env python3
# digestcheck.py - an independent reader of herald's digests (Python's
# email package, not GMime): checks a MIME digest (RFC 2046) or a plain
# one (RFC 1153) and prints one line per post it holds, "Message-ID
# Subject", so that tests can count posts across digests.
#
#   digestcheck.py mime FILE...    FILE: a message, or a queue entry
#   digestcheck.py plain FILE...   (either: a Maildir file, say)
# Exit 1 with the reason on standard error when a digest is malformed.
import email, email.policy, re, sys

MIME_KEEP = {"date", "from", "to", "cc", "subject", "message-id", "keywords",
             "in-reply-to", "references", "reply-to", "mime-version"}
PLAIN_ORDER = ["Date", "From", "To", "Cc", "Subject", "Message-ID", "Keywords"]
SEP = "-" * 30
RULE = "-" * 70


def fail(why):
    sys.stderr.write("digestcheck: %s\n" % why)
    sys.exit(1)


def load(path):
    data = open(path, "rb").read()
    # A queue entry (docs/formats.md): "herald-queue 1", key: value lines
    # ending with "size: N", a blank line, N bytes of message.
    if data.startswith(b"herald-queue 1\n"):
        m = re.search(rb"\nsize: (\d+)\n\n", data)
        if not m:
            fail("%s: a queue entry without size" % path)
        data = data[m.end():m.end() + int(m.group(1))]
    return email.message_from_bytes(data, policy=email.policy.default)


def check_common(msg, path):
    subj = str(msg["subject"] or "")
    if not re.fullmatch(r".+ Digest, Vol \d+, Issue \d+", subj):
        fail("%s: Subject %r is not a digest's" % (path, subj))
    for h in ("List-Id", "List-Unsubscribe", "From", "To", "Date", "Message-ID"):
        if msg[h] is None:
            fail("%s: no %s" % (path, h))
    return subj


def check_mime(path):
    msg = load(path)
    check_common(msg, path)
    if msg.get_content_type() != "multipart/mixed":
        fail("%s: top is %s" % (path, msg.get_content_type()))
    digests = [p for p in msg.iter_parts() if p.get_content_type() == "multipart/digest"]
    if len(digests) != 1:
        fail("%s: %d multipart/digest parts" % (path, len(digests)))
    toc = [p for p in msg.iter_parts()
           if p.get_content_type() == "text/plain" and "Today's Topics" in p.get_content()]
    if len(toc) != 1:
        fail("%s: no table of contents" % path)
    posts = list(digests[0].iter_parts())
    entries = re.findall(r"(?m)^ *(\d+)\. ", toc[0].get_content())
    if [int(e) for e in entries] != list(range(1, len(posts) + 1)):
        fail("%s: the table lists %s for %d posts" % (path, entries, len(posts)))
    for p in posts:
        if p.get_content_type() != "message/rfc822":
            fail("%s: a %s in the digest" % (path, p.get_content_type()))
        inner = p.get_content()
        for k in inner.keys():
            if k.lower() not in MIME_KEEP and not k.lower().startswith("content-"):
                fail("%s: header %s kept" % (path, k))
        print("%s %s" % (inner["message-id"], inner["subject"]))


def check_plain(path):
    msg = load(path)
    subj = check_common(msg, path)
    if msg.get_content_type() != "text/plain" or msg.is_multipart():
        fail("%s: a plain digest is %s" % (path, msg.get_content_type()))
    text = msg.get_content()
    lines = text.split("\n")
    if RULE not in lines:
        fail("%s: no line of 70 dashes after the table" % path)
    body = lines[lines.index(RULE) + 1:]
    # RFC 1153: messages separated by exactly 30 dashes, each a header
    # block (in RFC 1153's order), a blank line and the text.
    chunks, cur = [], []
    for line in body:
        if line == SEP:
            chunks.append(cur)
            cur = []
        else:
            cur.append(line)
    trailer = [l for l in cur if l]
    end = "End of " + subj
    if trailer[:1] != [end] or trailer[1:2] != ["*" * len(end)]:
        fail("%s: ends with %r, not %r and asterisks" % (path, trailer[:2], end))
    n = 0
    for c in chunks:
        while c and c[0] == "":
            c = c[1:]
        if not c:
            fail("%s: an empty section" % path)
        if c[0].startswith("Subject: Digest Footer"):
            continue
        n += 1
        if c[0] != "Message: %d" % n:
            fail("%s: section %d starts %r" % (path, n, c[0]))
        names, fields = [], {}
        for line in c[1:]:
            if line == "":
                break
            k, _, v = line.partition(": ")
            names.append(k)
            fields[k] = v
        order = [h for h in PLAIN_ORDER if h in names]
        if names != order:
            fail("%s: message %d headers %s, not in RFC 1153 order" % (path, n, names))
        print("%s %s" % (fields.get("Message-ID", "-"), fields.get("Subject", "")))
    if n == 0:
        fail("%s: no messages" % path)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("mime", "plain"):
        fail("usage: digestcheck.py mime|plain FILE...")
    for f in sys.argv[2:]:
        (check_mime if sys.argv[1] == "mime" else check_plain)(f)
