/*
 * process.c - scoring bounces, disabling, the outage guard (process.h).
 *
 * One entry is read into a report (detect.c for a returned message; the
 * recipients and SMTP replies of a bounce event from delivery), then one
 * roster_edit applies it: under the list lock the member records and the
 * day's ledger are read, decided on and written, so that two hosts
 * working on one list never lose an update.  What is to be said (warnings,
 * owners' notices) is collected and sent once the change is committed: a
 * notice never announces a change that did not happen.  A failure of no
 * member is offered to the lists this one includes (credit_siblings).
 */
#include "bounce/process.h"
#include "bounce/bounce-private.h"
#include "bounce/detect.h"
#include "base/base.h"
#include "base/log.h"
#include "list/notice.h"
#include "list/token.h"
#include "mail/address.h"
#include "mail/message.h"
#include "store/names.h"
#include "store/webhook.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOUNCE_SUBSYS "bounce"
#define DAY (24 * 3600)
#define LEDGER_FILE "bounces-today"
#define LEDGER_MAGIC "herald-bounces-today 1"
/* Sample reasons in an owners' notice. */
#define SAMPLES_MAX 10

/* Complaint actions: the choices of bounce_complaint_action. */
enum { COMPLAINT_DISABLE = 0, COMPLAINT_UNSUBSCRIBE = 1, COMPLAINT_IGNORE = 2 };

int64_t
bounce_day(int64_t t)
{
	return t - (t % DAY + DAY) % DAY;
}

/* --- the day's ledger -------------------------------------------------------- */

/* lists/<list>/bounces-today: the members who bounced today, whether a
 * bounce of today scored them (so the guard can take it back), and
 * whether the owners were told of an outage or of policy rejections. */
struct ledger {
	int64_t day;
	gboolean outage_told, policy_told;
	GHashTable *scored;	/* key -> GINT(1 scored today, 0 not) */
	GHashTable *sizes;	/* domain -> GUINT(its members), counted
				 * once a day: it takes a pass over the whole
				 * roster */
	guint members;		/* the list's members, counted once a day
				 * (the same pass), 0: not yet */
};

