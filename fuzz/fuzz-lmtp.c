/*
 * fuzz-lmtp.c - libFuzzer target: the LMTP session state machine
 * (src/lib/entry/lmtp_session.c) fed raw client bytes, as the server's
 * session process feeds it, with no socket.
 *
 * An input is one session.  Its first byte steers the driver, the rest is
 * what the client sends:
 *   bits 0-2  how the bytes are cut into reads (1 byte at a time, up to
 *             whole, by a PRNG seeded from the input): a command or the
 *             final dot split anywhere must mean the same;
 *   bits 3-4  how the session ends after the last byte: the client closes,
 *             the command or DATA timeout, the server stops (drain, then
 *             the client closes), the server stops at once;
 *   bit 5     the server starts stopping halfway through (drain), and the
 *             bytes go on;
 *   bit 6     a message limit of 64 KiB instead of 1 KiB;
 *   bit 7     every third store fails (451) besides those asked for.
 * A message that holds "TEMPFAIL" is not stored (451), one that holds
 * "REFUSE" is refused for good (554), like the entry's check does
 * (entry/accept.h).  The var dir has the lists demo@ and other@example.org
 * (made once, in LLVMFuzzerInitialize), so RCPT maps real addresses.
 *
 * Checked after every read, as a crash:
 *   - each reply line is "DDD text" or "DDD-text", first digit 2 to 5,
 *     CRLF-ended, at most LMTP_REPLY_MAX bytes, with no other CR or LF and
 *     no control character; the lines of a multi-line reply share a code;
 *   - after a 354, the next replies are one per recipient accepted since
 *     the MAIL (250, 451, 552 or 554 naming it), unless the session closes
 *     before the message was complete, in which case nothing was stored;
 *   - every 250 after DATA names an ID the store callback gave out, once,
 *     and every store that succeeded got its 250 (at the end: exactly
 *     once each);
 *   - a stored message is at most the limit, ends with a line feed (or is
 *     empty), and the callback is called only with a sender;
 *   - the session's memory (lmtp_session_memory) stays under twice the
 *     limit, plus the line buffer and the replies of one read;
 *   - nothing is written once the session has closed.
 * Everything is freed after each input (LeakSanitizer checks).
 */
#include "base/base.h"
#include "base/log.h"
#include "entry/lmtp_session.h"
#include "list/list.h"
#include "store/site.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	char *var_dir;
	struct site *site;
} fz;

/* One input's bookkeeping. */
struct run {
	struct lmtp_limits limits;
	gboolean fail_every_third;
	unsigned stores;		/* calls of the callback */
	GHashTable *stored;		/* ID -> times a 250 named it */
	/* The replies, as a model of the transaction sees them. */
	unsigned rcpt_ok;		/* 250 2.1.5 since the last 250 2.1.0 */
	unsigned finals_due;		/* replies owed after the final dot */
	unsigned finals_seen;
	unsigned stores_at_354;
	char cont_code[4];		/* the code of a multi-line reply */
	gboolean closed;
};

#define FAIL(...) do { \
	fprintf(stderr, "fuzz-lmtp: " __VA_ARGS__); \
	fputc('\n', stderr); \
	abort(); \
} while (0)

static int
store_cb(void *ctx, const char *sender, const struct listaddr *rcpt,
	 const char *msg, size_t len, char **id_r, GError **error)
{
	struct run *r = ctx;
	char *id;

	r->stores++;
	if (sender == NULL || rcpt == NULL || rcpt->address == NULL)
		FAIL("store without a sender or a recipient");
	if ((int64_t)len > r->limits.max_message_size)
		FAIL("stored %zu bytes, over the limit %lld", len,
		     (long long)r->limits.max_message_size);
	if (len > 0 && msg[len - 1] != '\n')
		FAIL("a stored message does not end with a line feed");
	if (memmem(msg, len, "TEMPFAIL", 8) != NULL ||
	    (r->fail_every_third && r->stores % 3 == 0)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "disk full");
		return -1;
	}
	if (memmem(msg, len, "REFUSE", 6) != NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "not a message:\r\n\x01 no header");
		return -1;
	}
	id = g_strdup_printf("F%u", r->stores);
	g_hash_table_insert(r->stored, g_strdup(id), GUINT_TO_POINTER(0));
	*id_r = id;
	return 0;
}

/* One complete reply line (without its CRLF), checked and fed to the
 * model. */
