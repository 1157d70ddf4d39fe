/*
 * pickle.c - a safe reader of Python pickles, protocols 0 to 2.
 *
 * The reader runs Python's stack machine over the opcodes below and
 * nothing else.  Values are nodes kept in one array owned by the pickle,
 * so a memo reference is a pointer to a node, never a copy.  Containers
 * (list, tuple, dict, instance) record their one parent and their height:
 * attaching a container a second time, or under itself, is refused (a
 * cycle or a tree that doubles at each level would otherwise come from a
 * few bytes), and so is a tree deeper than the limit.  A tuple of plain
 * values only may be shared, as Python 2 writes them.
 *
 * What each refused thing would have done in Python: GLOBAL imports any
 * module and REDUCE calls what it imported (os.system: a shell command);
 * PERSID and EXT* call hooks of the unpickler.  Classes are accepted only
 * from Mailman's and the email package's modules, as names; REDUCE only for
 * the two plain-data constructors Python writes.
 */
#include "import/pickle.h"
#include "base/base.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct pickle_limits pickle_default_limits = {
	.max_size = 256u << 20,
	.max_depth = 100,
	.max_memo = 16u << 20,
	.max_nodes = 32u << 20,
};

#define MAX_MARKS 1000

struct pickle {
	GPtrArray *nodes;	/* every node, owned */
	struct pickle_node *root;
};

struct reader {
	struct pickle *p;
	const struct pickle_limits *lim;
	const unsigned char *data;
	size_t len, pos;
	size_t op_pos;		/* where the current opcode starts */
	unsigned char op;
	GPtrArray *stack;
	GArray *marks;		/* stack lengths at each MARK */
	GPtrArray *memo;	/* index -> node, NULL: unset */
	GError **error;
};

static void
node_free(gpointer data)
{
	struct pickle_node *n = data;

	g_free(n->s);
	if (n->items != NULL)
		g_ptr_array_free(n->items, TRUE);
	if (n->index != NULL)
		g_hash_table_destroy(n->index);
	g_free(n);
}

static int G_GNUC_PRINTF(2, 3)
fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;
	char *what;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(r->error, HERALD_ERROR, HERALD_ERR_FORMAT,
		    "pickle: %s (opcode 0x%02x '%c' at offset %zu)", what, r->op,
		    g_ascii_isprint(r->op) ? r->op : '?', r->op_pos);
	g_free(what);
	return -1;
}

static struct pickle_node *
node_new(struct reader *r, enum pickle_type type)
{
	struct pickle_node *n;

	if (r->p->nodes->len >= r->lim->max_nodes) {
		fail(r, "more than %zu values", r->lim->max_nodes);
		return NULL;
	}
	n = g_new0(struct pickle_node, 1);
	n->type = type;
	if (type == PK_LIST || type == PK_TUPLE || type == PK_DICT)
		n->items = g_ptr_array_new();
	g_ptr_array_add(r->p->nodes, n);
	return n;
}

static gboolean
is_container(const struct pickle_node *n)
{
	return n->type == PK_LIST || n->type == PK_TUPLE ||
	       n->type == PK_DICT || n->type == PK_OBJECT;
}

/* Makes child a part of parent (the caller stores the pointer). */
static int
attach(struct reader *r, struct pickle_node *parent, struct pickle_node *child)
{
	int depth = 0, h;

	if (!is_container(child))
		return 0;
	/* Python 2 shares equal tuples of plain values (a date, (1970, 1,
	 * 2), in many members' bounce info): harmless, they hold no
	 * container. */
	if (child->parent != NULL && child->type == PK_TUPLE &&
	    child->height == 0)
		return 0;
	if (child->parent != NULL)
		return fail(r, "a container placed twice (a shared or "
			       "recursive reference)");
	for (struct pickle_node *a = parent; a != NULL; a = a->parent) {
		if (a == child)
			return fail(r, "a container placed inside itself");
		depth++;
	}
	if (depth + child->height >= r->lim->max_depth)
		return fail(r, "nested deeper than %d", r->lim->max_depth);
	child->parent = parent;
	h = child->height + 1;
	for (struct pickle_node *a = parent; a != NULL && a->height < h; a = a->parent)
		a->height = h++;
	return 0;
}

static int
push(struct reader *r, struct pickle_node *n)
{
	if (n == NULL)
		return -1;
	g_ptr_array_add(r->stack, n);
	return 0;
}

static struct pickle_node *
pop(struct reader *r)
{
	guint floor = r->marks->len > 0
		? g_array_index(r->marks, guint, r->marks->len - 1) : 0;

	if (r->stack->len <= floor) {
		fail(r, "stack underflow");
		return NULL;
	}
	return g_ptr_array_steal_index(r->stack, r->stack->len - 1);
}