static void
ledger_init(struct ledger *d, int64_t today)
{
	d->day = today;
	d->outage_told = d->policy_told = FALSE;
	d->members = 0;
	d->scored = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	d->sizes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

static void
ledger_clear(struct ledger *d)
{
	g_hash_table_unref(d->scored);
	g_hash_table_unref(d->sizes);
}

static char *
ledger_path(struct list *l)
{
	return g_build_filename(list_dir(l), LEDGER_FILE, NULL);
}

/* Reads the ledger; one of another day (or none, or a damaged one: it is
 * only a day's counts) reads as an empty one for today. */
static int
ledger_read(struct list *l, int64_t today, struct ledger *d, GError **error)
{
	char *path = ledger_path(l), *buf = NULL, **lines;
	size_t len;
	int rd = fs_read_file(path, &buf, &len, error);

	g_free(path);
	ledger_init(d, today);
	if (rd <= 0)
		return rd;
	lines = g_strsplit(buf, "\n", -1);
	g_free(buf);
	if (lines[0] == NULL || strcmp(lines[0], LEDGER_MAGIC) != 0 ||
	    lines[1] == NULL || !g_str_has_prefix(lines[1], "day ") ||
	    g_ascii_strtoll(lines[1] + 4, NULL, 10) != today) {
		g_strfreev(lines);
		return 0;
	}
	for (int i = 2; lines[i] != NULL; i++) {
		const char *s = lines[i];

		if (strcmp(s, "outage-told") == 0)
			d->outage_told = TRUE;
		else if (strcmp(s, "policy-told") == 0)
			d->policy_told = TRUE;
		else if ((s[0] == '0' || s[0] == '1') && s[1] == ' ' && s[2] != '\0')
			g_hash_table_replace(d->scored, g_strdup(s + 2),
					     GINT_TO_POINTER(s[0] == '1'));
		else if (g_str_has_prefix(s, "members "))
			d->members = (guint)strtoul(s + 8, NULL, 10);
		else if (g_str_has_prefix(s, "size ") && strchr(s + 5, ' ') != NULL) {
			const char *sp = strchr(s + 5, ' ');

			g_hash_table_replace(d->sizes, g_strndup(s + 5, sp - (s + 5)),
					     GUINT_TO_POINTER(strtoul(sp + 1, NULL, 10)));
		}
	}
	g_strfreev(lines);
	return 0;
}

static int
ledger_write(struct list *l, const struct ledger *d, GError **error)
{
	GString *s = g_string_new(LEDGER_MAGIC "\n");
	GHashTableIter it;
	gpointer k, v;
	char *path = ledger_path(l);
	int ret;

	g_string_append_printf(s, "day %lld\n", (long long)d->day);
	if (d->outage_told)
		g_string_append(s, "outage-told\n");
	if (d->policy_told)
		g_string_append(s, "policy-told\n");
	if (d->members > 0)
		g_string_append_printf(s, "members %u\n", d->members);
	g_hash_table_iter_init(&it, d->sizes);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_string_append_printf(s, "size %s %u\n", (const char *)k,
				       GPOINTER_TO_UINT(v));
	g_hash_table_iter_init(&it, d->scored);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_string_append_printf(s, "%c %s\n", GPOINTER_TO_INT(v) ? '1' : '0',
				       (const char *)k);
	ret = fs_write_atomic(path, s->str, s->len, error);
	g_string_free(s, TRUE);
	g_free(path);
	return ret;
}

static const char *
key_domain(const char *key)
{
	const char *at = strrchr(key, '@');

	return at != NULL ? at + 1 : "";
}

/* --- reading an entry ---------------------------------------------------------- */

/* A bounce event from delivery: the recipients are META_MEMBER values,
 * each with a body line "ADDR: CODE TEXT"; a first line saying "still
 * deferred" means delivery gave up retrying. */
static struct bounce_report *
report_from_event(const struct queue_meta *meta, const char *data, size_t len)
{
	struct bounce_report *r = bounce_report_new();
	GPtrArray *rcpts = queue_meta_get_all(meta, META_MEMBER);
	char *text = g_strndup(data, len);
	char **lines = g_strsplit(text, "\n", -1);
	gboolean gave_up = lines[0] != NULL &&
			   strstr(lines[0], "still deferred") != NULL;

	r->kind = BOUNCE_KIND_FAILURE;
	r->format = "event";
	for (guint i = 0; rcpts != NULL && i < rcpts->len; i++) {
		const char *rcpt = rcpts->pdata[i];
		struct bounce_evidence ev = { .final = 1, .perm_hint = -1 };
		struct bounce_failure *f;
		size_t rl = strlen(rcpt);

		for (int j = 1; lines[j] != NULL; j++)
			if (strncmp(lines[j], rcpt, rl) == 0 &&
			    strncmp(lines[j] + rl, ": ", 2) == 0) {
				ev.diag = lines[j] + rl + 2;
				break;
			}
		f = g_new0(struct bounce_failure, 1);
		f->addr = address_normalise(rcpt, NULL);
		if (f->addr == NULL)
			f->addr = g_strdup(rcpt);
		bounce_classify(&ev, f);
		if (gave_up) {
			f->reason = BOUNCE_EXPIRED;
			f->permanent = FALSE;
		}
		g_ptr_array_add(r->failures, f);
	}
	if (rcpts != NULL)
		g_ptr_array_free(rcpts, TRUE);
	g_strfreev(lines);
	g_free(text);
	return r;
}

/* --- deciding, under the lock ------------------------------------------------- */

/* Something to say once the change is committed. */
enum say_what {
	SAY_DISABLED,		/* to the member (first warning) and owners */
	SAY_INCREMENT,		/* to the owners: a score rose */
	SAY_COMPLAINT,		/* to the owners: a complaint acted on */
	SAY_PROBE,		/* to the member: a VERP probe */
};

struct say {
	enum say_what what;
	char *addr;
	double score;
	char *reason;		/* reason name */
	char *diag;		/* or NULL */
	char *language;		/* the member's, "" = the list's */
	gboolean removed;	/* complaint: unsubscribed, not disabled */
};

static void
say_free(gpointer p)
{
	struct say *s = p;

	g_free(s->addr);
	g_free(s->reason);
	g_free(s->diag);
	g_free(s->language);
	g_free(s);
}

/* The settings an entry is judged by, read once before the lock. */
struct policy {
	gboolean processing;
	double threshold;
	int64_t stale_days;
	int warnings;
	int complaint_action;
	int64_t outage_share;	/* percent */
	int64_t outage_minimum;
	gboolean notify_increment;
	gboolean probes;	/* bounce_verp_probes */
};

struct apply {
	struct list *list;
	struct policy pol;
	int64_t now, today;
	struct bounce_report *report;
	gboolean certain;	/* the member is known for sure: a VERP
				 * address or delivery's own event */
	gboolean probe;		/* a bounce of a VERP probe (verified) */
	struct bounce_outcome *out;
	/* Results for after the commit. */
	GPtrArray *says;	/* struct say * */
	GPtrArray *unrecognized;	/* addresses */
	GPtrArray *policy;	/* "ADDR: diagnostic" lines */
	gboolean tell_policy;
	gboolean tell_outage;
	GString *outage_text;
	GMimeMessage *sample;	/* the bounce, attached to probes */
	/* Working copies of the members changed, by key. */
	GHashTable *work;	/* key -> struct member * */
	GPtrArray *strings;	/* strings the copies own */
};

static const char *
own(struct apply *a, char *s)
{
	g_ptr_array_add(a->strings, s);
	return s;
}

/* The working copy of member m: changes to it are put in the change at
 * the end.  Strings point into the roster (alive while the edit runs) or
 * into a->strings. */
static struct member *
work_member(struct apply *a, const struct member *m)
{
	struct member *w = g_hash_table_lookup(a->work, m->key);

	if (w == NULL) {
		w = g_new(struct member, 1);
		*w = *m;
		g_hash_table_insert(a->work, (gpointer)m->key, w);
	}
	return w;
}

/* The member a failure is about: its address, else the address it had
 * before forwarding (Original-Recipient). */
static const struct member *
failure_member(struct apply *a, const struct roster *r,
	       const struct bounce_failure *f)
{
	const struct member *m = roster_find(r, f->addr);

	if (m == NULL && f->original != NULL)
		m = roster_find(r, f->original);
	if (m != NULL && g_hash_table_lookup(a->work, m->key) != NULL)
		return g_hash_table_lookup(a->work, m->key);
	return m;
}

static void
disable(struct apply *a, struct member *w, const char *why)
{
	w->status = STATUS_BY_BOUNCE;
	w->status_time = a->now;
	w->status_reason = (char *)own(a, g_strdup(why));
	/* The first warning goes now (below); the rest come with the daily
	 * task.  With no warnings (Mailman: remove at once) the next run of
	 * the task removes the member: not here, so that the outage guard
	 * can still take the disabling back the same day. */
	w->bounce.notices_left = a->pol.warnings > 0 ? a->pol.warnings - 1 : 0;
	w->bounce.last_notice = a->pol.warnings > 0 ? a->now : 0;
}

static void
add_say(struct apply *a, enum say_what what, const struct member *w,
	const struct bounce_failure *f, gboolean removed)
{
	struct say *s = g_new0(struct say, 1);

	s->what = what;
	s->addr = g_strdup(w->addr);
	s->score = w->bounce.score;
	s->reason = g_strdup(bounce_reason_name(f->reason));
	s->diag = g_strdup(f->diagnostic);
	s->language = g_strdup(w->language);
	s->removed = removed;
	g_ptr_array_add(a->says, s);
}

/* Mailman 2.1's registerBounceEvent for one member, with herald's
 * weights. */
static void
score(struct apply *a, struct member *w, const struct bounce_failure *f)
{
	double weight = f->permanent ? 1.0 : 0.5;
	struct member_bounce *b = &w->bounce;

	if (b->last == a->today) {
		a->out->ignored++;	/* once a day */
		return;
	}
	if (b->last == 0 || b->last + a->pol.stale_days * DAY < a->today)
		b->score = weight;	/* new, or stale: start again */
	else
		b->score += weight;
	b->last = a->today;
	b->last_weight = weight;
	b->reason = (char *)bounce_reason_name(f->reason);
	a->out->scored++;
	if (b->score + 1e-9 >= a->pol.threshold && !a->certain && a->pol.probes) {
		/* Not sure the bounce was this member's: ask with a probe,
		 * whose bounce disables (Mailman's VERP_PROBES). */
		add_say(a, SAY_PROBE, w, f, FALSE);
	} else if (b->score + 1e-9 >= a->pol.threshold) {
		char *why = g_strdup_printf("bounce score %.1f: %s", b->score,
					    b->reason);
		disable(a, w, why);
		g_free(why);
		a->out->disabled++;
		add_say(a, SAY_DISABLED, w, f, FALSE);
	} else if (a->pol.notify_increment) {
		add_say(a, SAY_INCREMENT, w, f, FALSE);
	}
}

static void
complaint(struct apply *a, struct roster_change *c, struct member *w,
	  const struct bounce_failure *f)
{
	switch (a->pol.complaint_action) {
	case COMPLAINT_IGNORE:
		a->out->ignored++;
		return;
	case COMPLAINT_UNSUBSCRIBE:
		roster_change_remove(c, w->addr);
		add_say(a, SAY_COMPLAINT, w, f, TRUE);
		/* Frees the working copy w too (the table owns it). */
		g_hash_table_remove(a->work, w->key);
		break;
	default:
		if (w->status != STATUS_ENABLED) {
			a->out->ignored++;
			return;
		}
		w->status = STATUS_BY_OWNER;
		w->status_time = a->now;
		w->status_reason = (char *)own(a, g_strdup("abuse complaint"));
		w->bounce.reason = (char *)bounce_reason_name(f->reason);
		add_say(a, SAY_COMPLAINT, w, f, FALSE);
		break;
	}
	a->out->disabled++;
}

/* Whether the count n of bouncing members out of total trips the guard. */
static gboolean
over_share(const struct apply *a, guint n, guint total)
{
	return n >= (guint)a->pol.outage_minimum &&
	       (double)n * 100.0 > (double)a->pol.outage_share * (double)total;
}

/* The members of every domain of the roster, into sizes. */
static void
count_domains(const struct roster *r, GHashTable *sizes)
{
	GPtrArray *all = roster_members(r, FALSE);

	g_hash_table_remove_all(sizes);
	for (guint i = 0; i < all->len; i++) {
		const char *dom = key_domain(((struct member *)all->pdata[i])->key);
		gpointer n = g_hash_table_lookup(sizes, dom);

		if (n == NULL)
			g_hash_table_insert(sizes, g_strdup(dom), GUINT_TO_POINTER(1));
		else
			g_hash_table_replace(sizes, g_strdup(dom),
					     GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
	}
	g_ptr_array_free(all, TRUE);
}

/* The scopes in outage: "*" for the whole list, else domains. */
static GHashTable *
outage_scopes(struct apply *a, const struct roster *r, struct ledger *d)
{
	GHashTable *scopes = g_hash_table_new(g_str_hash, g_str_equal);
	GHashTable *by_domain = g_hash_table_new(g_str_hash, g_str_equal);
	GHashTableIter it;
	gpointer k, v;
	gboolean any_domain = FALSE;

	if (g_hash_table_size(d->scored) >= (guint)a->pol.outage_minimum) {
		/* Counting the members indexes the whole roster: once a day. */
		if (d->members == 0)
			d->members = roster_count(r);
		if (over_share(a, g_hash_table_size(d->scored), d->members))
			g_hash_table_add(scopes, "*");
	}
	g_hash_table_iter_init(&it, d->scored);
	while (g_hash_table_iter_next(&it, &k, NULL)) {
		const char *dom = key_domain(k);
		guint n = GPOINTER_TO_UINT(g_hash_table_lookup(by_domain, dom)) + 1;

		g_hash_table_insert(by_domain, (gpointer)dom, GUINT_TO_POINTER(n));
		any_domain |= n >= (guint)a->pol.outage_minimum;
	}
	if (any_domain) {
		/* Only then is every member looked at, once a day: the sizes
		 * of the domains that bounced so far. */
		gboolean missing = FALSE;

		g_hash_table_iter_init(&it, by_domain);
		while (g_hash_table_iter_next(&it, &k, NULL))
			missing |= !g_hash_table_contains(d->sizes, k);
		if (missing)
			count_domains(r, d->sizes);
		g_hash_table_iter_init(&it, by_domain);
		while (g_hash_table_iter_next(&it, &k, &v))
			if (over_share(a, GPOINTER_TO_UINT(v), GPOINTER_TO_UINT(
					g_hash_table_lookup(d->sizes, k))))
				g_hash_table_add(scopes, k);
	}
	g_hash_table_unref(by_domain);
	return scopes;
}

static gboolean
in_scope(GHashTable *scopes, const char *key)
{
	return g_hash_table_contains(scopes, "*") ||
	       g_hash_table_contains(scopes, key_domain(key));
}

/* Takes back what today's bounces scored for the members in scope: the
 * guard found they were an outage. */
static void
undo_today(struct apply *a, const struct roster *r, struct ledger *d,
	   GHashTable *scopes)
{
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, d->scored);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const struct member *m;
		struct member *w;

		if (!GPOINTER_TO_INT(v) || !in_scope(scopes, k))
			continue;
		g_hash_table_iter_replace(&it, GINT_TO_POINTER(0));
		if ((m = roster_find(r, k)) == NULL)
			continue;
		w = work_member(a, m);
		if (w->bounce.last != a->today)
			continue;	/* written before a crash, not scored */
		w->bounce.score = MAX(0.0, w->bounce.score - w->bounce.last_weight);
		w->bounce.last_weight = 0;
		if (w->status == STATUS_BY_BOUNCE && w->status_time >= a->today) {
			w->status = STATUS_ENABLED;
			w->status_time = a->now;
			w->status_reason = "";
			w->bounce.notices_left = 0;
			w->bounce.last_notice = 0;
		}
		a->out->undone++;
	}
}

