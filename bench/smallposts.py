#!/usr/bin/env python3
# bench/smallposts.py - the timing half of bench/bench-smallposts.sh: hands
# posts to one entry as fast as it accepts them and waits until smtp-sink
# has seen every recipient.
#
#   smallposts.py SINK_LOG RCPTS MSGDIR N pipe CMD...    CMD < post, N times
#   smallposts.py SINK_LOG RCPTS MSGDIR N lmtp SOCKET    one LMTP session,
#                                                        N transactions
# SMALLPOSTS_CONCURRENCY=K hands posts over K at a time, as an MTA runs
# K deliveries to one transport at once (K commands at a time; K LMTP
# sessions, each with its share of the posts).  Default 1.
#
# SINK_LOG is smtp-sink's -v output (one "rcpt TO:" line per recipient,
# "data" and "." per transaction).  All RCPTS are "at the sink" when that
# many rcpt lines were seen and every DATA has had its ".": a recipient
# counts only once its transaction is complete.  Prints one line:
#   accept_s=A total_s=T rcpts=R
# accept_s: from the first post handed over until the entry accepted the
# last one (exit status 0, or 250); total_s: until the sink had them all.
import os
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

RCPT = re.compile(rb"smtp-sink: rcpt to:", re.M | re.I)
DATA = re.compile(rb"smtp-sink: data$", re.M | re.I)
DOT = re.compile(rb"smtp-sink: \.$", re.M)


class Sink:
    """Reads smtp-sink's verbose log as it grows."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.buf = b""
        self.rcpts = self.datas = self.dots = 0

    def poll(self):
        chunk = self.f.read()
        if not chunk:
            return
        self.buf += chunk
        # Only whole lines count; the counters (-c) end theirs in \r.
        cut = self.buf.rfind(b"\n") + 1
        lines, self.buf = self.buf[:cut].replace(b"\r", b"\n"), self.buf[cut:]
        self.rcpts += len(RCPT.findall(lines))
        self.datas += len(DATA.findall(lines))
        self.dots += len(DOT.findall(lines))

    def complete(self, want):
        self.poll()
        return self.rcpts >= want and self.dots >= self.datas


def lmtp_session(sock_path, posts):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    f = s.makefile("rb")

    def reply():
        while True:
            line = f.readline()
            if not line:
                raise SystemExit("LMTP server closed the connection")
            if line[3:4] != b"-":
                return int(line[:3])

    def cmd(c, want):
        s.sendall(c)
        code = reply()
        if code != want:
            raise SystemExit("LMTP %r answered %d" % (c, code))

    if reply() != 220:
        raise SystemExit("no LMTP greeting")
    cmd(b"LHLO bench\r\n", 250)
    for body in posts:
        cmd(b"MAIL FROM:<member1@example.net>\r\n", 250)
        cmd(b"RCPT TO:<bench@lists.test>\r\n", 250)
        cmd(b"DATA\r\n", 354)
        lines = body.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
        data = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                        for l in lines)
        cmd(data + b".\r\n", 250)	# one reply: one recipient
    s.sendall(b"QUIT\r\n")
    reply()
    s.close()


def main():
    sink_log, rcpts, msgdir, n, mode = sys.argv[1:6]
    rest = sys.argv[6:]
    rcpts, n = int(rcpts), int(n)
    posts = [open(os.path.join(msgdir, str(i + 1)), "rb").read()
             for i in range(n)]
    sink = Sink(sink_log)
    sink.poll()
    if sink.rcpts:
        raise SystemExit("the sink log is not fresh")
    conc = int(os.environ.get("SMALLPOSTS_CONCURRENCY", "1"))
    t0 = time.monotonic()
    if mode == "pipe":
        def one(p):
            return subprocess.run(rest, input=p).returncode
        with ThreadPoolExecutor(max_workers=conc) as pool:
            for rc in pool.map(one, posts):
                if rc != 0:
                    raise SystemExit("%s exited %d" % (rest[0], rc))
    elif mode == "lmtp":
        threads = [threading.Thread(target=lmtp_session,
                                    args=(rest[0], posts[k::conc]))
                   for k in range(conc)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        raise SystemExit("unknown mode " + mode)
    t1 = time.monotonic()
    deadline = t1 + 120
    while not sink.complete(rcpts):
        if time.monotonic() > deadline:
            raise SystemExit("timeout: the sink has %d of %d recipients"
                             % (sink.rcpts, rcpts))
        time.sleep(0.002)
    t2 = time.monotonic()
    print("accept_s=%.3f total_s=%.3f rcpts=%d" % (t1 - t0, t2 - t0,
                                                     sink.rcpts))


if __name__ == "__main__":
    main()