static struct pickle_node *
top(struct reader *r)
{
	guint floor = r->marks->len > 0
		? g_array_index(r->marks, guint, r->marks->len - 1) : 0;

	if (r->stack->len <= floor) {
		fail(r, "stack underflow");
		return NULL;
	}
	return r->stack->pdata[r->stack->len - 1];
}

/* The items pushed since the last MARK, removed from the stack, which
 * pops the mark: *from_r is where they started. */
static int
pop_mark(struct reader *r, guint *from_r)
{
	if (r->marks->len == 0)
		return fail(r, "no MARK before it");
	*from_r = g_array_index(r->marks, guint, r->marks->len - 1);
	g_array_set_size(r->marks, r->marks->len - 1);
	return 0;
}

/* Moves stack items from..end into container c, then drops them. */
static int
fill(struct reader *r, struct pickle_node *c, guint from)
{
	for (guint i = from; i < r->stack->len; i++) {
		if (attach(r, c, r->stack->pdata[i]) < 0)
			return -1;
		g_ptr_array_add(c->items, r->stack->pdata[i]);
	}
	g_ptr_array_set_size(r->stack, from);
	return 0;
}

/* --- input ------------------------------------------------------------- */

static int
take(struct reader *r, size_t n, const unsigned char **out)
{
	if (r->len - r->pos < n)
		return fail(r, "truncated: %zu bytes wanted, %zu left", n,
			    r->len - r->pos);
	*out = r->data + r->pos;
	r->pos += n;
	return 0;
}

/* A line argument (protocol 0), without its newline, NUL-terminated. */
static char *
line(struct reader *r)
{
	const unsigned char *s = r->data + r->pos;
	const unsigned char *nl = memchr(s, '\n', r->len - r->pos);

	if (nl == NULL) {
		fail(r, "truncated: no end of line");
		return NULL;
	}
	r->pos += (size_t)(nl - s) + 1;
	return g_strndup((const char *)s, (size_t)(nl - s));
}