static void
outage_text(struct apply *a, const struct roster *r, const struct ledger *d,
	    GHashTable *scopes)
{
	GString *s = g_string_new(NULL);
	GHashTableIter it;
	gpointer k;
	int samples = 0;

	g_hash_table_iter_init(&it, scopes);
	while (g_hash_table_iter_next(&it, &k, NULL))
		g_string_append_printf(s, "%s%s", s->len > 0 ? ", " : "",
				       strcmp(k, "*") == 0 ? "the whole list"
				       : (const char *)k);
	g_string_prepend(s, "Scope: ");
	g_string_append_printf(s, "\nMembers who bounced today: %u of %u.\n\n"
			       "Sample reasons:\n",
			       g_hash_table_size(d->scored),
			       d->members > 0 ? d->members : roster_count(r));
	for (guint i = 0; i < a->report->failures->len && samples < SAMPLES_MAX; i++) {
		const struct bounce_failure *f = a->report->failures->pdata[i];

		g_string_append_printf(s, "  %s: %s%s%s\n", f->addr,
				       bounce_reason_name(f->reason),
				       f->diagnostic != NULL ? ": " : "",
				       f->diagnostic != NULL ? f->diagnostic : "");
		samples++;
	}
	a->outage_text = s;
}

static int
apply_fn(const struct roster *r, struct roster_change *c, void *ctx,
	 GError **error)
{
	struct apply *a = ctx;
	struct ledger d;
	GPtrArray *candidates = g_ptr_array_new();	/* failure indexes */
	GHashTable *scopes;
	GHashTableIter it;
	gpointer v;
	int ret;

	if (ledger_read(a->list, a->today, &d, error) < 0) {
		g_ptr_array_free(candidates, TRUE);
		ledger_clear(&d);
		return -1;
	}
	for (guint i = 0; i < a->report->failures->len; i++) {
		const struct bounce_failure *f = a->report->failures->pdata[i];
		const struct member *m = failure_member(a, r, f);
		struct member *w;

		if (m == NULL) {
			a->out->unrecognized++;
			g_ptr_array_add(a->unrecognized, g_strdup(f->addr));
			continue;
		}
		w = work_member(a, m);
		if (f->reason == BOUNCE_COMPLAINT) {
			complaint(a, c, w, f);
			continue;
		}
		if (!a->pol.processing || w->status != STATUS_ENABLED) {
			a->out->ignored++;
			continue;
		}
		if (f->reason == BOUNCE_POLICY) {
			/* Not the member's fault: kept for `bounce status`,
			 * told to the owners, not scored. */
			w->bounce.reason = (char *)bounce_reason_name(f->reason);
			g_ptr_array_add(a->policy, g_strdup_printf("%s: %s", w->addr,
				f->diagnostic != NULL ? f->diagnostic : "(no reason given)"));
			a->out->ignored++;
			continue;
		}
		if (!g_hash_table_contains(d.scored, w->key))
			g_hash_table_insert(d.scored, g_strdup(w->key),
					    GINT_TO_POINTER(0));
		g_ptr_array_add(candidates, GUINT_TO_POINTER(i));
	}
	scopes = outage_scopes(a, r, &d);
	for (guint i = 0; i < candidates->len; i++) {
		const struct bounce_failure *f =
			a->report->failures->pdata[GPOINTER_TO_UINT(candidates->pdata[i])];
		struct member *w = (struct member *)failure_member(a, r, f);

		if (in_scope(scopes, w->key)) {
			a->out->guarded++;
			continue;
		}
		if (a->probe) {
			/* The probe bounced: the member's address is dead,
			 * whatever the score. */
			disable(a, w, "a VERP probe bounced");
			w->bounce.reason = (char *)bounce_reason_name(f->reason);
			a->out->disabled++;
			add_say(a, SAY_DISABLED, w, f, FALSE);
			g_hash_table_replace(d.scored, g_strdup(w->key),
					     GINT_TO_POINTER(0));
		} else if (w->bounce.last != a->today) {
			score(a, w, f);
			g_hash_table_replace(d.scored, g_strdup(w->key),
					     GINT_TO_POINTER(1));
		} else {
			a->out->ignored++;
		}
	}
	if (g_hash_table_size(scopes) > 0) {
		undo_today(a, r, &d, scopes);
		if (!d.outage_told) {
			d.outage_told = TRUE;
			a->tell_outage = TRUE;
			outage_text(a, r, &d, scopes);
		}
	}
	if (a->policy->len > 0 && !d.policy_told) {
		d.policy_told = TRUE;
		a->tell_policy = TRUE;
	}
	g_hash_table_unref(scopes);
	g_ptr_array_free(candidates, TRUE);
	/* The ledger first: a crash before the roster's commit leaves it
	 * counting a member the roster did not score, which undo_today and
	 * the once-a-day check read from the roster, not from here. */
	ret = ledger_write(a->list, &d, error);
	ledger_clear(&d);
	if (ret < 0)
		return -1;
	g_hash_table_iter_init(&it, a->work);
	while (g_hash_table_iter_next(&it, NULL, &v))
		roster_change_put(c, v);
	return 0;
}

