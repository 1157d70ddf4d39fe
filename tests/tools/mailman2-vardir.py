#!/usr/bin/env python3
"""mailman2-vardir.py - writes a Mailman 2.1 var prefix for herald's import tests.

    mailman2-vardir.py OUT [--members N] [--messages N] [--passwords N]
                           [--held] [--list NAME] [--host HOST]

OUT/lists/NAME/config.pck is a pickle as Mailman 2.1 (Python 2, cPickle
protocol 1) wrote it: byte strings as Python 2's str (SHORT_BINSTRING /
BINSTRING, not Python 3's bytes), classes by Mailman's module names.  The
members cover every combination of Mailman's option bits (2 notmetoo, 4 ack,
8 plain digest, 16 hide, 128 moderate, 256 nodupes), the three delivery
modes and the four delivery statuses, with bounce info for those disabled
by bounces; --passwords of them have one (herald hashes each, which is
what costs).  The archive: archives/private/NAME.mbox/NAME.mbox and the
Pipermail pages archives/private/NAME/PERIOD/NNNNNN.html numbered from 0 in
mbox order, monthly periods.  --held adds two held posts (a pickled
email.Message: plain and multipart) named in lists/NAME/request.pck, a
subscription and an unsubscription awaiting approval, a held message file
no request names, and lists/NAME/pending.pck.

Everything is written by this script; no Mailman code is used.
"""
import argparse
import hashlib
import os
import pickle
import struct
import sys
import time
import types


def py2_modules():
    """Classes under Mailman's module names, so pickle names them so."""
    made = {}
    for modname, clsname in (("Mailman.Message", "Message"),
                             ("Mailman.Bouncer", "_BounceInfo"),
                             ("Mailman.UserDesc", "UserDesc")):
        pkg = sys.modules.setdefault("Mailman", types.ModuleType("Mailman"))
        mod = sys.modules.setdefault(modname, types.ModuleType(modname))
        cls = type(clsname, (), {})
        cls.__module__ = modname
        cls.__qualname__ = clsname
        setattr(mod, clsname, cls)
        setattr(pkg, modname.split(".")[1], mod)
        made[clsname] = cls
    return made


CLASSES = py2_modules()


class Py2Pickler(pickle._Pickler):
    """Writes bytes the way Python 2 wrote str."""
    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        if self.bin:
            if len(obj) < 256:
                self.write(b"U" + bytes([len(obj)]) + obj)
            else:
                self.write(b"T" + struct.pack("<i", len(obj)) + obj)
        else:
            self.write(b"S" + repr(obj)[1:].encode("ascii") + b"\n")
        self.memoize(obj)
    dispatch[bytes] = save_py2_str


def dump(obj, path, proto=1):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        Py2Pickler(f, proto).dump(obj)


def b(s):
    return s.encode("latin-1")


def instance(clsname, state):
    o = CLASSES[clsname]()
    o.__dict__.update(state)
    return o


MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]