static void
check_line(struct run *r, const char *line, size_t len)
{
	char code[4];

	if (len + 2 > LMTP_REPLY_MAX)
		FAIL("reply line of %zu bytes", len + 2);
	if (len < 4 || line[0] < '2' || line[0] > '5' ||
	    !g_ascii_isdigit(line[1]) || !g_ascii_isdigit(line[2]) ||
	    (line[3] != ' ' && line[3] != '-'))
		FAIL("malformed reply line '%.*s'", (int)len, line);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			FAIL("control character in reply '%.*s'", (int)len, line);
	memcpy(code, line, 3);
	code[3] = '\0';
	if (r->cont_code[0] != '\0' && strcmp(code, r->cont_code) != 0)
		FAIL("multi-line reply changes code: %s then %s", r->cont_code,
		     code);
	if (line[3] == '-') {
		memcpy(r->cont_code, code, 4);
		return;
	}
	r->cont_code[0] = '\0';

	if (r->finals_due > r->finals_seen) {
		/* The message's replies, one per recipient. */
		if (strcmp(code, "421") == 0 && r->finals_seen == 0) {
			/* Closed before the final dot: nothing stored. */
			if (r->stores != r->stores_at_354)
				FAIL("421 in DATA after %u stores",
				     r->stores - r->stores_at_354);
			r->finals_due = r->finals_seen = 0;
			r->closed = TRUE;
			return;
		}
		if (strstr(line, " <") == NULL)
			FAIL("a recipient's reply names no recipient: '%.*s'",
			     (int)len, line);
		if (strncmp(line, "250 2.0.0 ", 10) == 0) {
			const char *id = strrchr(line, ' ') + 1;
			gpointer seen;

			if (!g_hash_table_lookup_extended(r->stored, id, NULL, &seen))
				FAIL("250 for %s, which was never stored", id);
			if (GPOINTER_TO_UINT(seen) != 0)
				FAIL("two 250s for %s", id);
			g_hash_table_insert(r->stored, g_strdup(id),
					    GUINT_TO_POINTER(1));
		} else if (strncmp(line, "451 4.3.0 ", 10) != 0 &&
			   strncmp(line, "552 5.3.4 ", 10) != 0 &&
			   strncmp(line, "554 5.6.0 ", 10) != 0)
			FAIL("unexpected reply after DATA: '%.*s'", (int)len, line);
		if (++r->finals_seen == r->finals_due) {
			r->finals_due = r->finals_seen = 0;
			r->rcpt_ok = 0;
		}
		return;
	}
	if (r->closed)
		FAIL("a reply after the session closed: '%.*s'", (int)len, line);
	if (strncmp(line, "250 2.1.0", 9) == 0)
		r->rcpt_ok = 0;
	else if (strncmp(line, "250 2.1.5", 9) == 0)
		r->rcpt_ok++;
	else if (strcmp(code, "354") == 0) {
		if (r->rcpt_ok == 0)
			FAIL("354 with no recipient accepted");
		r->finals_due = r->rcpt_ok;
		r->finals_seen = 0;
		r->stores_at_354 = r->stores;
	} else if (strcmp(code, "421") == 0 || strcmp(code, "221") == 0)
		r->closed = TRUE;
}

/* Takes the session's output: every line whole, each checked. */
static void
drain_output(struct run *r, struct lmtp_session *s)
{
	GString *out = lmtp_session_output(s);
	size_t pos = 0;

	while (pos < out->len) {
		const char *cr = memchr(out->str + pos, '\r', out->len - pos);

		if (cr == NULL || (size_t)(cr - out->str) + 1 >= out->len ||
		    cr[1] != '\n')
			FAIL("output not made of CRLF lines");
		if (memchr(out->str + pos, '\n', (size_t)(cr - out->str) - pos) ||
		    memchr(out->str + pos, '\0', (size_t)(cr - out->str) - pos))
			FAIL("a bare LF or a NUL in a reply");
		char *line = g_strndup(out->str + pos,
				       (gsize)(cr - out->str) - pos);

		check_line(r, line, strlen(line));
		g_free(line);
		pos = (size_t)(cr - out->str) + 2;
	}
	if (r->cont_code[0] != '\0')
		FAIL("a multi-line reply left unfinished");
	g_string_truncate(out, 0);
	if ((lmtp_session_phase(s) == LMTP_PHASE_CLOSED) != r->closed &&
	    r->closed)
		FAIL("the replies closed the session, the session did not");
}

static void
check_memory(struct run *r, struct lmtp_session *s, size_t chunk)
{
	size_t bound = 2 * (size_t)r->limits.max_message_size +
		       2 * LMTP_LINE_MAX + 2 * (chunk + 8) * LMTP_REPLY_MAX;

	if (lmtp_session_memory(s) > bound)
		FAIL("session holds %zu bytes, bound %zu",
		     lmtp_session_memory(s), bound);
}

