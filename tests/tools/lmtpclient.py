#!/usr/bin/env python3
"""lmtpclient.py - a misbehaving LMTP client for tests/integration/lmtp-limits.sh.

    lmtpclient.py ADDRESS SCENARIO [ARG...]

ADDRESS is unix:PATH or HOST:PORT.  Each scenario prints what it saw as
"key=value" lines (and the server's replies as "reply=..." lines) for the
shell test to assert on; it never decides pass or fail itself.  The
listener's pid (for the session processes and their memory) comes from
$LMTP_PID where a scenario needs it.

Scenarios:
  flood N HOLD RELEASE   open N connections at once; print how many were
                         greeted 220 and how many 421, and whether each 421
                         came with the connection closed; keep the greeted
                         ones open until the file RELEASE exists (at most
                         HOLD seconds), so the shell can count processes
  idle WAIT              greeting, LHLO, then nothing: print the next reply
                         and when it came (seconds), or "none" after WAIT
  trickle WAIT           a transaction, then the message one byte a second:
                         print what the server says and when
  dataline MB            a transaction, then MB megabytes without a line
                         feed, then CRLF.CRLF: the reply, the largest VmHWM
                         (kB) of a session process, and a NOOP after it
  cmdline MB             MB megabytes of a command line without a line
                         feed, then CRLF: the reply, then a NOOP's; the
                         largest session VmHWM
  cutdata                a transaction, half a message, then close
  stopdata GO            a transaction, half a message; print
                         "state=in-data", wait for the file GO, then send the
                         rest and print every reply until the server closes
  send N RCPT...         N messages, each to every RCPT, in one session:
                         each final reply printed as "final=CODE ID"
  errors N               N unknown commands: the replies' codes
  commands N             N NOOPs: the replies' codes
  lhlo                   greeting, LHLO: the reply's lines
"""
import os
import socket
import sys
import time


def connect(addr, timeout=30):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(addr[5:])
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=timeout)
    return s


class Client:
    def __init__(self, addr, timeout=30):
        self.s = connect(addr, timeout)
        self.buf = b""

    def line(self):
        """One reply line without its CRLF; None when the server closed."""
        while b"\n" not in self.buf:
            try:
                data = self.s.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """A whole reply: its lines, the last one without '-'; [] at EOF."""
        lines = []
        while True:
            line = self.line()
            if line is None:
                return lines
            lines.append(line)
            if line[3:4] != "-":
                return lines

    def closed(self, wait=3):
        """Whether the server closes the connection within wait seconds."""
        self.s.settimeout(wait)
        try:
            return self.line() is None
        except (socket.timeout, OSError):
            return False

    def code(self):
        r = self.reply()
        return int(r[-1][:3]) if r else 0

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def cmd(self, c):
        try:
            self.send(c + "\r\n")
            return self.reply()
        except OSError:
            return []

    def transaction(self, rcpts=("demo@example.org",)):
        assert self.code() == 220
        assert self.code_of("LHLO test.example") == 250
        assert self.code_of("MAIL FROM:<alice@example.org>") == 250
        for r in rcpts:
            assert self.code_of("RCPT TO:<%s>" % r) == 250
        assert self.code_of("DATA") == 354

    def code_of(self, c):
        r = self.cmd(c)
        return int(r[-1][:3]) if r else 0


def sessions():
    """The session processes: the children of $LMTP_PID."""
    parent = os.environ.get("LMTP_PID", "")
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[1] == parent:
            out.append(int(pid))
    return out


def session_hwm_kb():
    hwm = 0
    for pid in sessions():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
        except OSError:
            pass
    return hwm


def send_line(c, mb):
    """mb megabytes of 'x', no line feed; the sessions' VmHWM after."""
    chunk = b"x" * (1 << 20)
    try:
        for _ in range(mb):
            c.send(chunk)
    except OSError as e:
        out("send_error", e)
    return session_hwm_kb()


MESSAGE = (b"From: alice@example.org\r\nTo: demo@example.org\r\n"
           b"Subject: limits\r\n\r\n"
           b"first line of a message that will be cut short\r\n"
           b"..a stuffed line\r\n")


def out(key, value):
    print("%s=%s" % (key, value), flush=True)


