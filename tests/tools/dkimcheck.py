#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""dkimcheck.py - verify DKIM signatures and ARC chains of messages with
python3-dkim (dkimpy), the independent verifier of herald's tests.

  dkimcheck.py [--dns ADDR:PORT | --txt NAME=RECORD ...] [--arc] FILE...

Keys come from the DNS server given (dnsmasq on loopback in the tests) or
from --txt pairs.  Prints one line per file: "FILE dkim=pass d=DOMAIN
h=HEADERS" for each signature (pass or fail), and with --arc "FILE
arc=pass|fail|none".  Exits 1 when any signature or chain fails."""
import sys

import dkim


def make_dnsfunc(server, txts):
    if txts is not None:
        def lookup(name, timeout=5):
            return txts.get(name.decode().rstrip('.').lower(), b'')
        return lookup
    import dns.resolver
    res = dns.resolver.Resolver(configure=False)
    addr, _, port = server.partition(':')
    res.nameservers = [addr]
    res.port = int(port or 53)

    def lookup(name, timeout=5):
        try:
            ans = res.resolve(name.decode().rstrip('.'), 'TXT', lifetime=timeout)
        except Exception:
            return b''
        for rr in ans:
            return b''.join(rr.strings)
        return b''
    return lookup


def main(argv):
    server, txts, arc, files = None, None, False, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == '--dns':
            server = argv[i + 1]
            i += 1
        elif a == '--txt':
            txts = txts or {}
            name, _, rec = argv[i + 1].partition('=')
            txts[name.rstrip('.').lower()] = rec.encode()
            i += 1
        elif a == '--arc':
            arc = True
        else:
            files.append(a)
        i += 1
    dnsfunc = make_dnsfunc(server, txts)
    bad = 0
    for f in files:
        msg = open(f, 'rb').read()
        d = dkim.DKIM(msg)
        sigs = [v for (k, v) in d.headers if k.lower() == b'dkim-signature']
        for idx in range(len(sigs)):
            try:
                ok = d.verify(idx=idx, dnsfunc=dnsfunc)
                tags = dkim.util.parse_tag_value(sigs[idx])
            except Exception as e:
                print('%s dkim=permerror %s' % (f, e))
                bad = 1
                continue
            h = b''.join(tags.get(b'h', b'').split()).decode()
            print('%s dkim=%s d=%s a=%s h=%s' % (f, 'pass' if ok else 'fail',
                  tags.get(b'd', b'').decode(), tags.get(b'a', b'').decode(), h))
            bad |= not ok
        if not sigs:
            print('%s dkim=none' % f)
            bad = 1
        if arc:
            cv, results, why = dkim.arc_verify(msg, dnsfunc=dnsfunc)
            print('%s arc=%s %s' % (f, cv.decode(), why))
            bad |= cv != b'pass'
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