/* --- saying it, after the commit ------------------------------------------------ */

static void
log_send(struct list *l, int ret, GError **error, const char *what)
{
	if (ret < 0) {
		log_error(BOUNCE_SUBSYS, "list %s: %s not sent: %s", list_fqdn(l),
			  what, (*error)->message);
		g_clear_error(error);
	}
}

static void
say_one(struct apply *a, const struct say *s)
{
	struct list *l = a->list;
	GError *error = NULL;
	char *subject, *text;

	switch (s->what) {
	case SAY_DISABLED:
		log_info(BOUNCE_SUBSYS, "list %s: %s disabled, bounce score %.1f "
			 "(%s)", list_fqdn(l), s->addr, s->score, s->reason);
		{
			JsonObject *ev = json_object_new();

			json_object_set_string_member(ev, "address", s->addr);
			json_object_set_double_member(ev, "score", s->score);
			json_object_set_string_member(ev, "reason", s->reason);
			webhook_emit(list_site(l), list_fqdn(l),
				     "member.disabled", ev);
		}
		if (a->pol.warnings > 0)
			log_send(l, bounce_send_warning(l, s->addr, s->language,
							s->reason, a->pol.warnings - 1,
							&error), &error, "warning");
		if (!list_get_bool(l, "bounce_notify_owner_on_disable"))
			return;
		subject = g_strdup_printf("Bounce action notification: %s disabled",
					  s->addr);
		text = g_strdup_printf("%s's delivery from %s has been disabled: its "
				       "bounce score reached %.1f.\nLast reason: %s"
				       "%s%s\n", s->addr, list_fqdn(l), s->score,
				       s->reason, s->diag != NULL ? "\n  " : "",
				       s->diag != NULL ? s->diag : "");
		break;
	case SAY_INCREMENT:
		subject = g_strdup_printf("Bounce score of %s now %.1f", s->addr,
					  s->score);
		text = g_strdup_printf("%s bounced (%s%s%s); its score on %s is now "
				       "%.1f of %.1f.\n", s->addr, s->reason,
				       s->diag != NULL ? ": " : "",
				       s->diag != NULL ? s->diag : "", list_fqdn(l),
				       s->score, a->pol.threshold);
		break;
	case SAY_PROBE:
		log_send(l, bounce_send_probe(l, s->addr, s->language, a->sample,
					      &error), &error, "probe");
		return;
	default:
		log_info(BOUNCE_SUBSYS, "list %s: abuse complaint about %s: %s",
			 list_fqdn(l), s->addr, s->removed ? "unsubscribed" : "disabled");
		subject = g_strdup_printf("Abuse complaint about %s's copy", s->addr);
		text = g_strdup_printf("A feedback report (RFC 5965) says that %s "
				       "reported a post of %s as abuse.\nThe member "
				       "was %s (bounce_complaint_action).\n", s->addr,
				       list_fqdn(l), s->removed ? "unsubscribed"
				       : "disabled");
		break;
	}
	log_send(l, notice_to_owners(l, subject, text, NULL, &error), &error,
		 "owners' notice");
	g_free(subject);
	g_free(text);
}

