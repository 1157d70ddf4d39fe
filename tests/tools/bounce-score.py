#!/usr/bin/env python3
"""bounce-score.py - scores `herald bounce detect` on the sisimai corpus.

Runs the detector once per message of tests/data/sisimai/maildir/bsd and
compares its lines (permanent|temporary TAB address TAB reason) with
expected.tsv (one row per failed recipient, from the Sisimai project;
tests/data/sisimai/README.md):

  recall          expected recipients found / expected recipients.  Rows
                  that are not failures are left out: reason "delivered"
                  (a success DSN must report nothing) and the vacation
                  rows (no recipient; an auto-reply must report nothing).
                  Feedback (ARF) rows count: the complaint's address must
                  be reported.
  wrong-address   messages that report an address not expected for that
                  message / messages.  Reporting a "delivered" row's
                  address counts as wrong.
  hard            every hardbounce=1 row must be reported, and permanent.
  not-bounces     rfc3834-* (auto-replies) and maildir/not/* report
                  nothing permanent.
  line ends       maildir/dos (CRLF) and maildir/mac (CR) copies give the
                  same lines as the maildir/bsd original.
  reasons         agreement of our reason with Sisimai's, mapped (REASONS
                  below); informational, Sisimai's taxonomy is finer.

The table has a few rows the messages contradict (anonymisation slips, an
address that occurs nowhere in the message, Sisimai's placeholder for "no
recipient"); corrections.tsv lists each with the message's own evidence.
Every figure is computed twice: "strict" against the table as it is, and
"corrected" with those rows replaced (a row corrected to "-" names nobody
and leaves the recall's count).  A hard row whose message is only a delay
warning (its DSN says Action: delayed, nothing failed) is exempt from
"permanent": the issue's rule is that a delay is never permanent.

Every miss and every wrong address is printed.  With --tap, prints TAP
lines for the goals (recall >= --recall strict and corrected,
wrong-address <= --wrong corrected, every hard bounce permanent, no
permanent for non-bounces, line ends agree); with --json FILE, also
writes the figures there.
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time

# Sisimai's reason names -> ours (docs/bounces.md).  A list: any of them
# agrees (Sisimai's "blocked" and "rejected" are about the sending host or
# the sender; we call both policy, some of its "filtered" are unknown
# mailboxes behind a filter).
REASONS = {
    "userunknown": ["mailbox-unknown"],
    "hasmoved": ["mailbox-unknown"],
    "suspend": ["mailbox-disabled", "mailbox-unknown"],
    "mailboxfull": ["mailbox-full"],
    "hostunknown": ["host-unknown"],
    "notaccept": ["host-unknown", "policy"],
    "blocked": ["policy"],
    "rejected": ["policy"],
    "filtered": ["policy", "mailbox-unknown"],
    "spamdetected": ["policy"],
    "policyviolation": ["policy"],
    "authfailure": ["policy"],
    "requireptr": ["policy"],
    "badreputation": ["policy"],
    "virusdetected": ["policy"],
    "securityerror": ["policy"],
    "norelaying": ["policy"],
    "speeding": ["policy", "other"],
    "toomanyconn": ["policy", "other"],
    "mesgtoobig": ["too-big"],
    "exceedlimit": ["too-big"],
    "expired": ["expired"],
    "feedback": ["complaint", "policy"],
    "networkerror": ["other", "expired"],
    "systemerror": ["other"],
    "systemfull": ["other", "mailbox-full"],
    "mailererror": ["other"],
    "contenterror": ["other", "policy"],
    "notcompliantrfc": ["other", "policy"],
    "syntaxerror": ["other"],
    "onhold": ["other"],
    "undefined": ["other"],
}
NOT_FAILURES = {"delivered", "vacation"}


def detect(herald, path):
    with open(path, "rb") as f:
        p = subprocess.run([herald, "bounce", "detect"], stdin=f,
                           capture_output=True, timeout=60)
    lines = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            lines.append((parts[0], parts[1], parts[2]))
    return p.returncode, lines, p.stderr.decode("utf-8", "replace")


def load_expected(path):
    rows = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows.setdefault(r["file"], []).append(r)
    return rows


def load_corrections(path):
    fixes = {}
    if os.path.exists(path):
        with open(path, newline="") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                fixes[(r["file"], r["table_recipient"].lower())] = r
    return fixes


def corrected_rows(expected, fixes):
    out = {}
    for f, rows in expected.items():
        new = []
        for r in rows:
            fix = fixes.get((f, r["recipient"].lower()))
            if fix is not None:
                if fix["corrected"] == "-":
                    continue
                r = dict(r, recipient=fix["corrected"])
            new.append(r)
        out[f] = new
    return out


def only_delayed(path):
    """Whether the message's DSN says delayed and nothing failed."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    actions = [a.lower() for a in
               re.findall(r"(?im)^action:\s*([a-z]+)", text)]
    return "delayed" in actions and "failed" not in actions


