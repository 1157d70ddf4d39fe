/*
 * arc.c - ARC chain validation and sealing (RFC 8617; see arc.h).
 *
 * No maintained ARC library is in Debian 12 (OpenARC is not packaged and
 * its development stalled), so this is herald's own on dkim.c and
 * dkimverify.c, which ARC shares nearly all of DKIM with: the
 * ARC-Message-Signature is a DKIM signature with i= for v=, and the
 * ARC-Seal signs the ARC fields only, relaxed, in instance order.
 * Bounded: at most ARC_MAX_SETS sets, each field kind once per instance.
 */
#include "mail/arc.h"
#include "base/base.h"

#include <string.h>

const char *
arc_cv_name(enum arc_cv cv)
{
	return cv == ARC_CV_PASS ? "pass" : cv == ARC_CV_FAIL ? "fail" : "none";
}

enum arc_cv
arc_cv_parse(const char *name)
{
	return g_strcmp0(name, "pass") == 0 ? ARC_CV_PASS
		: g_strcmp0(name, "fail") == 0 ? ARC_CV_FAIL : ARC_CV_NONE;
}

enum set_part { AAR, AMS, AS, NPARTS };

static const char *const part_names[NPARTS] = {
	"ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal",
};

/* The fields of each set, by instance: sets[i][part] (1-based). */
struct chain {
	const struct dkim_field *sets[ARC_MAX_SETS + 1][NPARTS];
	int n;
};

static gboolean
named(const struct dkim_field *f, const char *name)
{
	return strlen(name) == f->name_len &&
		g_ascii_strncasecmp(f->name, name, f->name_len) == 0;
}

/* The instance of an ARC field (its i= tag, first in AAR, anywhere in the
 * others), or -1. */
static int
instance_of(const struct dkim_field *f, enum set_part part)
{
	const char *v = f->text + f->name_len + 1;
	size_t len = f->len - f->name_len - 1;
	const char *why;
	struct dkim_tags *t;
	const char *i;
	char *end;
	long n = -1;

	if (part == AAR) {
		/* "i=N; authserv-id; results": only its first tag. */
		const char *semi = memchr(v, ';', len);

		len = semi != NULL ? (size_t)(semi - v) : len;
	}
	if ((t = dkim_tags_parse(v, len, &why)) == NULL)
		return -1;
	i = dkim_tags_get(t, "i");
	if (i != NULL && *i != '\0')
		n = strtol(i, &end, 10);
	if (i == NULL || *i == '\0' || *end != '\0' || n < 1 || n > ARC_MAX_SETS)
		n = -1;
	dkim_tags_free(&t);
	return (int)n;
}

/* Sorts the ARC fields into sets: FALSE with *why_r when the structure is
 * broken (a field without a valid instance, one twice, a set missing a
 * part, or instances not 1..n). */
static gboolean
collect(GArray *fields, struct chain *c, const char **why_r)
{
	memset(c, 0, sizeof(*c));
	for (guint k = 0; k < fields->len; k++) {
		const struct dkim_field *f = &g_array_index(fields, struct dkim_field, k);

		for (int p = 0; p < NPARTS; p++) {
			int i;

			if (!named(f, part_names[p]))
				continue;
			if ((i = instance_of(f, p)) < 0) {
				*why_r = "an ARC field without a valid i=";
				return FALSE;
			}
			if (c->sets[i][p] != NULL) {
				*why_r = "an ARC field given twice for an instance";
				return FALSE;
			}
			c->sets[i][p] = f;
			c->n = MAX(c->n, i);
		}
	}
	for (int i = 1; i <= c->n; i++)
		for (int p = 0; p < NPARTS; p++)
			if (c->sets[i][p] == NULL) {
				*why_r = "an ARC set is incomplete";
				return FALSE;
			}
	return TRUE;
}

static struct dkim_tags *
field_tags(const struct dkim_field *f)
{
	const char *why;

	return dkim_tags_parse(f->text + f->name_len + 1,
			       f->len - f->name_len - 1, &why);
}

/* The seal of instance n: over the sets 1..n, AAR, AMS, AS each, relaxed;
 * the last AS without its b= value and line end. */