/* A bounce naming no member (count addresses), or no failure at all (0):
 * to the owners when bounce_unrecognized_goes_to_list_owner, with the
 * message attached; a bounce event of herald's own (data NULL) is only
 * logged. */
static void
tell_unrecognized(struct list *l, guint count, const char *data, size_t len)
{
	gboolean forward = data != NULL &&
			   list_get_bool(l, "bounce_unrecognized_goes_to_list_owner");
	GError *error = NULL;
	GMimeMessage *msg;

	log_info(BOUNCE_SUBSYS, "list %s: unrecognized bounce (%u address%s, no "
		 "member)%s", list_fqdn(l), count, count == 1 ? "" : "es",
		 forward ? ", sent to the owners" : ", discarded");
	if (!forward)
		return;
	msg = message_parse(data, len, NULL);
	log_send(l, notice_to_owners(l, "Unrecognized bounce",
		 "herald could not match this bounce to a member of the list.\n"
		 "It is attached.\n", msg, &error), &error, "unrecognized bounce");
	if (msg != NULL)
		g_object_unref(msg);
}

static void
say_all(struct apply *a, const char *data, size_t len)
{
	struct list *l = a->list;
	GError *error = NULL;

	for (guint i = 0; i < a->says->len; i++) {
		const struct say *s = a->says->pdata[i];

		if (s->what == SAY_PROBE && a->sample == NULL && data != NULL)
			a->sample = message_parse(data, len, NULL);
		say_one(a, s);
	}
	if (a->tell_outage) {
		char *subject = g_strdup_printf("Bounces on %s look like an outage: "
						"nobody was disabled", list_fqdn(l));
		char *text = g_strdup_printf(
			"Many members of %s bounced on the same day.  That is almost\n"
			"always the list's own mail server or a receiving provider\n"
			"(an outage, a blocklisting), not dead addresses, so these\n"
			"bounces are not scored and what they scored today was taken\n"
			"back (bounce_outage_share, bounce_outage_minimum).\n\n%s\n"
			"You are told once a day while it lasts.\n",
			list_fqdn(l), a->outage_text->str);
		log_info(BOUNCE_SUBSYS, "list %s: outage guard: %s", list_fqdn(l),
			 a->outage_text->str);
		log_send(l, notice_to_owners(l, subject, text, NULL, &error), &error,
			 "outage notice");
		g_free(subject);
		g_free(text);
	}
	if (a->tell_policy) {
		char *lines = g_strjoinv("\n  ", (char **)a->policy->pdata);
		char *subject = g_strdup_printf("Posts of %s refused for policy reasons",
						list_fqdn(l));
		char *text = g_strdup_printf(
			"Receiving servers refused members' copies for reasons that\n"
			"are not the members' fault (DMARC, spam filters,\n"
			"blocklists).  They were not scored.  The refusals:\n\n  %s\n\n"
			"You are told at most once a day: later refusals today are\n"
			"only logged, and `herald bounce status %s` shows each\n"
			"member's last reason.\n", lines, list_fqdn(l));
		log_send(l, notice_to_owners(l, subject, text, NULL, &error), &error,
			 "policy notice");
		g_free(lines);
		g_free(subject);
		g_free(text);
	}
	if (a->unrecognized->len > 0)
		tell_unrecognized(l, a->unrecognized->len, data, len);
}

