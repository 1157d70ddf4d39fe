#!/usr/bin/env python3
"""forms.py BASE COOKIE VARDIR MAX [START...]: CSRF on every state-changing
form.  Crawls the pages reachable by GET from START (as crawl.py does) with
the cookie COOKIE, collects every form with method POST, and submits each
one twice as a cross-site attacker would: without its csrf field, and with
a forged one (the victim's cookie rides along).  Each must be refused with
403, and the var dir's state (everything but web/ and logs/) must be the
same byte for byte afterwards.  The one-click unsubscribe form is exempt by
design (RFC 8058: the token in its URL is the authority; docs/web.md).
Prints TAP "ok - " / "not ok - " lines."""
import hashlib, html.parser, os, sys, urllib.error, urllib.parse, urllib.request

base, cookie, var, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
starts = sys.argv[5:] or ['']
SKIP = ('/logout', '/unsubscribe/', '/moderate/', '/static/')


class Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.forms, self.cur = [], [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'a' and a.get('href'):
            self.links.append(a['href'])
        elif tag == 'form' and (a.get('method') or '').lower() == 'post':
            self.cur = {'action': a.get('action') or '', 'fields': {}}
            self.forms.append(self.cur)
        elif self.cur is not None and tag in ('input', 'textarea', 'select', 'button') and a.get('name'):
            if a.get('type') in ('checkbox', 'radio') and 'checked' not in a:
                return
            self.cur['fields'].setdefault(a['name'], a.get('value') or '')

    def handle_endtag(self, tag):
        if tag == 'form':
            self.cur = None


def request(path, data=None):
    req = urllib.request.Request(urllib.parse.urljoin(base, path), data=data)
    if cookie:
        req.add_header('Cookie', cookie)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get('Content-Type', ''), r.read().decode('utf-8', 'replace')
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get('Content-Type', ''), e.read().decode('utf-8', 'replace')


def state():
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(var)):
        rel = os.path.relpath(root, var)
        if rel.split(os.sep)[0] in ('web', 'logs', 'run', 'locks'):
            continue
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            h.update(p.encode())
            try:
                h.update(open(p, 'rb').read())
            except OSError:
                pass
    return h.hexdigest()


root = urllib.parse.urlparse(base)
seen, todo, forms, pages = set(), list(starts), {}, 0
while todo and pages < limit:
    path = todo.pop(0)
    if path in seen:
        continue
    seen.add(path)
    status, ctype, body = request(base + path)
    if 'text/html' not in ctype:
        continue
    pages += 1
    p = Forms()
    p.feed(body)
    for f in p.forms:
        action = urllib.parse.urljoin(base + path, f['action'])
        if any(s in urllib.parse.urlparse(action).path for s in SKIP):
            continue
        key = (action, tuple(sorted(f['fields'])))
        forms.setdefault(key, f['fields'])
    for href in p.links:
        u = urllib.parse.urlparse(urllib.parse.urljoin(base + path, href))
        if u.netloc != root.netloc or not u.path.startswith(root.path):
            continue
        rel = u.path[len(root.path):] + ('?' + u.query if u.query else '')
        if not any(s in '/' + rel for s in SKIP) and rel not in seen:
            todo.append(rel)

before = state()
bad = 0
for (action, _), fields in sorted(forms.items()):
    for how in ('without', 'forged'):
        f = dict(fields)
        f.pop('csrf', None)
        if how == 'forged':
            f['csrf'] = '1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
        status, _, _ = request(action, urllib.parse.urlencode(f).encode())
        if status != 403:
            bad += 1
            print(f'not ok - POST {action} {how} a CSRF token answered {status}, not 403')
after = state()
print(f'{"ok" if bad == 0 else "not ok"} - {len(forms)} POST forms on {pages} pages '
      f'{"(logged in)" if cookie else "(no session)"}: each refused without and with a forged CSRF token')
print(f'{"ok" if before == after else "not ok"} - the var dir is unchanged by those {2 * len(forms)} requests')
