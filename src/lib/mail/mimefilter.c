/*
 * mimefilter.c - content filtering of a message's MIME parts.
 *
 * Two walks over the MIME tree, both iterative with an explicit stack: a
 * message nests as deep as GMime's parser lets it (1024 levels), and a
 * recursion per level is what that depth is sent to exhaust.  The first
 * walk removes, collapses and recasts parts, children before their parent,
 * so that a multipart is judged by what is left in it.  The second converts
 * the text/html parts that are left, so that no work goes into the HTML
 * alternatives a collapse throws away.
 *
 * GMime objects are reference counted; a part lifted out of a multipart
 * that is about to go (a recast, a collapse) is held by a reference of its
 * own until its new parent has it.
 */
#include "mail/mimefilter.h"
#include "mail/html2text.h"
#include "mail/message.h"

#include <string.h>

/* The rules, normalised: lower case, trimmed, without empty entries. */
struct rules {
	GPtrArray *filter_types, *pass_types, *filter_exts, *pass_exts;
	gboolean collapse, convert;
};

enum verdict {
	V_PENDING,		/* a container: its parts come first */
	V_KEEP,
	V_REMOVE,
	V_REPLACE,		/* by the part given (a reference) */
};

/* A container whose parts are being walked. */
struct frame {
	GMimeObject *obj;	/* a multipart or a message/rfc822 part */
	int depth;
	int next;		/* the part to visit next (message part: 0, 1) */
	gboolean emptied;	/* message part: its message's body went */
};

struct filter {
	struct rules rules;
	struct mimefilter_result *r;
	GArray *stack;		/* struct frame */
};

/* --- the rules ------------------------------------------------------- */

static GPtrArray *
rule_list(const char *const *in, gboolean ext)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	for (; in != NULL && *in != NULL; in++) {
		char *valid = g_utf8_make_valid(*in, -1);
		char *v = g_strstrip(g_utf8_strdown(valid, -1));
		const char *s = v;
		size_t n;

		g_free(valid);
		if (ext) {
			if (g_str_has_prefix(s, "*"))
				s++;
			while (*s == '.')
				s++;
		} else if ((n = strlen(s)) > 2 && strcmp(s + n - 2, "/*") == 0) {
			v[n - 2] = '\0';	/* the glob form: a bare type */
		}
		if (*s != '\0')
			g_ptr_array_add(out, g_strdup(s));
		g_free(v);
	}
	return out;
}

static gboolean
listed(const GPtrArray *list, const char *value)
{
	for (guint i = 0; i < list->len; i++)
		if (strcmp(list->pdata[i], value) == 0)
			return TRUE;
	return FALSE;
}

/* "type/subtype" of obj, lower case (text/plain when it has none). */
static char *
mime_type(GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char *t, *lower;

	if (ct == NULL)
		return g_strdup("text/plain");
	t = g_mime_content_type_get_mime_type(ct);
	lower = g_ascii_strdown(t, -1);
	g_free(t);
	return lower;
}

static gboolean
type_listed(const GPtrArray *list, const char *type)
{
	const char *slash = strchr(type, '/');
	char *main_type;
	gboolean hit;

	if (listed(list, type))
		return TRUE;
	main_type = g_strndup(type, slash != NULL ? (size_t)(slash - type) : strlen(type));
	hit = listed(list, main_type);
	g_free(main_type);
	return hit;
}

static const char *
part_filename(GMimeObject *obj)
{
	const char *name;

	if (GMIME_IS_PART(obj))
		return g_mime_part_get_filename(GMIME_PART(obj));
	name = g_mime_object_get_content_disposition_parameter(obj, "filename");
	return name != NULL ? name : g_mime_object_get_content_type_parameter(obj, "name");
}