/* --- one entry ------------------------------------------------------------------- */

static void
policy_read(struct list *l, struct policy *p)
{
	p->processing = list_get_bool(l, "bounce_processing");
	p->threshold = (double)list_get_int(l, "bounce_score_threshold");
	p->stale_days = list_get_int(l, "bounce_info_stale_after");
	p->warnings = (int)list_get_int(l, "bounce_you_are_disabled_warnings");
	p->complaint_action = (int)list_get_int(l, "bounce_complaint_action");
	p->outage_share = list_get_int(l, "bounce_outage_share");
	p->outage_minimum = list_get_int(l, "bounce_outage_minimum");
	p->notify_increment = list_get_bool(l, "bounce_notify_owner_on_bounce_increment");
	p->probes = list_get_bool(l, "bounce_verp_probes");
}

static int apply_report(struct list *l, struct bounce_report *report,
			gboolean certain, gboolean probe, const char *data,
			size_t len, int64_t now, GPtrArray *left,
			struct bounce_outcome *out, GError **error);

/* Whether addrs (strings) holds addr. */
static gboolean
addr_listed(GPtrArray *addrs, const char *addr)
{
	for (guint i = 0; i < addrs->len; i++)
		if (strcmp(addrs->pdata[i], addr) == 0)
			return TRUE;
	return FALSE;
}