def score(files, out, expected, bsd):
    """Recall, wrong-address and hard figures of out against expected."""
    sc = {"total": 0, "found": 0, "hard_total": 0, "hard_ok": 0,
          "reason_total": 0, "reason_ok": 0, "wrong_msgs": 0,
          "misses": [], "wrongs": [], "hard_bad": [], "reason_diff": []}
    for f in files:
        rows = expected.get(f, [])
        got = {addr.lower(): (perm, reason) for perm, addr, reason in out[f]}
        want = {r["recipient"].lower() for r in rows
                if r["recipient"] and r["reason"] not in NOT_FAILURES}
        for r in rows:
            addr = r["recipient"].lower()
            if not addr or r["reason"] in NOT_FAILURES:
                continue
            sc["total"] += 1
            hard = r["hardbounce"] == "1"
            if hard and only_delayed(os.path.join(bsd, f)):
                hard = False
            sc["hard_total"] += hard
            if addr not in got:
                sc["misses"].append("%s: %s (%s %s) not found; got %s" % (
                    f, addr, r["reason"], r["status"],
                    ", ".join("%s %s %s" % x for x in out[f]) or "nothing"))
                if hard:
                    sc["hard_bad"].append("%s: %s (hard) not found" % (f, addr))
                continue
            sc["found"] += 1
            perm, reason = got[addr]
            if hard and perm == "permanent":
                sc["hard_ok"] += 1
            elif hard:
                sc["hard_bad"].append("%s: %s (hard) reported %s %s" % (
                    f, addr, perm, reason))
            sc["reason_total"] += 1
            if reason in REASONS.get(r["reason"], []):
                sc["reason_ok"] += 1
            else:
                sc["reason_diff"].append("%s: %s sisimai %s, ours %s" % (
                    f, addr, r["reason"], reason))
        extra = [x for x in out[f] if x[1].lower() not in want]
        if extra:
            sc["wrong_msgs"] += 1
            sc["wrongs"].append("%s: reported %s" % (
                f, ", ".join("%s %s %s" % x for x in extra)))
    n = len(files)
    sc["recall"] = 100.0 * sc["found"] / sc["total"] if sc["total"] else 0.0
    sc["wrong"] = 100.0 * sc["wrong_msgs"] / n if n else 0.0
    sc["agree"] = (100.0 * sc["reason_ok"] / sc["reason_total"]
                   if sc["reason_total"] else 0.0)
    return sc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--herald", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--tap", action="store_true")
    ap.add_argument("--recall", type=float, default=97.0)
    ap.add_argument("--wrong", type=float, default=0.5)
    ap.add_argument("--json")
    a = ap.parse_args()

    bsd = os.path.join(a.corpus, "maildir", "bsd")
    expected = load_expected(os.path.join(a.corpus, "expected.tsv"))
    files = sorted(f for f in os.listdir(bsd) if f.endswith(".eml"))
    out = {}
    bad_exit = []
    t0 = time.time()
    for f in files:
        rc, lines, err = detect(a.herald, os.path.join(bsd, f))
        out[f] = lines
        if rc != 0:
            bad_exit.append("%s: exit %d %s" % (f, rc, err.strip()))
    elapsed = time.time() - t0

    fixes = load_corrections(os.path.join(a.corpus, "corrections.tsv"))
    strict = score(files, out, expected, bsd)
    fixed = score(files, out, corrected_rows(expected, fixes), bsd)

    nonbounce = []
    for f in files:
        if f.startswith("rfc3834-"):
            nonbounce += ["%s: %s %s %s" % ((f,) + x) for x in out[f]
                          if x[0] == "permanent"]
    notdir = os.path.join(a.corpus, "maildir", "not")
    for f in sorted(os.listdir(notdir)):
        _, lines, _ = detect(a.herald, os.path.join(notdir, f))
        nonbounce += ["not/%s: %s %s %s" % ((f,) + x) for x in lines
                      if x[0] == "permanent"]

    ends = []
    for d in ("dos", "mac"):
        dd = os.path.join(a.corpus, "maildir", d)
        for f in sorted(os.listdir(dd)):
            rc, lines, err = detect(a.herald, os.path.join(dd, f))
            if rc != 0:
                bad_exit.append("%s/%s: exit %d %s" % (d, f, rc, err.strip()))
            if f in out and sorted(lines) != sorted(out[f]):
                ends.append("%s/%s: %s, bsd: %s" % (d, f, lines, out[f]))
    for d in ("err",):
        dd = os.path.join(a.corpus, "maildir", d)
        for f in sorted(os.listdir(dd)):
            rc, _, err = detect(a.herald, os.path.join(dd, f))
            if rc != 0:
                bad_exit.append("%s/%s: exit %d %s" % (d, f, rc, err.strip()))

    figures = {"messages": len(files), "seconds": round(elapsed, 2)}
    for name, sc in (("strict", strict), ("corrected", fixed)):
        figures[name] = {
            "expected": sc["total"], "found": sc["found"],
            "recall": round(sc["recall"], 2),
            "wrong_messages": sc["wrong_msgs"],
            "wrong_pct": round(sc["wrong"], 2), "hard": sc["hard_total"],
            "hard_permanent": sc["hard_ok"],
            "reason_agreement": round(sc["agree"], 1),
        }
    say = (lambda t: print("# " + t)) if a.tap else print
    say("corrections (corrections.tsv): %d" % len(fixes))
    for (f, addr), r in sorted(fixes.items()):
        say("  %s: %s -> %s: %s" % (f, addr, r["corrected"], r["evidence"]))
    for title, items in (("misses (strict)", strict["misses"]),
                         ("wrong addresses (strict)", strict["wrongs"]),
                         ("wrong addresses (corrected)", fixed["wrongs"]),
                         ("hard bounces not permanent", fixed["hard_bad"]),
                         ("non-bounces reported permanent", nonbounce),
                         ("line ends differ", ends),
                         ("bad exits", bad_exit),
                         ("reasons that differ", fixed["reason_diff"])):
        say("%s: %d" % (title, len(items)))
        for i in items:
            say("  " + i)
    for name, sc in (("strict", strict), ("corrected", fixed)):
        say("%s: recall %.2f%% (%d/%d), wrong-address messages %.2f%% "
            "(%d/%d), hard bounces permanent %d/%d, reason agreement %.1f%%"
            % (name, sc["recall"], sc["found"], sc["total"], sc["wrong"],
               sc["wrong_msgs"], len(files), sc["hard_ok"], sc["hard_total"],
               sc["agree"]))
    say("%d messages in %.1fs (one process each)" % (len(files), elapsed))
    if a.json:
        with open(a.json, "w") as jf:
            json.dump(figures, jf, indent=1)
    checks = [
        ("recall %.2f%% >= %.1f%% (strict)" % (strict["recall"], a.recall),
         strict["recall"] >= a.recall),
        ("recall %.2f%% >= %.1f%% (corrected)" % (fixed["recall"], a.recall),
         fixed["recall"] >= a.recall),
        ("wrong-address messages %.2f%% <= %.1f%% (corrected; strict %.2f%%)"
         % (fixed["wrong"], a.wrong, strict["wrong"]), fixed["wrong"] <= a.wrong),
        ("every hard bounce found and permanent (%d/%d)"
         % (fixed["hard_ok"], fixed["hard_total"]),
         fixed["hard_ok"] == fixed["hard_total"]),
        ("auto-replies and not-bounces report nothing permanent",
         not nonbounce),
        ("CRLF and CR copies give the same lines", not ends),
        ("exit 0 for every message", not bad_exit),
    ]
    failed = 0
    for n, (desc, ok) in enumerate(checks, 1):
        if a.tap:
            print("%s %d - %s" % ("ok" if ok else "not ok", n, desc))
        failed += not ok
    return 1 if failed and not a.tap else 0


if __name__ == "__main__":
    sys.exit(main())