static uint64_t
le(const unsigned char *b, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* --- values -------------------------------------------------------------- */

static int
push_int(struct reader *r, int64_t v)
{
	struct pickle_node *n = node_new(r, PK_INT);

	if (n != NULL)
		n->i = v;
	return push(r, n);
}

static int
push_string(struct reader *r, enum pickle_type t, char *s, size_t len)
{
	struct pickle_node *n = node_new(r, t);

	if (n == NULL) {
		g_free(s);
		return -1;
	}
	n->s = s;
	n->len = len;
	return push(r, n);
}

static int
push_bytes(struct reader *r, enum pickle_type t, size_t len)
{
	const unsigned char *b = NULL;

	if (take(r, len, &b) < 0)
		return -1;
	if (t == PK_UNICODE && !g_utf8_validate((const char *)b, len, NULL))
		return fail(r, "BINUNICODE is not UTF-8");
	return push_string(r, t, g_strndup((const char *)b, len), len);
}

/* INT and LONG lines: "123", "-5", "01" (True), "00" (False), "7L". */
static int
op_int_line(struct reader *r, gboolean is_long)
{
	char *s = line(r), *end;
	long long v;
	int ret;

	if (s == NULL)
		return -1;
	if (!is_long && (strcmp(s, "00") == 0 || strcmp(s, "01") == 0)) {
		struct pickle_node *n = node_new(r, PK_BOOL);
		if (n != NULL)
			n->b = s[1] == '1';
		g_free(s);
		return push(r, n);
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (is_long && *end == 'L')
		end++;
	if (errno != 0 || end == s || *end != '\0')
		ret = fail(r, "'%s' is not an integer within 64 bits", s);
	else
		ret = push_int(r, v);
	g_free(s);
	return ret;
}

/* LONG1/LONG4: little-endian two's complement. */
static int
op_long_bin(struct reader *r, int lenbytes)
{
	const unsigned char *b = NULL;
	uint64_t n;
	int64_t v;

	if (take(r, (size_t)lenbytes, &b) < 0)
		return -1;
	n = le(b, lenbytes);
	if (n > 8)
		return fail(r, "an integer wider than 64 bits");
	if (take(r, (size_t)n, &b) < 0)
		return -1;
	if (n == 0)
		return push_int(r, 0);
	v = (int64_t)le(b, (int)n);
	if (n < 8 && (b[n - 1] & 0x80))
		v -= (int64_t)1 << (8 * n);
	return push_int(r, v);
}

static int
op_float_line(struct reader *r)
{
	char *s = line(r), *end;
	struct pickle_node *n;
	double v;

	if (s == NULL)
		return -1;
	v = g_ascii_strtod(s, &end);
	if (end == s || *end != '\0') {
		fail(r, "'%s' is not a number", s);
		g_free(s);
		return -1;
	}
	g_free(s);
	if ((n = node_new(r, PK_FLOAT)) != NULL)
		n->f = v;
	return push(r, n);
}

static int
op_binfloat(struct reader *r)
{
	const unsigned char *b = NULL;
	struct pickle_node *n;
	uint64_t bits = 0;
	double v;

	if (take(r, 8, &b) < 0)
		return -1;
	for (int i = 0; i < 8; i++)
		bits = bits << 8 | b[i];
	memcpy(&v, &bits, sizeof v);
	if ((n = node_new(r, PK_FLOAT)) != NULL)
		n->f = v;
	return push(r, n);
}

/* STRING: a Python 2 repr, 'text' or "text" with backslash escapes. */
static int
op_string_line(struct reader *r)
{
	char *s = line(r);
	size_t n;
	GString *out;

	if (s == NULL)
		return -1;
	n = strlen(s);
	if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0]) {
		g_free(s);
		return fail(r, "STRING argument is not quoted");
	}
	out = g_string_sized_new(n);
	for (size_t i = 1; i < n - 1; i++) {
		char c = s[i];
		if (c != '\\') {
			g_string_append_c(out, c);
			continue;
		}
		if (++i >= n - 1)
			break;
		c = s[i];
		switch (c) {
		case 'n': g_string_append_c(out, '\n'); break;
		case 't': g_string_append_c(out, '\t'); break;
		case 'r': g_string_append_c(out, '\r'); break;
		case 'a': g_string_append_c(out, '\a'); break;
		case 'b': g_string_append_c(out, '\b'); break;
		case 'f': g_string_append_c(out, '\f'); break;
		case 'v': g_string_append_c(out, '\v'); break;
		case 'x':
			if (i + 2 < n - 1 && g_ascii_isxdigit(s[i + 1]) &&
			    g_ascii_isxdigit(s[i + 2])) {
				g_string_append_c(out, (char)(g_ascii_xdigit_value(s[i + 1]) * 16 +
							      g_ascii_xdigit_value(s[i + 2])));
				i += 2;
				break;
			}
			g_string_free(out, TRUE);
			g_free(s);
			return fail(r, "bad \\x escape in STRING");
		default:
			if (c >= '0' && c <= '7') {
				int v = 0, k = 0;
				while (k < 3 && i < n - 1 && s[i] >= '0' && s[i] <= '7') {
					v = v * 8 + (s[i] - '0');
					i++;
					k++;
				}
				i--;
				g_string_append_c(out, (char)(v & 0xff));
			} else if (c == '\\' || c == '\'' || c == '"') {
				g_string_append_c(out, c);
			} else {
				g_string_append_c(out, '\\');
				g_string_append_c(out, c);
			}
		}
	}
	g_free(s);
	n = out->len;
	return push_string(r, PK_BYTES, g_string_free(out, FALSE), n);
}

/* UNICODE: raw-unicode-escape (\uXXXX, \UXXXXXXXX; other bytes are
 * Latin-1 code points). */
static int
op_unicode_line(struct reader *r)
{
	char *s = line(r);
	GString *out;
	size_t n;

	if (s == NULL)
		return -1;
	n = strlen(s);
	out = g_string_sized_new(n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int digits = 0;

		if (c == '\\' && i + 1 < n && (s[i + 1] == 'u' || s[i + 1] == 'U'))
			digits = s[i + 1] == 'u' ? 4 : 8;
		if (digits > 0) {
			gunichar u = 0;
			gboolean ok = i + 2 + (size_t)digits <= n;

			for (int k = 0; ok && k < digits; k++) {
				if (!g_ascii_isxdigit(s[i + 2 + k]))
					ok = FALSE;
				else
					u = u * 16 + (gunichar)g_ascii_xdigit_value(s[i + 2 + k]);
			}
			if (!ok || !g_unichar_validate(u)) {
				g_string_free(out, TRUE);
				g_free(s);
				return fail(r, "bad \\u escape in UNICODE");
			}
			g_string_append_unichar(out, u);
			i += 1 + (size_t)digits;
			continue;
		}
		g_string_append_unichar(out, c);
	}
	g_free(s);
	n = out->len;
	return push_string(r, PK_UNICODE, g_string_free(out, FALSE), n);
}

/* --- classes and instances ------------------------------------------------ */

