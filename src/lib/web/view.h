/*
 * view.h - the one path by which anything reaches a web page: HTML
 * templates filled from a JSON tree, every value escaped.
 *
 * A handler never writes HTML.  It builds the page's data as a JsonObject
 * (the same tree the API returns as JSON) and names a template; the
 * template is the only place markup is written, and it has no way to
 * print a value unescaped.  The syntax is a small part of Mustache's:
 *
 *     {{name}}  {{a.b}}   the value, HTML-escaped (& < > " ' all become
 *                         entities, so it is safe in text and in quoted
 *                         attributes); numbers and booleans as text,
 *                         null and missing as nothing
 *     {{#name}}..{{/name}} an array: the inside once per element, the
 *                         element's members in scope; an object: once,
 *                         its members in scope; any other true value
 *                         (true, a non-empty string, a non-zero number):
 *                         once; false, null, "", 0, [] and missing: never
 *     {{^name}}..{{/name}} the inside when name is one of the false values
 *     {{> name}}          the template name, in the same scope
 *     {{@Some text}}      the text, translated into the page's language
 *                         (templates/web/i18n/LANG.txt), escaped
 *     {{.}}               the element itself, inside {{#array}}
 *
 * A name is looked up from the innermost scope out, as Mustache does.
 * Templates are templates/web/NAME.html, compiled into the program (the
 * same GResource as the mail templates); a site may override one with
 * etc/templates/web/NAME.html under its var dir.  A template that does
 * not parse (an unclosed section) is an error at render time, naming it;
 * tests/unit/test-web-view.c renders every built-in one.
 *
 * URLs in href and action attributes are built by the handlers from
 * herald's own paths with every variable part percent-encoded
 * (view_url_part), never taken from input whole, so no "javascript:" URL
 * can reach a page.
 */
#ifndef HERALD_WEB_VIEW_H
#define HERALD_WEB_VIEW_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "store/site.h"

/* Renders template name with data in language lang ("en", "de"; others
 * fall back to English), site's var dir for overrides (NULL: built-in
 * only).  The page, newly allocated, or NULL with *error (HERALD_ERR_NOTFOUND
 * for no such template, HERALD_ERR_FORMAT for one that does not parse). */
char *view_render(struct site *site, const char *name, const char *lang,
		  JsonObject *data, GError **error);

/* Appends text to out with & < > " ' escaped. */
void view_escape(GString *out, const char *text);

/* text percent-encoded for a path segment or a query value: everything but
 * RFC 3986's unreserved characters. */
char *view_url_part(const char *text);

/* The translation of English text into lang; text itself when there is
 * none.  The table is read once per process. */
const char *view_translate(const char *lang, const char *text);

/* The translation of text with each "{}" in it replaced by the next of
 * the arguments (strings, NULL-terminated), in order; newly allocated.
 * The text is never a printf format: a translation cannot break one. */
char *view_fill(const char *lang, const char *text, ...) G_GNUC_NULL_TERMINATED;

/* Whether lang has a translation table (the languages pages come in). */
gboolean view_language_known(const char *lang);

#endif
