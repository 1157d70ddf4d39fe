/*
 * rewrite.c - web server rules that send Mailman 2.1's URLs to herald's.
 *
 * Mailman's /pipermail/NAME/PERIOD/NNNNNN.html becomes herald's archive
 * URL of the list with the same PERIOD/NNNNNN.html (the import keeps
 * Pipermail's numbers and periods), and /mailman/listinfo/NAME (also
 * with .cgi, and the other CGIs: admin, options, private) goes to the
 * list's page.  Paths come from listurls.h's layout; the base is the site
 * setting web.base_url, else https://<the list's domain>/.
 */
#include "import/import.h"
#include "base/base.h"

#include <string.h>

/* herald's base URL for the list's domain, ending in '/'. */
static char *
base_url(struct site *site, const char *fqdn)
{
	char *b = site_get(site, "web.base_url", NULL);
	char *out;

	if (b == NULL || *b == '\0')
		out = g_strdup_printf("https://%s/", strchr(fqdn, '@') + 1);
	else
		out = g_str_has_suffix(b, "/") ? g_strdup(b)
					       : g_strdup_printf("%s/", b);
	g_free(b);
	return out;
}

static char *
escaped_fqdn(const char *fqdn)
{
	return g_uri_escape_string(fqdn, NULL, FALSE);
}

char *
import_rewrite_nginx(struct site *site, const char *name, const char *fqdn)
{
	char *base = base_url(site, fqdn), *e = escaped_fqdn(fqdn);
	char *out = g_strdup_printf(
		"# Mailman 2.1's URLs of list %s, now herald's %s (nginx,\n"
		"# in the server block of the old host name).\n"
		"location ~ ^/pipermail/%s(/.*)?$ {\n"
		"    return 301 %sarchives/%s$1;\n"
		"}\n"
		"location ~ ^/mailman/(listinfo|admin|admindb|options|private|subscribe)(\\.cgi)?/%s(/.*)?$ {\n"
		"    return 301 %slistinfo/%s;\n"
		"}\n", name, fqdn, name, base, e, name, base, e);

	g_free(base);
	g_free(e);
	return out;
}

char *
import_rewrite_apache(struct site *site, const char *name, const char *fqdn)
{
	char *base = base_url(site, fqdn), *e = escaped_fqdn(fqdn);
	/* Apache's rewrite target takes '%' as a back-reference: doubled. */
	GString *ee = g_string_new(e);
	char *out;

	g_string_replace(ee, "%", "\\%", 0);
	out = g_strdup_printf(
		"# Mailman 2.1's URLs of list %s, now herald's %s (Apache,\n"
		"# in the virtual host of the old host name; mod_rewrite).\n"
		"RewriteEngine On\n"
		"RewriteRule ^/pipermail/%s(/.*)?$ %sarchives/%s$1 [R=301,L,NE]\n"
		"RewriteRule ^/mailman/(listinfo|admin|admindb|options|private|subscribe)(\\.cgi)?/%s(/.*)?$ "
		"%slistinfo/%s [R=301,L,NE]\n", name, fqdn, name, base, ee->str,
		name, base, ee->str);
	g_string_free(ee, TRUE);
	g_free(base);
	g_free(e);
	return out;
}