/* The classes a Mailman 2.1 pickle may name, and the two constructors of
 * plain data. */
static gboolean
class_allowed(const char *module, const char *name)
{
	if (strcmp(module, "Mailman") == 0 || g_str_has_prefix(module, "Mailman.") ||
	    strcmp(module, "email") == 0 || g_str_has_prefix(module, "email."))
		return TRUE;
	if ((strcmp(module, "copy_reg") == 0 || strcmp(module, "copyreg") == 0) &&
	    strcmp(name, "_reconstructor") == 0)
		return TRUE;
	if ((strcmp(module, "__builtin__") == 0 || strcmp(module, "builtins") == 0) &&
	    strcmp(name, "object") == 0)
		return TRUE;
	return strcmp(module, "_codecs") == 0 && strcmp(name, "encode") == 0;
}

static struct pickle_node *
class_node(struct reader *r)
{
	char *module = line(r), *name = NULL;
	struct pickle_node *n = NULL;

	if (module == NULL || (name = line(r)) == NULL)
		goto out;
	if (!class_allowed(module, name)) {
		fail(r, "class %s.%s refused: only Mailman's classes are read",
		     module, name);
		goto out;
	}
	if ((n = node_new(r, PK_CLASS)) != NULL) {
		n->s = g_strdup_printf("%s.%s", module, name);
		n->len = strlen(n->s);
	}
out:
	g_free(module);
	g_free(name);
	return n;
}

static int
new_object(struct reader *r, struct pickle_node *cls, struct pickle_node *args)
{
	struct pickle_node *o;

	if (cls->type != PK_CLASS)
		return fail(r, "an instance of something that is not a class");
	if (args->type != PK_TUPLE)
		return fail(r, "an instance's arguments are not a tuple");
	if ((o = node_new(r, PK_OBJECT)) == NULL || attach(r, o, args) < 0)
		return -1;
	o->cls = cls;
	o->args = args;
	return push(r, o);
}

static int
op_reduce(struct reader *r)
{
	struct pickle_node *args = pop(r), *fn = args != NULL ? pop(r) : NULL;

	if (fn == NULL)
		return -1;
	if (fn->type != PK_CLASS)
		return fail(r, "REDUCE of something that is not a class");
	if (args->type != PK_TUPLE)
		return fail(r, "REDUCE arguments are not a tuple");
	if (strcmp(fn->s, "copy_reg._reconstructor") == 0 ||
	    strcmp(fn->s, "copyreg._reconstructor") == 0) {
		/* (cls, base, state): an instance of a new-style class. */
		if (args->items->len < 1)
			return fail(r, "_reconstructor without a class");
		return new_object(r, args->items->pdata[0], args);
	}
	if (strcmp(fn->s, "_codecs.encode") == 0) {
		/* Python 3's bytes at protocols 0-2: encode(text, 'latin1'). */
		const struct pickle_node *t = args->items->len == 2
			? args->items->pdata[0] : NULL;
		const struct pickle_node *enc = t != NULL ? args->items->pdata[1] : NULL;
		gsize len;
		char *b;

		if (t == NULL || t->type != PK_UNICODE || enc->type != PK_UNICODE ||
		    (strcmp(enc->s, "latin1") != 0 && strcmp(enc->s, "latin-1") != 0))
			return fail(r, "_codecs.encode other than text to latin1");
		b = g_convert(t->s, (gssize)t->len, "ISO-8859-1", "UTF-8", NULL,
			      &len, NULL);
		if (b == NULL)
			return fail(r, "_codecs.encode of text outside Latin-1");
		return push_string(r, PK_BYTES, b, len);
	}
	return fail(r, "REDUCE (a call) of %s refused", fn->s);
}

static int
op_build(struct reader *r)
{
	struct pickle_node *state = pop(r), *o = state != NULL ? top(r) : NULL;

	if (o == NULL)
		return -1;
	if (o->type != PK_OBJECT || o->state != NULL)
		return fail(r, "BUILD of something that is not a new instance");
	if (attach(r, o, state) < 0)
		return -1;
	o->state = state;
	return 0;
}

/* INST (module, name in lines) and OBJ (class first after the mark). */
static int
op_inst(struct reader *r, gboolean obj)
{
	struct pickle_node *cls = NULL, *args;
	guint from = 0;

	if (!obj && (cls = class_node(r)) == NULL)
		return -1;
	if (pop_mark(r, &from) < 0)
		return -1;
	if (obj) {
		if (from >= r->stack->len)
			return fail(r, "OBJ without a class");
		cls = g_ptr_array_steal_index(r->stack, from);
	}
	if ((args = node_new(r, PK_TUPLE)) == NULL || fill(r, args, from) < 0)
		return -1;
	return new_object(r, cls, args);
}