/*
 * Failures of no member of a's list, credited to the lists it includes
 * (regular_include_lists) whose members they are, as Mailman 2.1's
 * registerBounce did: such a recipient got the post as the other list's
 * member, so the other list scores it.  One level, as in Mailman (the
 * other list's own siblings are not asked).  What a sibling takes leaves
 * a->unrecognized; a sibling that cannot be reached is logged, and its
 * failures stay unrecognized here.
 */
static void
credit_siblings(struct apply *a, const char *data, size_t len)
{
	char *text = list_get(a->list, "regular_include_lists", NULL);
	char **sibs = g_strsplit(text != NULL ? text : "", "\n", -1);

	for (guint s = 0; sibs[s] != NULL && a->unrecognized->len > 0; s++) {
		const char *fqdn = g_strstrip(sibs[s]);
		struct bounce_report sub = *a->report;
		struct bounce_outcome o;
		GPtrArray *left = g_ptr_array_new_with_free_func(g_free);
		GError *e = NULL;
		struct list *sib;

		if (*fqdn == '\0' ||
		    (sib = list_open(list_site(a->list), fqdn, &e)) == NULL) {
			if (e != NULL)
				log_warning(BOUNCE_SUBSYS, "list %s: included list "
					    "%s: %s", list_fqdn(a->list), fqdn,
					    e->message);
			g_clear_error(&e);
			g_ptr_array_unref(left);
			continue;
		}
		sub.failures = g_ptr_array_new();
		for (guint i = 0; i < a->report->failures->len; i++) {
			struct bounce_failure *f = a->report->failures->pdata[i];

			if (addr_listed(a->unrecognized, f->addr))
				g_ptr_array_add(sub.failures, f);
		}
		memset(&o, 0, sizeof o);
		if (apply_report(sib, &sub, a->certain, FALSE, data, len, a->now,
				 left, &o, &e) < 0) {
			log_error(BOUNCE_SUBSYS, "list %s: bounces of included "
				  "list %s's members not scored there: %s",
				  list_fqdn(a->list), fqdn, e->message);
			g_clear_error(&e);
		} else {
			for (guint i = a->unrecognized->len; i-- > 0;) {
				const char *addr = a->unrecognized->pdata[i];

				if (addr_listed(left, addr))
					continue;
				log_info(BOUNCE_SUBSYS, "list %s: the bounce of %s, a "
					 "member of included list %s, credited "
					 "there", list_fqdn(a->list), addr, fqdn);
				g_ptr_array_remove_index(a->unrecognized, i);
				a->out->unrecognized--;
			}
			a->out->scored += o.scored;
			a->out->disabled += o.disabled;
		}
		g_ptr_array_free(sub.failures, TRUE);
		g_ptr_array_unref(left);
		list_free(&sib);
	}
	g_strfreev(sibs);
	g_free(text);
}

/* Applies report to list l.  left NULL: the list's own bounce (its
 * siblings are asked about non-members, and the owners told of the
 * rest); otherwise a sibling's (credit_siblings): the addresses that are
 * no member here go to left, and nobody is told of them. */
static int
apply_report(struct list *l, struct bounce_report *report, gboolean certain,
	     gboolean probe, const char *data, size_t len, int64_t now,
	     GPtrArray *left, struct bounce_outcome *out, GError **error)
{
	struct apply a = {
		.list = l, .now = now, .today = bounce_day(now),
		.report = report, .out = out, .certain = certain, .probe = probe,
		.says = g_ptr_array_new_with_free_func(say_free),
		.unrecognized = g_ptr_array_new_with_free_func(g_free),
		.policy = g_ptr_array_new_with_free_func(g_free),
		.work = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free),
		.strings = g_ptr_array_new_with_free_func(g_free),
	};
	int ret;

	policy_read(l, &a.pol);
	ret = roster_edit(l, apply_fn, &a, error);
	if (ret == 0) {
		if (left == NULL && a.unrecognized->len > 0)
			credit_siblings(&a, data, len);
		for (guint i = 0; left != NULL && i < a.unrecognized->len; i++)
			g_ptr_array_add(left, g_strdup(a.unrecognized->pdata[i]));
		if (left != NULL)
			g_ptr_array_set_size(a.unrecognized, 0);
		g_ptr_array_add(a.policy, NULL);
		say_all(&a, data, len);
	} else if (error != NULL &&
		   (g_error_matches(*error, HERALD_ERROR, HERALD_ERR_TIMEOUT) ||
		    g_error_matches(*error, HERALD_ERROR, HERALD_ERR_LOST))) {
		/* The list lock not had in time (another host's long change,
		 * or a dead host's lock until it expires) or lost while
		 * writing: the environment's fault, not the entry's, so it is
		 * to be tried again (HERALD_ERR_IO), not shunted. */
		(*error)->code = HERALD_ERR_IO;
	}
	g_ptr_array_free(a.says, TRUE);
	g_ptr_array_free(a.unrecognized, TRUE);
	g_ptr_array_free(a.policy, TRUE);
	g_hash_table_unref(a.work);
	g_ptr_array_free(a.strings, TRUE);
	if (a.outage_text != NULL)
		g_string_free(a.outage_text, TRUE);
	if (a.sample != NULL)
		g_object_unref(a.sample);
	return ret;
}

