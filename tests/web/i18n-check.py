#!/usr/bin/env python3
"""i18n-check.py TOP LANG: the English texts of the web pages that have no
translation into LANG.  The texts are every {{@...}} of
templates/web/*.html, and every string literal (adjacent literals joined)
given to a translating call in src/lib/web/*.c: view_translate,
view_fill, web_error, and the page files' own helpers named in CALLS.
Prints one missing text a line; exit status 1 when there is any."""
import glob, os, re, sys

top, lang = sys.argv[1], sys.argv[2]
# The calls whose string arguments are translated, with how many
# arguments come before the first text.
CALLS = {
    'view_translate': 1, 'view_fill': 1, 'web_error': 3,
    'message_page': 3, 'login_form': 6, 'listinfo_show': 5,
    'confirm_form': 3, 'web_notice': 2,
}

def literals(src, pos):
    """The texts of the string literals among the arguments from pos."""
    out, cur, depth, i = [], None, 0, pos
    while i < len(src):
        c = src[i]
        if c == '"':
            j, buf = i + 1, []
            while src[j] != '"':
                if src[j] == '\\':
                    buf.append({'n': '\n', 't': '\t', '"': '"', '\\': '\\'}.get(src[j + 1], src[j + 1]))
                    j += 2
                else:
                    buf.append(src[j]); j += 1
            cur = (cur or '') + ''.join(buf)
            i = j + 1
            continue
        if c in '([{':
            depth += 1
        elif c in ')]}':
            if depth == 0:
                break
            depth -= 1
        elif c == ',' and depth == 0:
            if cur is not None:
                out.append(cur)
            cur = None
        elif c == '?' or c == ':':
            if cur is not None:
                out.append(cur)
            cur = None
        i += 1
    if cur is not None:
        out.append(cur)
    return out

def table(lang):
    t = {}
    for f in glob.glob(os.path.join(top, 'templates/web/i18n', lang + '.txt')) + \
             glob.glob(os.path.join(top, 'templates/web/i18n', lang + '-*.txt')):
        eng = None
        for line in open(f, encoding='utf-8').read().split('\n'):
            if line.startswith('#'):
                continue
            if not line:
                eng = None
            elif eng is None:
                eng = line
            else:
                t[eng] = line
                eng = None
    return t

texts = set()
for f in glob.glob(os.path.join(top, 'templates/web/*.html')):
    texts.update(m.strip() for m in re.findall(r'\{\{@([^}]*)\}\}', open(f, encoding='utf-8').read()))
for f in glob.glob(os.path.join(top, 'src/lib/web/*.c')):
    src = open(f, encoding='utf-8').read()
    src = re.sub(r'/\*.*?\*/', '', src, flags=re.S)
    for m in re.finditer(r'\b(%s)\s*\(' % '|'.join(CALLS), src):
        if src[:m.start()].rstrip().endswith(('void', 'static', '*', 'gboolean', 'char')):
            continue   # a definition or declaration
        texts.update(t for t in literals(src, m.end()) if re.search('[A-Za-z]{2}', t) and ' ' in t or t[:1].isupper())
t = table(lang)
missing = sorted(x for x in texts if x not in t)
for x in missing:
    print(x)
sys.exit(1 if missing else 0)