/* --- containers ---------------------------------------------------------- */

static int
op_collect(struct reader *r, enum pickle_type t)
{
	struct pickle_node *c;
	guint from = 0;

	if (pop_mark(r, &from) < 0 || (c = node_new(r, t)) == NULL)
		return -1;
	if (t == PK_DICT && (r->stack->len - from) % 2 != 0)
		return fail(r, "a dict with an odd number of items");
	if (fill(r, c, from) < 0)
		return -1;
	return push(r, c);
}

static int
op_tuple_n(struct reader *r, guint n)
{
	struct pickle_node *c;
	guint floor = r->marks->len > 0
		? g_array_index(r->marks, guint, r->marks->len - 1) : 0;

	if (r->stack->len < floor + n)
		return fail(r, "stack underflow");
	if ((c = node_new(r, PK_TUPLE)) == NULL ||
	    fill(r, c, r->stack->len - n) < 0)
		return -1;
	return push(r, c);
}

/* APPEND(S) and SETITEM(S): items from..end go into the container below
 * them. */
static int
add_items(struct reader *r, guint from, enum pickle_type want)
{
	struct pickle_node *c;

	if (from == 0 || from > r->stack->len)
		return fail(r, "stack underflow");
	c = r->stack->pdata[from - 1];
	if (c->type != want)
		return fail(r, "adding items to something that is not a %s",
			    want == PK_LIST ? "list" : "dict");
	if (want == PK_DICT && (r->stack->len - from) % 2 != 0)
		return fail(r, "a key without its value");
	return fill(r, c, from);
}

static int
op_add(struct reader *r, enum pickle_type want, gboolean many)
{
	guint from = 0, floor;

	if (many)
		return pop_mark(r, &from) < 0 ? -1 : add_items(r, from, want);
	floor = r->marks->len > 0
		? g_array_index(r->marks, guint, r->marks->len - 1) : 0;
	from = r->stack->len - (want == PK_DICT ? 2 : 1);
	if (r->stack->len < floor + (want == PK_DICT ? 3 : 2))
		return fail(r, "stack underflow");
	return add_items(r, from, want);
}

/* --- memo ---------------------------------------------------------------- */

static int
memo_put(struct reader *r, uint64_t idx)
{
	struct pickle_node *n = top(r);

	if (n == NULL)
		return -1;
	if (idx >= r->lim->max_memo)
		return fail(r, "memo index %" G_GUINT64_FORMAT " beyond the "
			    "limit of %zu", idx, r->lim->max_memo);
	if (idx >= r->memo->len)
		g_ptr_array_set_size(r->memo, (guint)idx + 1);
	r->memo->pdata[idx] = n;
	return 0;
}

static int
memo_get(struct reader *r, uint64_t idx)
{
	if (idx >= r->memo->len || r->memo->pdata[idx] == NULL)
		return fail(r, "memo index %" G_GUINT64_FORMAT " was never set",
			    idx);
	return push(r, r->memo->pdata[idx]);
}

static int
memo_line(struct reader *r, gboolean put)
{
	char *s = line(r), *end;
	unsigned long long v;
	int ret;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-')
		ret = fail(r, "'%s' is not a memo index", s);
	else
		ret = put ? memo_put(r, v) : memo_get(r, v);
	g_free(s);
	return ret;
}

static int
memo_bin(struct reader *r, int n, gboolean put)
{
	const unsigned char *b = NULL;

	if (take(r, (size_t)n, &b) < 0)
		return -1;
	return put ? memo_put(r, le(b, n)) : memo_get(r, le(b, n));
}

/* --- the machine --------------------------------------------------------- */

static const char *
op_name(unsigned char op)
{
	switch (op) {
	case 'P': return "PERSID";
	case 'Q': return "BINPERSID";
	case 0x82: return "EXT1";
	case 0x83: return "EXT2";
	case 0x84: return "EXT4";
	case 0x8c: return "SHORT_BINUNICODE (protocol 4)";
	case 0x8d: return "BINUNICODE8 (protocol 4)";
	case 0x8e: return "BINBYTES8 (protocol 4)";
	case 0x8f: return "EMPTY_SET (protocol 4)";
	case 0x90: return "ADDITEMS (protocol 4)";
	case 0x91: return "FROZENSET (protocol 4)";
	case 0x92: return "NEWOBJ_EX (protocol 4)";
	case 0x93: return "STACK_GLOBAL (protocol 4)";
	case 0x94: return "MEMOIZE (protocol 4)";
	case 0x95: return "FRAME (protocol 4)";
	case 'B': return "BINBYTES (protocol 3)";
	case 'C': return "SHORT_BINBYTES (protocol 3)";
	default: return NULL;
	}
}

