#!/usr/bin/env python3
"""fakenntp.py - a small NNTP server for the gateway's fault tests: the
faults a real server will not produce on demand.

    fakenntp.py DIR PORTFILE

serves one group, test.herald, on a free port of 127.0.0.1 (written to
PORTFILE).  Its state lives in DIR, read afresh on each command so that a
test can change it between runs:
    DIR/articles/N     the group's article number N (GROUP reports the
                       lowest and highest N there)
    DIR/post-answers   one answer a line, used up in order by the POSTs
                       that follow ("441 try later", "502 go away"); a
                       POST with none left gets 240 (or 441 435 Duplicate
                       for a Message-ID it has); STAT <id> answers 223 for
                       a Message-ID it has, 430 for any other
    DIR/delay          seconds to wait before each ARTICLE answer
    DIR/drop           an article number: ARTICLE of it sends the status
                       and half the article, then closes the connection
    DIR/flood          a byte count: a connection gets that many bytes
                       with no line end instead of the greeting
    DIR/drip           seconds: the greeting goes out a byte at a time,
                       that long between bytes
    DIR/posted/K       what each accepted POST carried (K = 1, 2, ...)
    DIR/log            every command line received
"""
import os
import re
import socket
import sys
import threading
import time

D, PORTFILE = sys.argv[1], sys.argv[2]
lock = threading.Lock()


def path(*p):
    return os.path.join(D, *p)


def read(p, default=""):
    try:
        with open(path(p), "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return default


def numbers():
    try:
        return sorted(int(n) for n in os.listdir(path("articles")) if n.isdigit())
    except FileNotFoundError:
        return []


def next_post_answer():
    with lock:
        lines = read("post-answers").splitlines()
        if not lines:
            return None
        with open(path("post-answers"), "w") as f:
            f.write("".join(l + "\n" for l in lines[1:]))
        return lines[0]


def posted_ids():
    ids = set()
    for n in os.listdir(path("posted")):
        m = re.search(r"(?mi)^Message-ID:\s*(\S+)", read(os.path.join("posted", n)))
        if m:
            ids.add(m.group(1))
    return ids


def serve(conn):
    f = conn.makefile("rwb")

    def say(line):
        f.write(line.encode() + b"\r\n")
        f.flush()

    flood = read("flood").strip()
    if flood:
        chunk = b"x" * 65536
        left = int(flood)
        try:
            while left > 0:
                f.write(chunk[:left])
                left -= len(chunk)
            f.flush()
        except OSError:
            pass
        return
    drip = read("drip").strip()
    if drip:
        try:
            for b in b"200 fakenntp ready, slowly\r\n":
                f.write(bytes([b]))
                f.flush()
                time.sleep(float(drip))
        except OSError:
            return
    else:
        say("200 fakenntp ready")
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line.decode("utf-8", "replace").rstrip("\r\n")
        with lock, open(path("log"), "a") as log:
            log.write(cmd + "\n")
        word = cmd.split(" ")[0].upper()
        if word == "QUIT":
            say("205 bye")
            return
        if word == "MODE":
            say("200 reader")
        elif word == "GROUP":
            ns = numbers()
            if ns:
                say("211 %d %d %d test.herald" % (len(ns), ns[0], ns[-1]))
            else:
                say("211 0 1 0 test.herald")
        elif word == "ARTICLE":
            n = cmd.split(" ")[1]
            delay = read("delay").strip()
            if delay:
                time.sleep(float(delay))
            text = read(os.path.join("articles", n), None)
            if text is None:
                say("423 no such article")
                continue
            say("220 %s <x> article" % n)
            body = "".join("." + l + "\r\n" if l.startswith(".") else l + "\r\n"
                           for l in text.split("\n")[:-1])
            if read("drop").strip() == n:
                f.write(body[: len(body) // 2].encode())
                f.flush()
                return
            f.write(body.encode() + b".\r\n")
            f.flush()
        elif word == "STAT":
            mid = cmd.split(" ")[1] if " " in cmd else ""
            if mid in posted_ids():
                say("223 0 %s" % mid)
            else:
                say("430 no such article")
        elif word == "POST":
            answer = next_post_answer()
            if answer is not None and not answer.startswith("240"):
                if answer.startswith("drop"):
                    return
                # A refusal before the article (RFC 3977: 440) or after
                # it: this server takes the article and refuses then.
                say("340 send it")
                read_article(f)
                say(answer)
                continue
            say("340 send it")
            art = read_article(f)
            m = re.search(r"(?mi)^Message-ID:\s*(\S+)", art)
            if m and m.group(1) in posted_ids():
                say("441 435 Duplicate")
                continue
            with lock:
                k = len(os.listdir(path("posted"))) + 1
                with open(path("posted", str(k)), "w") as out:
                    out.write(art)
            say("240 article posted")
        else:
            say("500 what?")


def read_article(f):
    lines = []
    while True:
        l = f.readline()
        if not l:
            break
        l = l.decode("utf-8", "replace").rstrip("\r\n")
        if l == ".":
            break
        lines.append(l[1:] if l.startswith("..") else l)
    return "\n".join(lines) + "\n"


def main():
    os.makedirs(path("posted"), exist_ok=True)
    os.makedirs(path("articles"), exist_ok=True)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    with open(PORTFILE + ".tmp", "w") as p:
        p.write(str(s.getsockname()[1]))
    os.rename(PORTFILE + ".tmp", PORTFILE)
    while True:
        c, _ = s.accept()
        threading.Thread(target=lambda: (serve(c), c.close()), daemon=True).start()


main()