char *
mimefilter_file_extension(const char *filename)
{
	const char *base, *dot;
	char *name, *ext;
	size_t n;

	if (filename == NULL)
		return NULL;
	base = filename;
	for (const char *p = filename; *p != '\0'; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	name = g_utf8_make_valid(base, -1);
	n = strlen(name);
	while (n > 0 && (name[n - 1] == '.' || g_ascii_isspace(name[n - 1])))
		name[--n] = '\0';
	dot = strrchr(name, '.');
	ext = dot != NULL && dot[1] != '\0' ? g_utf8_strdown(dot + 1, -1) : NULL;
	g_free(name);
	return ext;
}

static gboolean
is_container(GMimeObject *obj)
{
	return GMIME_IS_MULTIPART(obj) || GMIME_IS_MESSAGE_PART(obj);
}

/* multipart/signed and multipart/encrypted: kept or removed whole. */
static gboolean
is_sealed(GMimeObject *obj)
{
	GMimeContentType *ct;

	if (GMIME_IS_MULTIPART_SIGNED(obj) || GMIME_IS_MULTIPART_ENCRYPTED(obj))
		return TRUE;
	ct = g_mime_object_get_content_type(obj);
	return ct != NULL && (g_mime_content_type_is_type(ct, "multipart", "signed") ||
			      g_mime_content_type_is_type(ct, "multipart", "encrypted"));
}

/* Why the rules remove obj, or NULL.  deny_only: only the filter_* lists
 * (inside a sealed part). */
static char *
judge(const struct rules *ru, GMimeObject *obj, gboolean deny_only)
{
	char *type = mime_type(obj);
	char *ext = mimefilter_file_extension(part_filename(obj));
	char *why = NULL;

	if (type_listed(ru->filter_types, type))
		why = g_strdup("listed in filter_mime_types");
	else if (!deny_only && !is_container(obj) && ru->pass_types->len > 0 &&
		 !type_listed(ru->pass_types, type))
		why = g_strdup("not in pass_mime_types");
	else if (ext != NULL && listed(ru->filter_exts, ext))
		why = g_strdup_printf("extension .%s listed in "
				      "filter_filename_extensions", ext);
	else if (ext != NULL && !deny_only && ru->pass_exts->len > 0 &&
		 !listed(ru->pass_exts, ext))
		why = g_strdup_printf("extension .%s not in "
				      "pass_filename_extensions", ext);
	g_free(type);
	g_free(ext);
	return why;
}

/* A short, printable form of a file name for reasons and logs: a poster
 * chose it, so no control characters and no great length. */
static char *
printable_name(const char *name)
{
	char *valid = g_utf8_make_valid(name, -1);
	GString *out = g_string_new(NULL);
	const char *p = valid;

	for (int n = 0; *p != '\0' && n < 80; p = g_utf8_next_char(p), n++) {
		gunichar c = g_utf8_get_char(p);

		if (g_unichar_iscntrl(c))
			g_string_append_c(out, '?');
		else
			g_string_append_unichar(out, c);
	}
	if (*p != '\0')
		g_string_append(out, "...");
	g_free(valid);
	return g_string_free(out, FALSE);
}

/* "image/png \"logo.png\": <why>" */
static char *
describe(GMimeObject *obj, const char *why)
{
	char *type = mime_type(obj);
	const char *name = part_filename(obj);
	char *d, *pname;

	if (name == NULL || *name == '\0') {
		d = g_strdup_printf("%s: %s", type, why);
	} else {
		pname = printable_name(name);
		d = g_strdup_printf("%s \"%s\": %s", type, pname, why);
		g_free(pname);
	}
	g_free(type);
	return d;
}

/* Records that a rule removed obj (why is taken). */
static void
note_removal(struct filter *f, GMimeObject *obj, int depth, char *why)
{
	struct mimefilter_result *r = f->r;
	char *d = describe(obj, why);

	g_free(why);
	r->changed = TRUE;
	r->n_removed++;
	if (depth == 0 && r->top_removed == NULL)
		r->top_removed = g_strdup(d);
	if (r->removed->len < MIMEFILTER_MAX_REPORTED)
		g_ptr_array_add(r->removed, d);
	else
		g_free(d);
}

/* --- the first walk: removing ------------------------------------------ */

struct todo {
	GMimeObject *obj;
	int depth;
};

static void
todo_children(GArray *todo, GMimeObject *obj, int depth)
{
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);

		for (int i = g_mime_multipart_get_count(mp) - 1; i >= 0; i--) {
			struct todo t = { g_mime_multipart_get_part(mp, i), depth + 1 };
			g_array_append_val(todo, t);
		}
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		GMimeObject *body = m != NULL ? g_mime_message_get_mime_part(m) : NULL;

		if (body != NULL) {
			struct todo t = { body, depth + 1 };
			g_array_append_val(todo, t);
		}
	}
}