static int
step(struct reader *r, gboolean *stop_r)
{
	const unsigned char *b = NULL;
	struct pickle_node *n, *x;
	guint from = 0;

	r->op_pos = r->pos;
	if (take(r, 1, &b) < 0)
		return -1;
	r->op = b[0];
	switch (r->op) {
	case 0x80:		/* PROTO */
		if (take(r, 1, &b) < 0)
			return -1;
		if (b[0] > 2)
			return fail(r, "protocol %d: only 0 to 2 are read", b[0]);
		return 0;
	case '.':		/* STOP */
		*stop_r = TRUE;
		return 0;
	case '(':		/* MARK */
		if (r->marks->len >= MAX_MARKS)
			return fail(r, "more than %d open MARKs", MAX_MARKS);
		from = r->stack->len;
		g_array_append_val(r->marks, from);
		return 0;
	case '0':		/* POP */
		return pop(r) != NULL ? 0 : -1;
	case '1':		/* POP_MARK */
		if (pop_mark(r, &from) < 0)
			return -1;
		g_ptr_array_set_size(r->stack, from);
		return 0;
	case '2':		/* DUP */
		return (n = top(r)) != NULL ? push(r, n) : -1;
	case 'N':
		return push(r, node_new(r, PK_NONE));
	case 0x88:		/* NEWTRUE */
	case 0x89:		/* NEWFALSE */
		if ((n = node_new(r, PK_BOOL)) != NULL)
			n->b = r->op == 0x88;
		return push(r, n);
	case 'I':
		return op_int_line(r, FALSE);
	case 'L':
		return op_int_line(r, TRUE);
	case 'J':		/* BININT */
		if (take(r, 4, &b) < 0)
			return -1;
		return push_int(r, (int32_t)(uint32_t)le(b, 4));
	case 'K':		/* BININT1 */
		if (take(r, 1, &b) < 0)
			return -1;
		return push_int(r, b[0]);
	case 'M':		/* BININT2 */
		if (take(r, 2, &b) < 0)
			return -1;
		return push_int(r, (int64_t)le(b, 2));
	case 0x8a:		/* LONG1 */
		return op_long_bin(r, 1);
	case 0x8b:		/* LONG4 */
		return op_long_bin(r, 4);
	case 'F':
		return op_float_line(r);
	case 'G':		/* BINFLOAT */
		return op_binfloat(r);
	case 'S':
		return op_string_line(r);
	case 'T':		/* BINSTRING */
		if (take(r, 4, &b) < 0)
			return -1;
		if ((int32_t)(uint32_t)le(b, 4) < 0)
			return fail(r, "negative length");
		return push_bytes(r, PK_BYTES, (size_t)le(b, 4));
	case 'U':		/* SHORT_BINSTRING */
		if (take(r, 1, &b) < 0)
			return -1;
		return push_bytes(r, PK_BYTES, b[0]);
	case 'V':
		return op_unicode_line(r);
	case 'X':		/* BINUNICODE */
		if (take(r, 4, &b) < 0)
			return -1;
		return push_bytes(r, PK_UNICODE, (size_t)le(b, 4));
	case ')':		/* EMPTY_TUPLE */
		return push(r, node_new(r, PK_TUPLE));
	case ']':		/* EMPTY_LIST */
		return push(r, node_new(r, PK_LIST));
	case '}':		/* EMPTY_DICT */
		return push(r, node_new(r, PK_DICT));
	case 't':		/* TUPLE */
		return op_collect(r, PK_TUPLE);
	case 'l':		/* LIST */
		return op_collect(r, PK_LIST);
	case 'd':		/* DICT */
		return op_collect(r, PK_DICT);
	case 0x85:		/* TUPLE1 */
	case 0x86:		/* TUPLE2 */
	case 0x87:		/* TUPLE3 */
		return op_tuple_n(r, r->op - 0x84u);
	case 'a':		/* APPEND */
		return op_add(r, PK_LIST, FALSE);
	case 'e':		/* APPENDS */
		return op_add(r, PK_LIST, TRUE);
	case 's':		/* SETITEM */
		return op_add(r, PK_DICT, FALSE);
	case 'u':		/* SETITEMS */
		return op_add(r, PK_DICT, TRUE);
	case 'p':		/* PUT */
		return memo_line(r, TRUE);
	case 'g':		/* GET */
		return memo_line(r, FALSE);
	case 'q':		/* BINPUT */
		return memo_bin(r, 1, TRUE);
	case 'r':		/* LONG_BINPUT */
		return memo_bin(r, 4, TRUE);
	case 'h':		/* BINGET */
		return memo_bin(r, 1, FALSE);
	case 'j':		/* LONG_BINGET */
		return memo_bin(r, 4, FALSE);
	case 'c':		/* GLOBAL: a name, not an import */
		return push(r, class_node(r));
	case 'i':		/* INST */
		return op_inst(r, FALSE);
	case 'o':		/* OBJ */
		return op_inst(r, TRUE);
	case 0x81:		/* NEWOBJ */
		if ((x = pop(r)) == NULL || (n = pop(r)) == NULL)
			return -1;
		return new_object(r, n, x);
	case 'R':		/* REDUCE */
		return op_reduce(r);
	case 'b':		/* BUILD */
		return op_build(r);
	default:
		if (op_name(r->op) != NULL)
			return fail(r, "opcode %s refused", op_name(r->op));
		return fail(r, "unknown or refused opcode");
	}
}