def members(n_members, n_passwords):
    """Every option bit combination, mode and status, cycling."""
    regular, digest, opts, pw, names, lang, status, bounce = \
        {}, {}, {}, {}, {}, {}, {}, {}
    bits = [2, 4, 8, 16, 128, 256]
    for i in range(n_members):
        key = b("m%05d@example.org" % i)
        combo = sum(bit for k, bit in enumerate(bits) if (i >> k) & 1)
        mode = (i // 64) % 3 if n_members > 64 else i % 3
        st = (i // 3) % 4
        if mode == 0:
            combo &= ~8
            regular[key] = 0
        else:
            combo = (combo & ~8) | (8 if mode == 2 else 0)
            digest[key] = b("M%05d@Example.org" % i) if i % 5 == 0 else 0
        opts[key] = combo
        if i < n_passwords:
            pw[key] = b("pw%05d" % i)
        names[key] = b("Member \xe9 %d" % i)
        lang[key] = b("en" if i % 7 else "de")
        if st:
            mm_status = {1: 2, 2: 3, 3: 4}[st]
            status[key] = (mm_status, 1262304000.0 + i)
            if mm_status == 4:
                bounce[key] = instance("_BounceInfo", {
                    "member": key, "score": 5.0, "date": (2015, 3, 24),
                    "noticesleft": 2, "lastnotice": (2015, 3, 25),
                    "cookie": None})
    return regular, digest, opts, pw, names, lang, status, bounce


def config(name, host, n_members, n_passwords):
    regular, digest, opts, pw, names, lang, status, bounce = \
        members(n_members, n_passwords)
    return {
        b("real_name"): b(name.capitalize()),
        b("host_name"): b(host),
        b("owner"): [b("owner@example.org")],
        b("moderator"): [b("mod@example.org")],
        b("description"): b("A caf\xe9 list"),
        b("info"): b("Line one\nLine two"),
        b("password"): b(hashlib.sha1(b"adminpw").hexdigest()),
        b("mod_password"): b(hashlib.sha1(b"modpw").hexdigest()),
        b("post_password"): None,
        b("subject_prefix"): b("[%s] " % name),
        b("preferred_language"): b("en"),
        b("max_message_size"): 0,
        b("require_explicit_destination"): 0,
        b("generic_nonmember_action"): 1,
        b("accept_these_nonmembers"): [b("friend@example.net"), b("^.*@trusted\\.example$")],
        b("hold_these_nonmembers"): [b("hold@example.net")],
        b("reject_these_nonmembers"): [b("reject@example.net")],
        b("discard_these_nonmembers"): [b("discard@example.net")],
        b("header_filter_rules"): [(b"^subject: .*viagra\n^x-spam: yes", 3, False),
                                   (b"^x-hold: ", 7, False), (b"^x-ignore: ", 0, False)],
        b("ban_list"): [b("banned@example.net"), b("^.*@spam\\.example$")],
        b("acceptable_aliases"): b("\nalias@example.org\n"),
        b("bounce_info_stale_after"): 604800,
        b("bounce_you_are_disabled_warnings_interval"): 3 * 86400,
        b("bounce_score_threshold"): 5.0,
        b("digestable"): True,
        b("archive"): True,
        b("archive_private"): 1,
        b("archive_volume_frequency"): 1,
        b("new_member_options"): 256,
        b("gateway_to_news"): 0,
        b("topics"): [(b("Kernel"), b("kernel"), b("Kernel talk"), False),
                      (b("Web"), b("web|http"), b("The web"), False)],
        b("topics_userinterest"): {b("m00001@example.org"): [b("Kernel")],
                                   b("m00002@example.org"): [b("Kernel"), b("Web")]},
        b("web_page_url"): b("http://%s/mailman/" % host),
        b("post_id"): 1000.0,
        b("last_post_time"): 1262304000.0,
        b("created_at"): 1262304000.0,
        b("data_version"): 97,
        b("members"): regular,
        b("digest_members"): digest,
        b("user_options"): opts,
        b("passwords"): pw,
        b("usernames"): names,
        b("language"): lang,
        b("delivery_status"): status,
        b("bounce_info"): bounce,
    }


def message(i, name, host, t):
    tm = time.gmtime(t)
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", tm)
    return ("From m%05d@example.org %s\n"
            "From: Member %d <m%05d@example.org>\n"
            "To: %s@%s\n"
            "Subject: post %d\n"
            "Date: %s\n"
            "Message-ID: <post%d@example.org>\n"
            "\n"
            "Body of post %d.\n"
            "From here on a line that is not a separator.\n"
            "\n" % (i % 1000, time.asctime(tm), i % 1000, i % 1000, name,
                    host, i, date, i, i))


def archive(out, name, host, n):
    mbox_dir = os.path.join(out, "archives", "private", name + ".mbox")
    html = os.path.join(out, "archives", "private", name)
    os.makedirs(mbox_dir, exist_ok=True)
    t0 = 1230768000  # 2009-01-01
    step = max(1, (400 * 86400) // max(n, 1))
    made = set()
    with open(os.path.join(mbox_dir, name + ".mbox"), "w") as mbox:
        for i in range(n):
            t = t0 + i * step
            mbox.write(message(i, name, host, t))
            tm = time.gmtime(t)
            period = "%d-%s" % (tm.tm_year, MONTHS[tm.tm_mon - 1])
            pdir = os.path.join(html, period)
            if period not in made:
                os.makedirs(pdir, exist_ok=True)
                made.add(period)
            with open(os.path.join(pdir, "%06d.html" % i), "w") as f:
                f.write("<html><head><title> [%s] post %d</title></head>"
                        "<body><!--beginarticle-->Body of post %d."
                        "<!--endarticle--></body></html>\n" % (name, i, i))


def held(out, name, host):
    data = os.path.join(out, "data")
    os.makedirs(data, exist_ok=True)
    plain = instance("Message", {
        "_headers": [(b"From", b"stranger@example.net"),
                     (b"To", b("%s@%s" % (name, host))),
                     (b"Subject", b"held one"),
                     (b"Message-ID", b"<held1@example.net>")],
        "_payload": b"A post from a non-member.\n", "_unixfrom": None,
        "_charset": None, "preamble": None, "epilogue": None,
        "_default_type": b"text/plain"})
    part1 = instance("Message", {
        "_headers": [(b"Content-Type", b"text/plain")],
        "_payload": b"first part\n", "preamble": None, "epilogue": None})
    part2 = instance("Message", {
        "_headers": [(b"Content-Type", b"text/plain")],
        "_payload": b"second part\n", "preamble": None, "epilogue": None})
    multi = instance("Message", {
        "_headers": [(b"From", b"big@example.net"),
                     (b"To", b("%s@%s" % (name, host))),
                     (b"Subject", b"held two"),
                     (b"MIME-Version", b"1.0"),
                     (b"Content-Type", b'multipart/mixed; boundary="XYZ"')],
        "_payload": [part1, part2], "preamble": None, "epilogue": b""})
    dump(plain, os.path.join(data, "heldmsg-%s-1.pck" % name))
    dump(multi, os.path.join(data, "heldmsg-%s-2.pck" % name))
    with open(os.path.join(data, "heldmsg-%s-9.txt" % name), "w") as f:
        f.write("From: lost@example.net\nSubject: orphan\n\nno request\n")
    requests = {
        1: (1, (1262304000.0, b"stranger@example.net", b"held one",
                b"Post by non-member to a members-only list",
                b"heldmsg-%s-1.pck" % name.encode(), {})),
        2: (1, (1262304100.0, b"big@example.net", b"held two",
                b"Message body is too big", b"heldmsg-%s-2.pck" % name.encode(), {})),
        3: (2, (1262304200.0, b"joiner@example.net", b"Joe Joiner",
                b"joinpw", 1, b"en")),
        4: (3, b"m00001@example.org"),
        b"version": (0, 1),
    }
    dump(requests, os.path.join(out, "lists", name, "request.pck"))
    pending = {
        b"0123456789abcdef0123456789abcdef01234567": (b"S", instance("UserDesc", {
            "address": b"confirmer@example.net", "fullname": b"C",
            "password": b"x", "digest": 0, "language": b"en"})),
        b"evictions": {b"0123456789abcdef0123456789abcdef01234567": 1262900000.0},
        b"version": 2,
    }
    dump(pending, os.path.join(out, "lists", name, "pending.pck"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--list", default="team")
    ap.add_argument("--host", default="lists.example.org")
    ap.add_argument("--members", type=int, default=64 * 3)
    ap.add_argument("--passwords", type=int, default=None)
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--protocol", type=int, default=1)
    ap.add_argument("--held", action="store_true")
    a = ap.parse_args()
    pw = a.members if a.passwords is None else a.passwords
    dump(config(a.list, a.host, a.members, pw),
         os.path.join(a.out, "lists", a.list, "config.pck"), a.protocol)
    if a.messages:
        archive(a.out, a.list, a.host, a.messages)
    if a.held:
        held(a.out, a.list, a.host)


main()
