#!/usr/bin/env python3
"""gen-man.py HERALD OUTDIR - herald's man pages, made from the program.

herald(8) is `herald --help`; herald-COMMAND(8) is `herald COMMAND --help`
and, for a command with verbs, each `herald COMMAND VERB --help`;
herald.conf(5) is `herald site doc` (the settings table of
src/lib/store/site.c).  The pages say what the program they were made
from says, so they cannot drift from it: `make` makes them with the
program, tests/integration/man-pages.sh checks them.
"""
import os
import re
import subprocess
import sys

DATE = "2026"


def run(herald, *args):
    env = dict(os.environ, LC_ALL="C")
    env.pop("HERALD_VAR", None)
    return subprocess.run([herald, *args], check=True, env=env,
                          stdout=subprocess.PIPE, text=True).stdout


def esc(text):
    """Roff text: backslashes, hyphens, a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


def parse_help(text):
    """A --help text: (usage, summary, options, description)."""
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "Usage:", lines[0]
    usage = lines[1].strip()
    i = 2
    summary, options, desc = [], [], []
    while i < len(lines) and lines[i] != "Options:":
        summary.append(lines[i])
        i += 1
    i += 1
    while i < len(lines) and lines[i].strip() != "":
        m = re.match(r"\s+(\S.*?)\s{2,}(\S.*)$", lines[i])
        if m:
            options.append([m.group(1), m.group(2)])
        elif options:
            options[-1][1] += " " + lines[i].strip()
        i += 1
    desc = lines[i + 1:]
    return usage, "\n".join(summary).strip(), options, "\n".join(desc).strip()


def paragraphs(text):
    """Roff for help text: paragraphs; a "Header:" block of indented
    "  name   what" lines becomes a tagged list; other indented lines are
    kept as they are (examples)."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.split("\n")
        items = [re.match(r"  (\S+)\s{2,}(\S.*)$", l) for l in lines[1:]]
        if lines[0].endswith(":") and items and all(items):
            out.append(".PP\n" + esc(lines[0]))
            for m in items:
                out.append(".TP\n.B %s\n%s" % (esc(m.group(1)), esc(m.group(2))))
        elif all(l.startswith(" ") for l in lines):
            out.append(".PP\n.RS\n.nf\n%s\n.fi\n.RE" % esc("\n".join(lines)))
        else:
            out.append(".PP\n" + esc(" ".join(l.strip() for l in lines)))
    return "\n".join(out)


def options_roff(options):
    return "\n".join(".TP\n.B %s\n%s" % (esc(o), esc(d)) for o, d in options)


def header(name, section, what):
    return ('.\\" Made by scripts/gen-man.py from the program: do not edit.\n'
            '.TH %s %s "%s" "herald" "herald manual"\n.ad l\n.nh\n'
            ".SH NAME\n%s \\- %s\n" % (name.upper(), section, DATE,
                                      esc(name), esc(what)))


def verbs_of(description):
    m = re.search(r"^Verbs:\n((?:  \S.*\n?)+)", description, flags=re.M)
    if not m:
        return []
    return [l.split()[0] for l in m.group(1).split("\n") if l.strip()]


def command_page(herald, name, what):
    usage, summary, options, desc = parse_help(run(herald, name, "--help"))
    page = [header("herald-" + name, 8, what),
            ".SH SYNOPSIS\n.B %s" % esc(usage),
            ".SH DESCRIPTION\n" + paragraphs(summary)]
    if desc:
        page.append(paragraphs(desc))
    page.append(".SH OPTIONS\n" + options_roff(options))
    for verb in verbs_of(desc):
        vusage, vsummary, voptions, vdesc = parse_help(
            run(herald, name, verb, "--help"))
        page.append(".SH %s\n.B %s\n%s" % (esc(verb.upper()), esc(vusage),
                                            paragraphs(vsummary)))
        if vdesc:
            page.append(paragraphs(vdesc))
        if len(voptions) > 1:	# more than --help
            page.append(".PP\nOptions:\n.RS\n%s\n.RE" % options_roff(voptions))
    page.append(".SH SEE ALSO\n.BR herald (8),\n.BR herald.conf (5)")
    return "\n".join(page) + "\n"


def main_page(herald, commands):
    usage, summary, options, desc = parse_help(run(herald, "--help"))
    page = [header("herald", 8, "a mailing-list manager"),
            ".SH SYNOPSIS\n.B %s" % esc(usage),
            ".SH DESCRIPTION\n" + paragraphs(summary), paragraphs(desc),
            ".SH OPTIONS\n" + options_roff(options),
            ".SH COMMANDS\nEach command has its own page:"]
    for name, what in commands:
        page.append(".TP\n.BR herald\\-%s (8)\n%s" % (esc(name), esc(what)))
    page.append(".SH ENVIRONMENT\n"
                ".TP\n.B HERALD_VAR\nThe var dir, when \\-\\-var is not given.\n"
                ".TP\n.B HERALD_HOST\nThis host's name in lock, lease and "
                "log file names (site setting site.host).")
    page.append(".SH FILES\n"
                ".TP\n.I VAR/etc/herald.conf\nThe site settings: "
                ".BR herald.conf (5).\n"
                ".TP\n.I VAR/logs/HOST/SUBSYSTEM\nThe log files "
                "(log.target = file); SIGHUP reopens them.")
    page.append(".SH SEE ALSO\n" + ",\n".join(
        ".BR herald\\-%s (8)" % esc(n) for n, _ in commands) +
        ",\n.BR herald.conf (5)")
    return "\n".join(page) + "\n"


def unmarkdown(text):
    """Roff for a cell of `herald site doc`'s table: `code` in bold."""
    parts = re.split(r"`([^`]*)`", text)
    out = ""
    for i, p in enumerate(parts):
        # \: lets a long value (dkim.sign_headers) break after a colon.
        out += ("\\fB%s\\fR" % esc(p).replace(":", ":\\:")) if i % 2 \
            else esc(p)
    return out


def conf_page(herald):
    doc = run(herald, "site", "doc").split("\n")
    intro, rows = [], []
    for line in doc[1:]:
        if line.startswith("| `"):
            rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
        elif not line.startswith("|"):
            intro.append(line)
    page = [header("herald.conf", 5, "herald's site settings"),
            ".SH SYNOPSIS\n.I VAR/etc/herald.conf",
            ".SH DESCRIPTION\nThe site settings of a herald var dir, a key "
            "file of sections (\\fB[section]\\fR) and \\fIname = value\\fR "
            "lines.\n" + paragraphs(unmarkdown("\n".join(intro))),
            ".SH SETTINGS"]
    for key, type_, default, meaning in rows:
        page.append(".TP\n%s (%s; default %s)\n%s" % (
            unmarkdown(key), esc(type_), unmarkdown(default), unmarkdown(meaning)))
    page.append(".SH SEE ALSO\n.BR herald (8),\n.BR herald\\-site (8)")
    return "\n".join(page) + "\n"


def main():
    herald, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    _, _, _, desc = parse_help(run(herald, "--help"))
    m = re.search(r"^Commands:\n((?:  \S.*\n?)+)", desc, flags=re.M)
    commands = [re.match(r"  (\S+)\s+(.*)$", l).groups()
                for l in m.group(1).split("\n") if l.strip()]
    pages = {"herald.8": main_page(herald, commands),
             "herald.conf.5": conf_page(herald)}
    for name, what in commands:
        pages["herald-%s.8" % name] = command_page(herald, name, what)
    for name, text in pages.items():
        with open(os.path.join(outdir, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