struct pickle *
pickle_read(const char *data, size_t len, const struct pickle_limits *limits,
	    GError **error)
{
	struct reader r = { 0 };
	gboolean stop = FALSE;
	struct pickle *p = g_new0(struct pickle, 1);

	p->nodes = g_ptr_array_new_with_free_func(node_free);
	r.p = p;
	r.lim = limits != NULL ? limits : &pickle_default_limits;
	r.data = (const unsigned char *)data;
	r.len = len;
	r.error = error;
	r.stack = g_ptr_array_new();
	r.marks = g_array_new(FALSE, FALSE, sizeof(guint));
	r.memo = g_ptr_array_new();
	if (len > r.lim->max_size) {
		fail(&r, "%zu bytes, more than the limit of %zu", len,
		     r.lim->max_size);
		goto fail;
	}
	while (!stop) {
		if (r.pos >= len) {
			r.op_pos = r.pos;
			fail(&r, "truncated: ends before STOP");
			goto fail;
		}
		if (step(&r, &stop) < 0)
			goto fail;
	}
	if (r.stack->len != 1 || r.marks->len != 0) {
		fail(&r, "STOP with %u values on the stack", r.stack->len);
		goto fail;
	}
	p->root = r.stack->pdata[0];
	goto out;
fail:
	pickle_free(&p);
out:
	g_ptr_array_free(r.stack, TRUE);
	g_array_free(r.marks, TRUE);
	g_ptr_array_free(r.memo, TRUE);
	return p;
}

struct pickle *
pickle_read_file(const char *path, const struct pickle_limits *limits,
		 GError **error)
{
	const struct pickle_limits *lim = limits != NULL ? limits
						       : &pickle_default_limits;
	struct pickle *p;
	char *data = NULL;
	size_t len;
	struct stat st;
	GError *local = NULL;

	if (fs_stat(path, &st) < 0) {
		set_errno_error(error, "stat(%s)", path);
		return NULL;
	}
	if ((size_t)st.st_size > lim->max_size) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "%s: %lld bytes, more than the limit of %zu", path,
			    (long long)st.st_size, lim->max_size);
		return NULL;
	}
	if (fs_read_file(path, &data, &len, error) <= 0) {
		if (error != NULL && *error == NULL)
			g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
				    "%s: no such file", path);
		return NULL;
	}
	p = pickle_read(data, len, lim, &local);
	g_free(data);
	if (p == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT, "%s: %s",
			    path, local->message);
		g_error_free(local);
	}
	return p;
}

void
pickle_free(struct pickle **pp)
{
	if (*pp == NULL)
		return;
	g_ptr_array_free((*pp)->nodes, TRUE);
	g_free(*pp);
	*pp = NULL;
}

const struct pickle_node *
pickle_root(const struct pickle *p)
{
	return p->root;
}

/* --- reading the tree ------------------------------------------------------ */

#define INDEX_MIN 32

static gboolean
is_string(const struct pickle_node *k)
{
	return (k->type == PK_BYTES || k->type == PK_UNICODE) &&
	       memchr(k->s, '\0', k->len) == NULL;
}