/* Why sealed part obj must go: a part inside it that filter_mime_types or
 * filter_filename_extensions names, or nesting past the limit.  NULL when
 * it may stay (whole). */
static char *
sealed_violation(struct filter *f, GMimeObject *obj, int depth)
{
	GArray *todo = g_array_new(FALSE, FALSE, sizeof(struct todo));
	char *found = NULL;

	todo_children(todo, obj, depth);
	while (todo->len > 0 && found == NULL) {
		struct todo t = g_array_index(todo, struct todo, todo->len - 1);
		char *why;

		g_array_set_size(todo, todo->len - 1);
		if (t.depth > MIMEFILTER_MAX_DEPTH) {
			found = g_strdup_printf("holds parts nested deeper than %d "
						"levels", MIMEFILTER_MAX_DEPTH);
		} else if ((why = judge(&f->rules, t.obj, TRUE)) != NULL) {
			char *d = describe(t.obj, why);

			found = g_strdup_printf("holds %s (a signed or encrypted "
						"part is removed whole)", d);
			g_free(d);
			g_free(why);
		} else {
			todo_children(todo, t.obj, t.depth);
		}
	}
	g_array_free(todo, TRUE);
	return found;
}

/* First look at obj: removed by a rule, kept as it is, or (a container)
 * pending, its frame pushed. */
static enum verdict
visit(struct filter *f, GMimeObject *obj, int depth)
{
	struct frame fr = { obj, depth, 0, FALSE };
	char *why;

	if (depth > MIMEFILTER_MAX_DEPTH) {
		note_removal(f, obj, depth, g_strdup_printf(
			"nested deeper than %d levels", MIMEFILTER_MAX_DEPTH));
		return V_REMOVE;
	}
	if ((why = judge(&f->rules, obj, FALSE)) != NULL) {
		note_removal(f, obj, depth, why);
		return V_REMOVE;
	}
	if (is_sealed(obj)) {
		if ((why = sealed_violation(f, obj, depth)) != NULL) {
			note_removal(f, obj, depth, why);
			return V_REMOVE;
		}
		return V_KEEP;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		if (m == NULL || g_mime_message_get_mime_part(m) == NULL)
			return V_KEEP;
	} else if (!GMIME_IS_MULTIPART(obj)) {
		return V_KEEP;
	}
	g_array_append_val(f->stack, fr);
	return V_PENDING;
}

static struct frame *
top_frame(struct filter *f)
{
	return &g_array_index(f->stack, struct frame, f->stack->len - 1);
}

