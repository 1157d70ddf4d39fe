#!/usr/bin/env python3
# archive-gen.py N OUT.mbox [SEED] - a realistic list archive for
# bench/archive.sh: N messages over about eight years (monthly periods of
# ~1,000), in threads (a third start one; replies pick a recent message,
# with In-Reply-To and References), from ~2,000 authors (some with
# RFC 2047 names), bodies of 5 to 80 lines of words with quoted lines and
# URLs (common words and a Zipf-distributed vocabulary), one in 20 with an attachment (base64), one in 50 HTML only.  The
# mbox is mboxrd-quoted.  Deterministic for a seed.
import base64, random, sys, time

n = int(sys.argv[1])
out = open(sys.argv[2], "w", encoding="utf-8", newline="\n")
rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 13)

words = ("the of and to in is that for it as with was on be by this are "
         "from at or an but not have which they you were all we one there "
         "can more when so what about out if up other into time some could "
         "kernel patch build list mail archive thread config server release "
         "bug fix test module driver memory network socket buffer header "
         "python compile error warning version update install package debian "
         "herald mailman postfix queue runner lock file system user admin").split()
# Beyond the common words, a Zipf-distributed vocabulary of 20,000 made-up
# words, as real text has: most words are rare.
syll = "ka lo mi ne ru sa te vo bi da fe gu hi jo ku li ma no pe qu ra si tu va we xi yo zu".split()
vocab = sorted({"".join(rnd.choice(syll) for _ in range(rnd.randint(2, 4))) for _ in range(25000)})[:20000]
rnd.shuffle(vocab)
zipf_cum = list(__import__('itertools').accumulate(1.0 / (i + 1) for i in range(len(vocab))))
first = "Anna Bob Carla Dmitri Eve Farid Greta Hiro Ines Jan Kofi Lena Mateo Nadia Olaf Priya Quinn Rosa Sven Tomás Ulla Vikram Wen Xavier Yuki Zoë".split()
last = "Smith Müller Rossi Dubois Kowalski Nakamura Okafor Silva Jensen Novak Garcia Ivanov Chen Haddad Larsen".split()
authors = []
for i in range(2000):
    f, l = rnd.choice(first), rnd.choice(last)
    name = f"{f} {l}"
    addr = f"{f.lower()}.{l.lower()}{i}@example{i % 40}.org".encode("ascii", "replace").decode()
    addr = addr.replace("?", "x")
    if not name.isascii():
        name = "=?utf-8?b?" + base64.b64encode(name.encode()).decode() + "?="
    authors.append((name, addr))

def sentence():
    k = rnd.randint(6, 14)
    common = [rnd.choice(words) for _ in range(k)]
    rare = rnd.choices(vocab, cum_weights=zipf_cum, k=k)
    return " ".join(c if rnd.random() < 0.6 else r for c, r in zip(common, rare))

def body(quote):
    lines = []
    if quote:
        lines.append("On a day, someone wrote:")
        lines += ["> " + sentence() for _ in range(rnd.randint(1, 6))]
        lines.append("")
    for _ in range(rnd.randint(5, 80)):
        r = rnd.random()
        if r < 0.03:
            lines.append(f"See https://example.org/{rnd.choice(words)}/{rnd.randint(1, 9999)} for more.")
        elif r < 0.1:
            lines.append("")
        elif r < 0.11:
            lines.append("From the start, " + sentence())
        else:
            lines.append(sentence())
    return "\n".join(lines) + "\n"

t = int(time.mktime((2018, 1, 1, 0, 0, 0, 0, 0, 0)))
step = (8 * 365 * 86400) // max(n, 1)
msgs = []	# (id, subject, refs)
for i in range(n):
    t += rnd.randint(step // 2, step * 3 // 2)
    name, addr = rnd.choice(authors)
    mid = f"<{i}.{rnd.randint(0, 1 << 30)}@example.org>"
    hdr = [f"From: {name} <{addr}>",
           time.strftime("Date: %a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))]
    reply = bool(msgs) and rnd.random() > 0.33
    if reply:
        parent = msgs[max(0, len(msgs) - rnd.randint(1, 60))]
        subject = parent[1] if parent[1].startswith("Re: ") else "Re: " + parent[1]
        refs = (parent[2] + [parent[0]])[-10:]
        hdr += [f"In-Reply-To: {parent[0]}", "References: " + " ".join(refs)]
    else:
        subject = sentence()[:60].capitalize()
        refs = []
    hdr += [f"Subject: {subject}", f"Message-ID: {mid}", "MIME-Version: 1.0"]
    msgs.append((mid, subject, refs))
    text = body(reply)
    r = rnd.random()
    if r < 0.05:
        blob = base64.encodebytes(rnd.randbytes(rnd.randint(2000, 40000))).decode()
        hdr.append('Content-Type: multipart/mixed; boundary="b1"')
        msg = "\n".join(hdr) + "\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\n" + text + \
            "--b1\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"doc.pdf\"\n" \
            "Content-Transfer-Encoding: base64\n\n" + blob + "--b1--\n"
    elif r < 0.07:
        hdr.append("Content-Type: text/html; charset=utf-8")
        msg = "\n".join(hdr) + "\n\n<html><body><p>" + text.replace("\n", "<br>\n") + "</p></body></html>\n"
    else:
        hdr.append("Content-Type: text/plain; charset=utf-8")
        msg = "\n".join(hdr) + "\n\n" + text
    lines = []
    for line in msg.split("\n"):
        if line.lstrip(">").startswith("From "):
            line = ">" + line
        lines.append(line)
    out.write(time.strftime(f"From {addr}  %a %b %d %H:%M:%S %Y\n", time.gmtime(t)))
    out.write("\n".join(lines).rstrip("\n") + "\n\n")
out.close()