const struct pickle_node *
pickle_get(const struct pickle_node *dict, const char *key)
{
	size_t klen = strlen(key);

	if (dict == NULL || dict->type != PK_DICT)
		return NULL;
	if (dict->items->len >= 2 * INDEX_MIN) {
		/* The index is a cache of the (otherwise immutable) tree. */
		struct pickle_node *d = (struct pickle_node *)dict;
		if (d->index == NULL) {
			d->index = g_hash_table_new(g_str_hash, g_str_equal);
			for (guint i = 0; i + 1 < d->items->len; i += 2)
				if (is_string(d->items->pdata[i]))
					g_hash_table_insert(d->index,
						((struct pickle_node *)d->items->pdata[i])->s,
						d->items->pdata[i + 1]);
		}
		return g_hash_table_lookup(d->index, key);
	}
	/* The last binding wins, as in Python. */
	for (guint i = dict->items->len; i >= 2; i -= 2) {
		const struct pickle_node *k = dict->items->pdata[i - 2];
		if ((k->type == PK_BYTES || k->type == PK_UNICODE) &&
		    k->len == klen && memcmp(k->s, key, klen) == 0)
			return dict->items->pdata[i - 1];
	}
	return NULL;
}

char *
pickle_text(const struct pickle_node *n, const char *charset)
{
	char *out = NULL;

	if (n == NULL)
		return NULL;
	if (n->type == PK_UNICODE)
		return g_strndup(n->s, n->len);
	if (n->type != PK_BYTES)
		return NULL;
	if (charset != NULL && *charset != '\0' &&
	    g_ascii_strcasecmp(charset, "us-ascii") != 0)
		out = g_convert(n->s, (gssize)n->len, "UTF-8", charset, NULL,
				NULL, NULL);
	if (out == NULL && g_utf8_validate(n->s, (gssize)n->len, NULL) &&
	    memchr(n->s, '\0', n->len) == NULL &&
	    (charset == NULL || g_ascii_strcasecmp(charset, "utf-8") == 0))
		out = g_strndup(n->s, n->len);
	if (out == NULL)
		out = g_convert(n->s, (gssize)n->len, "UTF-8", "ISO-8859-1",
				NULL, NULL, NULL);
	return out;
}

gboolean
pickle_int(const struct pickle_node *n, int64_t *value_r)
{
	if (n == NULL)
		return FALSE;
	switch (n->type) {
	case PK_INT:
		*value_r = n->i;
		return TRUE;
	case PK_BOOL:
		*value_r = n->b;
		return TRUE;
	case PK_FLOAT:
		if (!isfinite(n->f) || fabs(n->f) > 9e18)
			return FALSE;
		*value_r = (int64_t)n->f;
		return TRUE;
	default:
		return FALSE;
	}
}

static void
repr(GString *out, const struct pickle_node *n, int depth)
{
	if (depth > 200) {
		g_string_append(out, "...");
		return;
	}
	switch (n->type) {
	case PK_NONE: g_string_append(out, "None"); break;
	case PK_BOOL: g_string_append(out, n->b ? "True" : "False"); break;
	case PK_INT: g_string_append_printf(out, "%" G_GINT64_FORMAT, n->i); break;
	case PK_FLOAT: g_string_append_printf(out, "%.17g", n->f); break;
	case PK_BYTES:
	case PK_UNICODE:
		g_string_append(out, n->type == PK_BYTES ? "b'" : "'");
		for (size_t i = 0; i < n->len; i++) {
			unsigned char c = (unsigned char)n->s[i];
			if (c == '\'' || c == '\\')
				g_string_append_printf(out, "\\%c", c);
			else if (c < 0x20 || c == 0x7f ||
				 (c >= 0x80 && n->type == PK_BYTES))
				g_string_append_printf(out, "\\x%02x", c);
			else
				g_string_append_c(out, (char)c);
		}
		g_string_append_c(out, '\'');
		break;
	case PK_CLASS: g_string_append(out, n->s); break;
	case PK_OBJECT:
		repr(out, n->cls, depth + 1);
		repr(out, n->args, depth + 1);
		if (n->state != NULL) {
			g_string_append(out, "+");
			repr(out, n->state, depth + 1);
		}
		break;
	case PK_LIST:
	case PK_TUPLE:
	case PK_DICT:
		g_string_append_c(out, n->type == PK_LIST ? '[' :
				       n->type == PK_TUPLE ? '(' : '{');
		for (guint i = 0; i < n->items->len; i++) {
			if (i > 0)
				g_string_append(out, n->type == PK_DICT && i % 2
						     ? ": " : ", ");
			repr(out, n->items->pdata[i], depth + 1);
		}
		g_string_append_c(out, n->type == PK_LIST ? ']' :
				       n->type == PK_TUPLE ? ')' : '}');
		break;
	}
}

char *
pickle_repr(const struct pickle_node *n)
{
	GString *out = g_string_new(NULL);

	repr(out, n, 0);
	return g_string_free(out, FALSE);
}