/* The next part of fr's container to visit, or NULL when all were. */
static GMimeObject *
next_part(struct frame *fr)
{
	if (GMIME_IS_MULTIPART(fr->obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(fr->obj);

		return fr->next < g_mime_multipart_get_count(mp)
			       ? g_mime_multipart_get_part(mp, fr->next) : NULL;
	}
	if (fr->next++ == 0)
		return g_mime_message_get_mime_part(
			g_mime_message_part_get_message(GMIME_MESSAGE_PART(fr->obj)));
	return NULL;
}

/* Applies the verdict on the part of fr's container just visited. */
static void
apply(struct frame *fr, enum verdict v, GMimeObject *repl)
{
	GMimeObject *old;

	if (GMIME_IS_MULTIPART(fr->obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(fr->obj);

		if (v == V_REMOVE) {
			old = g_mime_multipart_remove_at(mp, fr->next);
			g_clear_object(&old);
			return;		/* the next part moved into its place */
		}
		if (v == V_REPLACE) {
			old = g_mime_multipart_replace(mp, fr->next, repl);
			g_clear_object(&old);
			g_object_unref(repl);
		}
		fr->next++;
		return;
	}
	if (v == V_REMOVE) {
		fr->emptied = TRUE;
	} else if (v == V_REPLACE) {
		g_mime_message_set_mime_part(
			g_mime_message_part_get_message(GMIME_MESSAGE_PART(fr->obj)),
			repl);
		g_object_unref(repl);
	}
}

/* The verdict on a container whose parts were all visited. */
static enum verdict
finish(struct filter *f, struct frame *fr, GMimeObject **repl_r)
{
	GMimeMultipart *mp;
	GMimeContentType *ct;
	int n;

	if (!GMIME_IS_MULTIPART(fr->obj)) {
		if (!fr->emptied)
			return V_KEEP;
		f->r->changed = TRUE;	/* the attached message lost all */
		return V_REMOVE;
	}
	mp = GMIME_MULTIPART(fr->obj);
	n = g_mime_multipart_get_count(mp);
	ct = g_mime_object_get_content_type(fr->obj);
	if (n == 0) {
		f->r->changed = TRUE;
		return V_REMOVE;
	}
	if (n > 1 && !(f->rules.collapse && ct != NULL &&
		       g_mime_content_type_is_type(ct, "multipart", "alternative")))
		return V_KEEP;
	if (n > 1)
		f->r->n_collapsed++;
	f->r->changed = TRUE;
	*repl_r = g_object_ref(g_mime_multipart_get_part(mp, 0));
	return V_REPLACE;
}

/* Walks the tree under body; returns body's own verdict (and in *repl_r
 * its replacement, a reference). */
static enum verdict
prune(struct filter *f, GMimeObject *body, GMimeObject **repl_r)
{
	enum verdict v = visit(f, body, 0);
	GMimeObject *repl = NULL;

	for (;;) {
		struct frame *fr;
		GMimeObject *part;

		if (v != V_PENDING) {
			if (f->stack->len == 0)
				break;
			apply(top_frame(f), v, repl);
			repl = NULL;
		}
		fr = top_frame(f);
		if ((part = next_part(fr)) != NULL) {
			v = visit(f, part, fr->depth + 1);	/* may push */
			continue;
		}
		v = finish(f, fr, &repl);
		g_array_set_size(f->stack, f->stack->len - 1);
	}
	*repl_r = repl;
	return v;
}

/* --- the second walk: converting ------------------------------------- */

static gboolean
needs_qp(const char *text)
{
	size_t line = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		if (*p >= 0x80 || ++line > 998)
			return TRUE;
		if (*p == '\n')
			line = 0;
	}
	return FALSE;
}

/* "page.html" -> "page.txt"; NULL when name does not end in .htm(l). */
static char *
text_name(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n > 5 && g_ascii_strcasecmp(name + n - 5, ".html") == 0)
		return g_strdup_printf("%.*s.txt", (int)(n - 5), name);
	if (n > 4 && g_ascii_strcasecmp(name + n - 4, ".htm") == 0)
		return g_strdup_printf("%.*s.txt", (int)(n - 4), name);
	return NULL;
}

/* Makes text/html part text/plain in place, so that its other headers
 * (disposition, description, ID) stay. */