static GString *
seal_data(const struct chain *c, int n, const char *last_as)
{
	GString *data = g_string_new(NULL);

	for (int i = 1; i <= n; i++) {
		dkim_canon_header(data, c->sets[i][AAR]->text, c->sets[i][AAR]->len, TRUE);
		dkim_canon_header(data, c->sets[i][AMS]->text, c->sets[i][AMS]->len, TRUE);
		if (i < n) {
			dkim_canon_header(data, c->sets[i][AS]->text,
					  c->sets[i][AS]->len, TRUE);
		} else if (last_as != NULL) {
			dkim_canon_header(data, last_as, strlen(last_as), FALSE);
		} else {
			char *own = dkim_field_without_b(c->sets[i][AS]->text,
							 c->sets[i][AS]->len);

			dkim_canon_header(data, own, strlen(own), FALSE);
			g_free(own);
		}
	}
	return data;
}

/* Checks a signature made by d=/s= with tags t over data. */
static enum dkim_result
check_tags(const struct dkim_verify_opts *o, const struct dkim_tags *t,
	   const char *data, size_t len, const char **why_r)
{
	const char *d = dkim_tags_get(t, "d"), *s = dkim_tags_get(t, "s");
	const char *a = dkim_tags_get(t, "a"), *b = dkim_tags_get(t, "b");
	struct dkim_pubkey *pk;
	enum dkim_result r;
	char *identity;

	if (d == NULL || s == NULL || a == NULL || b == NULL ||
	    (strcmp(a, "rsa-sha256") != 0 && strcmp(a, "ed25519-sha256") != 0)) {
		*why_r = "an ARC signature lacks a tag or has an unknown a=";
		return DKIM_RESULT_PERMERROR;
	}
	identity = g_strconcat("@", d, NULL);
	pk = dkim_pubkey_get(o, d, s, a, identity, &r, why_r);
	g_free(identity);
	if (pk == NULL)
		return r;
	r = dkim_pubkey_verify(o, pk, a, b, data, len, why_r);
	dkim_pubkey_free(&pk);
	return r;
}

/* The latest AMS: a DKIM signature of the message (ARC-Seal must not be
 * among the fields it covers). */
static enum dkim_result
check_ams(const char *msg, size_t len, GArray *fields,
	  const struct dkim_field *ams, const struct dkim_verify_opts *o,
	  const char **why_r)
{
	struct dkim_tags *t = field_tags(ams);
	const char *h = t != NULL ? dkim_tags_get(t, "h") : NULL;
	char *lower = h != NULL ? g_ascii_strdown(h, -1) : NULL;
	enum dkim_result r;

	if (lower == NULL || strstr(lower, "arc-seal") != NULL) {
		*why_r = "the latest ARC-Message-Signature is malformed";
		r = DKIM_RESULT_PERMERROR;
	} else {
		r = dkim_verify_field(msg, len, fields, ams, o, TRUE, why_r);
	}
	g_free(lower);
	dkim_tags_free(&t);
	return r;
}

enum arc_cv
arc_validate(const char *msg, size_t len, const struct dkim_verify_opts *o,
	     int *sets_r, const char **why_r)
{
	size_t body = dkim_body_offset(msg, len);
	GArray *fields = dkim_fields(msg, body);
	struct chain *c = g_new0(struct chain, 1);
	enum arc_cv cv = ARC_CV_FAIL;
	gboolean any = FALSE;

	*sets_r = 0;
	*why_r = NULL;
	for (guint k = 0; k < fields->len && !any; k++)
		for (int p = 0; p < NPARTS; p++)
			any |= named(&g_array_index(fields, struct dkim_field, k),
				     part_names[p]);
	if (!any) {
		cv = ARC_CV_NONE;
		goto out;
	}
	if (!collect(fields, c, why_r))
		goto out;
	*sets_r = c->n;
	/* Each seal's cv=: none for the first, pass for the others. */
	for (int i = 1; i <= c->n; i++) {
		struct dkim_tags *t = field_tags(c->sets[i][AS]);
		const char *v = t != NULL ? dkim_tags_get(t, "cv") : NULL;
		gboolean ok = v != NULL && strcmp(v, i == 1 ? "none" : "pass") == 0 &&
			dkim_tags_get(t, "h") == NULL;

		dkim_tags_free(&t);
		if (!ok) {
			*why_r = "an ARC-Seal has the wrong cv= (or h=)";
			goto out;
		}
	}
	if (check_ams(msg, len, fields, c->sets[c->n][AMS], o, why_r) !=
	    DKIM_RESULT_PASS)
		goto out;
	for (int i = c->n; i >= 1; i--) {
		struct dkim_tags *t = field_tags(c->sets[i][AS]);
		GString *data = seal_data(c, i, NULL);
		enum dkim_result r = t != NULL ? check_tags(o, t, data->str,
							    data->len, why_r)
					       : DKIM_RESULT_PERMERROR;

		dkim_tags_free(&t);
		g_string_free(data, TRUE);
		if (r != DKIM_RESULT_PASS) {
			if (*why_r == NULL)
				*why_r = "an ARC-Seal does not verify";
			goto out;
		}
	}
	cv = ARC_CV_PASS;
out:
	g_free(c);
	g_array_unref(fields);
	return cv;
}