static void
remove_var_dir(void)
{
	char *argv[] = { "rm", "-rf", fz.var_dir, NULL };

	if (fz.var_dir != NULL)
		g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
			     NULL, NULL, NULL, NULL);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = g_getenv("TMPDIR");
	const char *lists[] = { "demo@example.org", "other@example.org" };
	const char *owners[] = { "owner@example.org", NULL };
	GError *error = NULL;
	char *tmpl;

	if (tmp == NULL)
		tmp = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm"
								   : g_get_tmp_dir();
	tmpl = g_build_filename(tmp, "herald-fuzz-lmtp-XXXXXX", NULL);
	if ((fz.var_dir = g_mkdtemp(tmpl)) == NULL) {
		perror(tmpl);
		abort();
	}
	atexit(remove_var_dir);
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	if (site_init(fz.var_dir, &error) < 0 ||
	    (fz.site = site_open(fz.var_dir, &error)) == NULL)
		FAIL("site: %s", error->message);
	for (guint i = 0; i < G_N_ELEMENTS(lists); i++)
		if (list_create(fz.site, lists[i], owners, &error) < 0)
			FAIL("%s: %s", lists[i], error->message);
	fprintf(stderr, "fuzz-lmtp: var dir %s\n", fz.var_dir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { 0 };
	struct lmtp_session *s;
	uint8_t ctl = size > 0 ? data[0] : 0;
	const char *p = (const char *)data + (size > 0), *end = (const char *)data + size;
	uint32_t rng = 0x9e3779b9u ^ (uint32_t)size ^ ((uint32_t)ctl << 24);
	size_t maxchunk, half = (size_t)(end - p) / 2;
	gboolean drained = FALSE;

	r.limits.max_message_size = (ctl & 0x40) ? 65536 : 1024;
	r.limits.command_limit = 64;
	r.limits.error_limit = 8;
	r.fail_every_third = (ctl & 0x80) != 0;
	r.stored = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	static const size_t chunks[] = { 1, 2, 3, 7, 64, 512, 4096, 1 << 20 };
	maxchunk = chunks[ctl & 7];

	s = lmtp_session_new(fz.site, "fuzz.example", &r.limits, store_cb, &r);
	drain_output(&r, s);
	while (p < end) {
		size_t n;

		rng ^= rng << 13;
		rng ^= rng >> 17;
		rng ^= rng << 5;
		n = 1 + rng % maxchunk;
		if (n > (size_t)(end - p))
			n = (size_t)(end - p);
		if (lmtp_session_phase(s) == LMTP_PHASE_CLOSED) {
			lmtp_session_feed(s, p, n);
			if (lmtp_session_output(s)->len != 0)
				FAIL("output after the session closed");
			break;
		}
		lmtp_session_feed(s, p, n);
		check_memory(&r, s, n);
		drain_output(&r, s);
		p += n;
		if ((ctl & 0x20) && !drained &&
		    (size_t)(end - p) <= half) {
			lmtp_session_drain(s);
			drained = TRUE;
			drain_output(&r, s);
		}
	}
	switch ((ctl >> 3) & 3) {
	case 0:
		lmtp_session_eof(s);
		break;
	case 1:
		lmtp_session_timeout(s);
		break;
	case 2:
		lmtp_session_drain(s);
		drain_output(&r, s);
		lmtp_session_eof(s);
		break;
	case 3:
		lmtp_session_stop(s);
		break;
	}
	drain_output(&r, s);
	if (lmtp_session_phase(s) != LMTP_PHASE_CLOSED)
		FAIL("the session is not closed at the end");
	if (lmtp_session_close_reason(s) == NULL)
		FAIL("a closed session without a reason");

	/* Every store that succeeded got exactly one 250. */
	GHashTableIter it;
	gpointer id, seen;
	g_hash_table_iter_init(&it, r.stored);
	while (g_hash_table_iter_next(&it, &id, &seen))
		if (GPOINTER_TO_UINT(seen) != 1)
			FAIL("%s was stored but got no 250", (char *)id);
	if (lmtp_session_stored(s) != g_hash_table_size(r.stored))
		FAIL("the session counts %llu stored, the callback %u",
		     (unsigned long long)lmtp_session_stored(s),
		     g_hash_table_size(r.stored));
	lmtp_session_free(&s);
	g_hash_table_destroy(r.stored);
	return 0;
}