def main():
    addr, scenario, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if scenario == "flood":
        n, hold, release = int(args[0]), float(args[1]), args[2]
        socks = []
        for _ in range(n):
            try:
                socks.append(connect(addr, 10))
            except OSError as e:
                out("connect_error", e)
        greeted, refused, refused_closed = [], 0, 0
        for s in socks:
            c = Client.__new__(Client)
            c.s, c.buf = s, b""
            r = c.reply()
            code = int(r[-1][:3]) if r else 0
            if code == 220:
                greeted.append(c)
            elif code == 421:
                refused += 1
                if c.closed():
                    refused_closed += 1
                out("refusal", r[-1])
        out("greeted", len(greeted))
        out("refused", refused)
        out("refused_closed", refused_closed)
        end = time.time() + hold
        while time.time() < end and not os.path.exists(release):
            time.sleep(0.1)
        for c in greeted:
            c.s.close()
    elif scenario == "idle":
        c = Client(addr, float(args[0]) + 5)
        c.reply()
        c.cmd("LHLO idle.example")
        t0 = time.time()
        try:
            r = c.reply()
        except socket.timeout:
            r = []
        out("after", "%.1f" % (time.time() - t0))
        out("reply", r[-1] if r else "none")
        out("closed", "yes" if r and c.closed() else "no")
    elif scenario == "trickle":
        c = Client(addr, 5)
        c.transaction()
        t0 = time.time()
        wait = float(args[0])
        body = MESSAGE * 100
        r, i = [], 0
        while time.time() - t0 < wait:
            try:
                c.send(body[i:i + 1])
            except OSError:
                break
            i += 1
            c.s.settimeout(1.0)
            try:
                r = c.reply()
            except socket.timeout:
                continue
            break
        out("after", "%.1f" % (time.time() - t0))
        out("sent", i)
        out("reply", r[-1] if r else "none")
    elif scenario in ("dataline", "cmdline"):
        mb = int(args[0])
        c = Client(addr, 120)
        if scenario == "dataline":
            c.transaction()
        else:
            c.reply()
            c.cmd("LHLO long.example")
        hwm = send_line(c, mb)
        try:
            c.send(b"\r\n.\r\n" if scenario == "dataline" else b"\r\n")
            r = c.reply()
        except OSError:
            r = []
        out("reply", r[-1] if r else "none")
        out("hwm_kb", max(hwm, session_hwm_kb()))
        out("noop", c.code_of("NOOP"))
    elif scenario == "cutdata":
        c = Client(addr, 10)
        c.transaction()
        c.send(MESSAGE)
        time.sleep(0.3)
        c.s.close()
        out("state", "closed-in-data")
    elif scenario == "stopdata":
        go = args[0]
        c = Client(addr, 60)
        c.transaction()
        c.send(MESSAGE)
        out("state", "in-data")
        end = time.time() + 30
        while not os.path.exists(go) and time.time() < end:
            time.sleep(0.05)
        time.sleep(0.5)
        try:
            c.send(b"the rest of it\r\n.\r\n")
        except OSError as e:
            out("send_error", e)
        while True:
            r = c.reply()
            if not r:
                break
            out("reply", r[-1])
        out("closed", "yes")
    elif scenario == "send":
        n, rcpts = int(args[0]), args[1:]
        c = Client(addr, 30)
        c.reply()
        c.cmd("LHLO send.example")
        for i in range(n):
            c.cmd("MAIL FROM:<alice@example.org>")
            ok = [r for r in rcpts if c.code_of("RCPT TO:<%s>" % r) == 250]
            if not ok:
                continue
            c.cmd("DATA")
            c.send(b"From: alice@example.org\r\nSubject: %d\r\n\r\n"
                   b"message %d\r\n.\r\n" % (i, i))
            for _ in ok:
                r = c.reply()
                words = r[-1].split() if r else ["0"]
                out("final", "%s %s" % (words[0], words[-1]))
        c.cmd("QUIT")
    elif scenario in ("errors", "commands"):
        n = int(args[0])
        c = Client(addr, 10)
        c.reply()
        c.cmd("LHLO count.example")
        codes = []
        for _ in range(n):
            try:
                c.send("BOGUS\r\n" if scenario == "errors" else "NOOP\r\n")
            except OSError:
                pass    # closed: what it said before is still to read
            r = c.reply()
            if not r:
                break
            codes.append(r[-1][:3])
            if codes[-1] == "421":
                break
        out("codes", " ".join(codes))
        out("closed", "yes" if c.closed() else "no")
    elif scenario == "lhlo":
        c = Client(addr, 10)
        c.reply()
        for line in c.cmd("LHLO probe.example"):
            out("reply", line)
    else:
        sys.exit("unknown scenario " + scenario)


if __name__ == "__main__":
    main()
