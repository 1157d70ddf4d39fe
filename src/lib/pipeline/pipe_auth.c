/*
 * pipe_auth.c - the authcheck handler: verifies a post's DKIM signatures
 * and ARC chain as it arrives, before any handler changes it, and records
 * the results in the metadata for delivery's ARC seal and for the DMARC
 * handler (pipe_dmarc.c: dmarc_unmunged_if_dkim_intact).
 *
 *   auth-dkim     "pass d=example.com a=rsa-sha256, fail d=..." (one item
 *                 per signature) or "none"
 *   arc-cv        none, pass or fail
 *   auth-results  the results as an Authentication-Results value without
 *                 the authserv-id: "dkim=pass header.d=...; arc=pass;
 *                 spf=pass smtp.mailfrom=..." (SPF only from the MTA's own
 *                 Authentication-Results: those whose authserv-id is the
 *                 site's auth.authserv_id; any other is the poster's word)
 *
 * Verification never stops a post: a DNS failure is temperror, a
 * malformed or hostile signature permerror, and the post goes on.
 */
#include "pipeline/pipeline.h"
#include "base/log.h"
#include "mail/arc.h"
#include "mail/dkimverify.h"
#include "mail/dmarc.h"
#include "mail/message.h"
#include "store/names.h"

#include <string.h>
#include <time.h>

#define AUTH_SUBSYS "auth"

int
pipe_dkim_lookup(void *ctx, const char *name, GPtrArray **txts_r,
		 GError **error)
{
	return dmarc_query_txt(ctx, name, txts_r, error);
}

/* The MTA's own results: the part after the authserv-id of each
 * Authentication-Results field whose authserv-id is the site's. */
static void
trusted_results(struct post *p, const char *srvid, GString *out)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(p->msg));
	int n = g_mime_header_list_get_count(hl);

	for (int i = 0; i < n && *srvid != '\0'; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *v = g_mime_header_get_raw_value(h);
		const char *semi;
		char *id;

		if (g_ascii_strcasecmp(g_mime_header_get_name(h),
				       "Authentication-Results") != 0 || v == NULL)
			continue;
		semi = strchr(v, ';');
		id = g_strstrip(g_strndup(v, semi != NULL ? (gsize)(semi - v)
							  : strlen(v)));
		/* "host.example 1" carries a version after the id. */
		if (strchr(id, ' ') != NULL)
			*strchr(id, ' ') = '\0';
		if (g_ascii_strcasecmp(id, srvid) == 0 && semi != NULL) {
			char **parts = g_strsplit_set(semi + 1, "\r\n\t", -1);
			char *flat = g_strjoinv(" ", parts);

			g_strstrip(flat);
			if (*flat != '\0' && strcmp(flat, "none") != 0)
				g_string_append_printf(out, "; %s", flat);
			g_free(flat);
			g_strfreev(parts);
		}
		g_free(id);
	}
}

static gboolean
has_field(GMimeMessage *msg, const char *name)
{
	return g_mime_object_get_header(GMIME_OBJECT(msg), name) != NULL;
}

enum pipe_result
pipe_authcheck(struct post *p, GError **error)
{
	char *server = site_get(p->site, "dmarc.resolver", NULL);
	char *srvid = site_get(p->site, "auth.authserv_id", NULL);
	struct dmarc_resolver *r = NULL;
	struct dkim_verify_opts o = { .lookup = pipe_dkim_lookup, .now = time(NULL) };
	GString *dkim = g_string_new(NULL), *res = g_string_new(NULL);
	GByteArray *raw = NULL;
	GPtrArray *v = NULL;
	enum arc_cv cv = ARC_CV_NONE;
	const char *why = NULL;
	GError *e = NULL;
	int sets = 0;

	if (has_field(p->msg, "DKIM-Signature") || has_field(p->msg, "ARC-Seal") ||
	    has_field(p->msg, "ARC-Message-Signature")) {
		r = dmarc_resolver_new_full(server,
					    (int)site_get_int(p->site, "dmarc.timeout"),
					    0, NULL, &e);
		if (r == NULL) {
			log_error(AUTH_SUBSYS, "a resolver: %s", e->message);
			g_clear_error(&e);
		}
	}
	if (r != NULL) {
		o.ctx = r;
		raw = message_to_bytes(p->msg);
		v = dkim_verify((const char *)raw->data, raw->len, &o);
		cv = arc_validate((const char *)raw->data, raw->len, &o, &sets, &why);
	}
	for (guint i = 0; v != NULL && i < v->len; i++) {
		const struct dkim_verdict *d = v->pdata[i];

		g_string_append_printf(dkim, "%s%s d=%s a=%s", i > 0 ? ", " : "",
				       dkim_result_name(d->result),
				       d->domain != NULL ? d->domain : "-",
				       d->algorithm != NULL ? d->algorithm : "-");
		g_string_append_printf(res, "%sdkim=%s", res->len > 0 ? "; " : "",
				       dkim_result_name(d->result));
		if (d->domain != NULL)
			g_string_append_printf(res, " header.d=%s", d->domain);
	}
	if (dkim->len == 0) {
		g_string_assign(dkim, "none");
		g_string_assign(res, "dkim=none");
	}
	g_string_append_printf(res, "; arc=%s", arc_cv_name(cv));
	trusted_results(p, srvid, res);
	queue_meta_set(p->meta, META_AUTH_DKIM, dkim->str);
	queue_meta_set(p->meta, META_ARC_CV, arc_cv_name(cv));
	queue_meta_set(p->meta, META_AUTH_RESULTS, res->str);
	if (cv == ARC_CV_FAIL && why != NULL)
		log_info(AUTH_SUBSYS, "list %s: ARC chain of %d sets fails: %s",
			 list_fqdn(p->list), sets, why);
	if (v != NULL)
		g_ptr_array_unref(v);
	if (raw != NULL)
		g_byte_array_unref(raw);
	dmarc_resolver_free(&r);
	g_string_free(dkim, TRUE);
	g_string_free(res, TRUE);
	g_free(server);
	g_free(srvid);
	return PIPE_CONTINUE;
}