static void
convert_html(GMimePart *part)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	const char *cs = g_mime_object_get_content_type_parameter(obj, "charset");
	GMimeStream *stream = g_mime_stream_mem_new();
	GByteArray *bytes;
	GMimeDataWrapper *wrapper;
	char *text, *name;

	if (content != NULL)	/* decoded: no transfer encoding */
		g_mime_data_wrapper_write_to_stream(content, stream);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	text = html2text((const char *)bytes->data, bytes->len,
			 cs != NULL ? g_mime_charset_iconv_name(cs) : NULL);
	g_object_unref(stream);

	stream = g_mime_stream_mem_new_with_buffer(text, strlen(text));
	wrapper = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, wrapper);
	g_object_unref(wrapper);
	g_object_unref(stream);
	g_mime_content_type_set_media_subtype(g_mime_object_get_content_type(obj), "plain");
	g_mime_object_set_content_type_parameter(obj, "charset", "utf-8");
	g_mime_part_set_content_encoding(part, needs_qp(text)
		? GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE : GMIME_CONTENT_ENCODING_7BIT);
	if ((name = text_name(g_mime_object_get_content_type_parameter(obj, "name"))) != NULL) {
		g_mime_object_set_content_type_parameter(obj, "name", name);
		g_free(name);
	}
	if ((name = text_name(g_mime_object_get_content_disposition_parameter(obj, "filename"))) != NULL) {
		g_mime_object_set_content_disposition_parameter(obj, "filename", name);
		g_free(name);
	}
	g_free(text);
}

static void
convert_all(struct filter *f, GMimeObject *body)
{
	GArray *todo = g_array_new(FALSE, FALSE, sizeof(struct todo));
	struct todo first = { body, 0 };

	g_array_append_val(todo, first);
	while (todo->len > 0) {
		struct todo t = g_array_index(todo, struct todo, todo->len - 1);
		GMimeContentType *ct = g_mime_object_get_content_type(t.obj);

		g_array_set_size(todo, todo->len - 1);
		if (is_sealed(t.obj))
			continue;
		if (is_container(t.obj)) {
			todo_children(todo, t.obj, t.depth);
		} else if (GMIME_IS_PART(t.obj) && ct != NULL &&
			   g_mime_content_type_is_type(ct, "text", "html")) {
			convert_html(GMIME_PART(t.obj));
			f->r->n_converted++;
			f->r->changed = TRUE;
		}
	}
	g_array_free(todo, TRUE);
}

/* --- the whole --------------------------------------------------------- */

void
mimefilter_apply(GMimeMessage *msg, const struct mimefilter_settings *s,
		 struct mimefilter_result *r)
{
	struct filter f = { 0 };
	GMimeObject *body, *repl = NULL;
	enum verdict v;

	message_init();
	memset(r, 0, sizeof(*r));
	r->removed = g_ptr_array_new_with_free_func(g_free);
	f.r = r;
	f.rules.filter_types = rule_list(s->filter_mime_types, FALSE);
	f.rules.pass_types = rule_list(s->pass_mime_types, FALSE);
	f.rules.filter_exts = rule_list(s->filter_filename_extensions, TRUE);
	f.rules.pass_exts = rule_list(s->pass_filename_extensions, TRUE);
	f.rules.collapse = s->collapse_alternatives;
	f.rules.convert = s->convert_html_to_plaintext;
	f.stack = g_array_new(FALSE, FALSE, sizeof(struct frame));

	body = g_mime_message_get_mime_part(msg);
	v = body != NULL ? prune(&f, body, &repl) : V_REMOVE;
	if (v == V_REPLACE) {
		g_mime_message_set_mime_part(msg, repl);
		g_object_unref(repl);
	} else if (v == V_REMOVE) {
		GMimeTextPart *empty = g_mime_text_part_new_with_subtype("plain");

		g_mime_message_set_mime_part(msg, GMIME_OBJECT(empty));
		g_object_unref(empty);
		r->empty = TRUE;
	}
	if (!r->empty && f.rules.convert)
		convert_all(&f, g_mime_message_get_mime_part(msg));
	if (r->changed)
		message_header_set(msg, "X-Content-Filtered-By", "herald");

	g_array_free(f.stack, TRUE);
	g_ptr_array_unref(f.rules.filter_types);
	g_ptr_array_unref(f.rules.pass_types);
	g_ptr_array_unref(f.rules.filter_exts);
	g_ptr_array_unref(f.rules.pass_exts);
}

void
mimefilter_result_clear(struct mimefilter_result *r)
{
	g_clear_pointer(&r->top_removed, g_free);
	g_clear_pointer(&r->removed, g_ptr_array_unref);
}
