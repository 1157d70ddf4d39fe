#!/usr/bin/env python3
"""crawl.py BASE COOKIE MAX [START...]: fetches START paths (default "")
of the web interface at BASE with the cookie header COOKIE ("" for none)
and every same-site link reachable from them by GET (at most MAX pages,
never /logout or the one-click and moderation links), and checks each
HTML page for markup an attacker planted (tests/integration/web-xss.sh):
the payloads' live forms must not appear, only their escaped text.
Prints "ok - ..." / "not ok - ..." lines (TAP, as tests/lib.sh counts)."""
import html.parser, sys, urllib.error, urllib.parse, urllib.request

base, cookie, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
starts = sys.argv[4:] or ['']
SKIP = ('/logout', '/unsubscribe/', '/moderate/', '/static/')


class Page(html.parser.HTMLParser):
    """The page's links, and the first live markup in it: an element that
    runs or embeds (script, iframe, object, embed, svg), an event handler
    attribute, or a javascript: URL.  herald's own pages have none."""
    def __init__(self):
        super().__init__()
        self.links = []
        self.live = None

    def handle_starttag(self, tag, attrs):
        if tag in ('script', 'iframe', 'object', 'embed', 'svg', 'base') and not self.live:
            self.live = '<%s>' % tag
        for k, v in attrs:
            if k.startswith('on') and not self.live:
                self.live = '%s= on <%s>' % (k, tag)
            if k in ('href', 'src', 'action', 'formaction') and v and \
                    v.strip().lower().startswith(('javascript:', 'data:', 'vbscript:')) and not self.live:
                self.live = '%s="%s"' % (k, v[:30])
            if tag == 'a' and k == 'href' and v:
                self.links.append(v)


def fetch(path):
    req = urllib.request.Request(base + path)
    if cookie:
        req.add_header('Cookie', cookie)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get('Content-Type', ''), r.read().decode('utf-8', 'replace')
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get('Content-Type', ''), e.read().decode('utf-8', 'replace')


root = urllib.parse.urlparse(base)
seen, todo, pages, bad = set(), list(starts), 0, 0
while todo and pages < limit:
    path = todo.pop(0)
    if path in seen:
        continue
    seen.add(path)
    status, ctype, body = fetch(path)
    if 'text/html' not in ctype:
        continue
    pages += 1
    p = Page()
    p.feed(body)
    if p.live:
        bad += 1
        print(f'not ok - /{path}: live markup {p.live} (status {status})')
    for href in p.links:
        u = urllib.parse.urljoin(base + path, href)
        pu = urllib.parse.urlparse(u)
        if pu.netloc != root.netloc or not pu.path.startswith(root.path):
            continue
        rel = pu.path[len(root.path):] + ('?' + pu.query if pu.query else '')
        if any(s in '/' + rel for s in SKIP) or rel in seen:
            continue
        todo.append(rel)
print(f'{"ok" if bad == 0 else "not ok"} - crawled {pages} pages as '
      f'{"a logged-in user" if cookie else "a stranger"}: {bad} with planted markup live')
