/*
 * api.h - the JSON REST API (/api/v1/, docs/api.md, docs/api/openapi.json)
 * and its tokens.
 *
 * Boundary: the API reads and changes lists only through the library
 * calls the command line uses (list.h, roster.h, subscribe.h, held.h,
 * pending.h, archive.h); what it keeps itself lives in the var dir:
 *
 *     api/tokens/<id>          one token: its name, scope (the site or a
 *                              list), read-only or not, the SHA-256 of its
 *                              secret, created, revoked (a GLib key file)
 *     api/idempotency/<token id>/<key hash>
 *                              the answer to a POST made with an
 *                              Idempotency-Key, kept for a day
 *
 * A token is "hrd_<id>_<secret>": id 16 hex digits (the file's name, so
 * checking a token is one read), secret 32 random bytes in URL-safe
 * base64.  Only the secret's hash is stored; the token is printed once.
 *
 * The API takes no cookies: only a bearer token authenticates, so a
 * browser's ambient credentials cannot be replayed against it (no CSRF).
 */
#ifndef HERALD_WEB_API_H
#define HERALD_WEB_API_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "store/site.h"
#include "web/web.h"

struct api_token {
	char *id;		/* 16 hex digits */
	char *name;
	char *list;		/* "" for the site */
	gboolean read_only;
	gboolean revoked;
	int64_t created;	/* epoch seconds */
	int64_t revoked_at;
};

void api_token_free(struct api_token **tp);
/* Makes a token; *secret_r gets the whole token text, to be shown once. */
int api_token_create(struct site *site, const char *name, const char *list,
		     gboolean read_only, char **secret_r,
		     struct api_token **token_r, GError **error);
/* Every token (revoked ones too), by creation. */
GPtrArray *api_token_list(struct site *site, GError **error);
/* Revokes by id or name: 1 done, 0 no such (unrevoked) token, -1 error. */
int api_token_revoke(struct site *site, const char *id_or_name,
		     GError **error);
/* The token the text is: 1 with *token_r (a revoked one too: the caller
 * says 401), 0 not a token of ours, -1 error. */
int api_token_check(struct site *site, const char *text,
		    struct api_token **token_r, GError **error);

/* --- what the API's files share (api.c) --- */

/* Whether token t may act on list (NULL: the site as a whole), writing
 * or not; answers 403 itself when not (api.c). */
gboolean api_allowed(struct web_response *rs, struct api_token *t,
		     const char *list, gboolean write);
/* The lists token t may see (all, or its one list), sorted; NULL with
 * the error answered. */
GPtrArray *api_lists_seen(struct web_request *rq, struct web_response *rs,
			  struct api_token *t);
/* A problem+json answer (RFC 9457): type is a short name made into
 * "https://herald.invalid/problems/<type>"; field (optional) names the
 * setting or field at fault. */
void api_problem(struct web_response *rs, unsigned status, const char *type,
		 const char *title, const char *detail, const char *field);
/* The problem for a library error: NOTFOUND 404, EXISTS 409, INVALID 422,
 * TIMEOUT 503, else 500 (logged). */
void api_gerror(struct web_response *rs, GError **error, const char *field);
/* A JSON answer (taking node). */
void api_json(struct web_response *rs, unsigned status, JsonNode *node);
void api_object(struct web_response *rs, unsigned status, JsonObject *o);
/* 200 with {"<name>": a} (taking a). */
void api_array(struct web_response *rs, const char *name, JsonArray *a);
/* The request's body as a JSON object; on failure answers 400 and
 * returns NULL. */
JsonObject *api_body(struct web_request *rq, struct web_response *rs);
/* Opens the list named by segment i; 404 problem and NULL when none. */
struct list *api_list_arg(struct web_request *rq, struct web_response *rs,
			  guint i);
gboolean api_method(struct web_request *rq, const char *method);
/* 405 with Allow. */
void api_not_allowed(struct web_response *rs, const char *allow);

/* The resources under /api/v1/lists/LIST/ other than the list itself
 * (api_members.c, api_requests.c); segment 3 names the resource. */
void api_members(struct web_request *rq, struct web_response *rs,
		 struct list *l, struct api_token *t);
void api_member_find(struct web_request *rq, struct web_response *rs,
		     struct api_token *t);
void api_held(struct web_request *rq, struct web_response *rs,
	      struct list *l, struct api_token *t);
void api_requests(struct web_request *rq, struct web_response *rs,
		  struct list *l, struct api_token *t);
void api_bounces(struct web_request *rq, struct web_response *rs,
		 struct list *l, struct api_token *t);
void api_archive(struct web_request *rq, struct web_response *rs,
		 struct list *l, struct api_token *t);
/* /api/v1/status and /metrics (api_status.c). */
void api_status(struct web_request *rq, struct web_response *rs);
void api_metrics_page(struct web_request *rq, struct web_response *rs);

#endif