/* Whether the latest seal says cv=fail: no one may seal after it. */
static gboolean
last_seal_failed(const struct chain *c)
{
	struct dkim_tags *t = field_tags(c->sets[c->n][AS]);
	gboolean failed = t != NULL &&
		g_strcmp0(dkim_tags_get(t, "cv"), "fail") == 0;

	dkim_tags_free(&t);
	return failed;
}

char *
arc_seal(const struct dkim_key *k, const struct dkim_sign_opts *o,
	 const char *msg, size_t len, const char *bh, enum arc_cv cv,
	 const char *results, int64_t t, GError **error)
{
	size_t body = dkim_body_offset(msg, len);
	GArray *fields = dkim_fields(msg, body);
	struct chain *c = g_new0(struct chain, 1);
	const char *nl = dkim_line_end(msg, len), *why = NULL;
	char *start = NULL, *ams = NULL, *b, *out = NULL;
	GString *aar = NULL, *as = NULL, *data = NULL;
	int n = 0;

	/* A chain whose sets do not even parse cannot be sealed: a seal
	 * covers every set. */
	if (!collect(fields, c, &why)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "the ARC chain is malformed: %s", why);
		goto out;
	}
	if (c->n > 0 && last_seal_failed(c))
		n = ARC_MAX_SETS + 1;	/* RFC 8617 5.1.2: the chain has ended */
	n = MAX(n, c->n + 1);
	if (n > ARC_MAX_SETS) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "the ARC chain has ended (%d sets, or the last "
			    "sealed with cv=fail)", c->n);
		goto out;
	}
	if (n == 1)
		cv = ARC_CV_NONE;
	aar = g_string_new(NULL);
	g_string_printf(aar, "ARC-Authentication-Results: i=%d; %s", n, results);
	start = g_strdup_printf("ARC-Message-Signature: i=%d;", n);
	if ((ams = dkim_sign_field(k, o, msg, len, bh, t, start, error)) == NULL)
		goto out;
	/* The AMS ends in a line end; the seal needs the field alone. */
	g_strchomp(ams);
	as = g_string_new(NULL);
	g_string_printf(as, "ARC-Seal: i=%d; a=%s; t=%" G_GINT64_FORMAT "; cv=%s;%s"
			"\td=%s; s=%s; b=", n, dkim_alg_name(dkim_key_alg(k)), t,
			arc_cv_name(cv), nl, dkim_key_domain(k), dkim_key_selector(k));
	{
		struct dkim_field fa = { .name = aar->str, .name_len = 26,
					 .text = aar->str, .len = aar->len };
		struct dkim_field fm = { .name = ams, .name_len = 21, .text = ams,
					 .len = strlen(ams) };

		c->n = n;
		c->sets[n][AAR] = &fa;
		c->sets[n][AMS] = &fm;
		data = seal_data(c, n, as->str);
	}
	if ((b = dkim_key_sign(k, data->str, data->len, error)) == NULL)
		goto out;
	dkim_append_folded(as, b, nl);
	g_free(b);
	out = g_strconcat(as->str, nl, ams, nl, aar->str, nl, NULL);
out:
	if (aar != NULL)
		g_string_free(aar, TRUE);
	if (as != NULL)
		g_string_free(as, TRUE);
	if (data != NULL)
		g_string_free(data, TRUE);
	g_free(start);
	g_free(ams);
	g_free(c);
	g_array_unref(fields);
	return out;
}