int
bounce_process(struct site *site, const struct queue_meta *meta,
	       const char *data, size_t len, int64_t now,
	       struct bounce_outcome *out, GError **error)
{
	const char *kind = queue_meta_get(meta, META_KIND);
	gboolean event = kind != NULL && strcmp(kind, "bounce-event") == 0;
	const char *fqdn = queue_meta_get(meta, META_LIST);
	const char *rcpt = queue_meta_get(meta, META_RECIPIENT);
	char *verp = NULL, *token = NULL;
	gboolean probe = FALSE;
	struct bounce_report *report;
	struct list *l;
	GError *local = NULL;
	int ret;

	memset(out, 0, sizeof *out);
	if (event) {
		report = report_from_event(meta, data, len);
	} else {
		if (bounce_probe_split(rcpt, &verp, &token))
			rcpt = verp;
		report = bounce_detect_data(data, len, rcpt, error);
		if (report == NULL) {
			g_free(verp);
			g_free(token);
			return -1;
		}
	}
	if (token != NULL && fqdn != NULL && report->verp &&
	    report->failures->len == 1) {
		const struct bounce_failure *f = report->failures->pdata[0];

		probe = token_verify(site, fqdn, f->addr, TOKEN_PURPOSE_PROBE,
				     token, NULL) == 1;
		if (!probe)
			log_info(BOUNCE_SUBSYS, "list %s: a probe bounce for %s with "
				 "a token herald did not make: read as VERP",
				 fqdn, f->addr);
	}
	g_free(verp);
	g_free(token);
	out->failures = (int)report->failures->len;
	if (report->failures->len == 0 || report->kind == BOUNCE_KIND_DELAY) {
		/* Vacation messages, successful deliveries, delay warnings
		 * (Mailman 2.1 ignores them too: the MTA is still trying)
		 * and whatever says nothing of a failure. */
		out->not_bounce = TRUE;
		out->ignored = out->failures;
		log_info(BOUNCE_SUBSYS, "list %s: %s, not scored (%s)",
			 fqdn != NULL ? fqdn : "(none)",
			 report->failures->len == 0 ? "no failure reported"
			 : "delay warning", bounce_kind_name(report->kind));
		if (report->kind == BOUNCE_KIND_NONE && fqdn != NULL &&
		    (l = list_open(site, fqdn, NULL)) != NULL) {
			/* No report of any kind: unrecognized, as Mailman
			 * 2.1 treats what its detectors do not read. */
			tell_unrecognized(l, 0, data, len);
			list_free(&l);
		}
		bounce_report_free(&report);
		return 0;
	}
	if (fqdn == NULL || (l = list_open(site, fqdn, &local)) == NULL) {
		log_info(BOUNCE_SUBSYS, "a bounce for %s discarded: %s",
			 fqdn != NULL ? fqdn : "no list",
			 local != NULL ? local->message : "no list named");
		g_clear_error(&local);
		out->unrecognized = out->failures;
		bounce_report_free(&report);
		return 0;
	}
	ret = apply_report(l, report, event || report->verp, probe,
			   event ? NULL : data, len, now, NULL, out, error);
	if (ret == 0) {	/* else nothing was done: the runner logs why */
		JsonObject *ev = json_object_new();

		json_object_set_string_member(ev, "format", report->format != NULL
					      ? report->format : "");
		json_object_set_int_member(ev, "failures", out->failures);
		json_object_set_int_member(ev, "scored", out->scored);
		json_object_set_int_member(ev, "disabled", out->disabled);
		webhook_emit(site, list_fqdn(l), "bounce.received", ev);
		log_info(BOUNCE_SUBSYS, "list %s: %s bounce, %d failure%s: %d "
			 "scored, %d disabled, %d not members, %d ignored, %d "
			 "guarded, %d taken back", list_fqdn(l),
			 report->format != NULL ? report->format : "?",
			 out->failures, out->failures == 1 ? "" : "s", out->scored,
			 out->disabled, out->unrecognized, out->ignored,
			 out->guarded, out->undone);
	}
	bounce_report_free(&report);
	list_free(&l);
	return ret;
}
