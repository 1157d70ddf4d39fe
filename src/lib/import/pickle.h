/*
 * pickle.h - a safe reader of Python pickles (protocols 0 to 2), for the
 * files Mailman 2.1 leaves behind: lists/NAME/config.pck,
 * data/heldmsg-NAME-N.pck, data/pending.pck.
 *
 * Python's own unpickler is a small virtual machine that calls whatever
 * the file names (GLOBAL os system + REDUCE runs a shell command).  This
 * reader builds a tree of inert data and calls nothing: a class reference
 * is a (module, name) pair, an instance is its class, arguments and state
 * as data.  Only the opcodes Mailman's pickles use are read; any other is
 * refused with an error naming it, and so is REDUCE of anything but the
 * two constructors Python itself writes for plain data (copy_reg's
 * _reconstructor, _codecs.encode for byte strings), and any class outside
 * Mailman's modules.
 *
 * Bounds: the input size, the memo, the number of nodes and the depth of
 * nesting are limited (struct pickle_limits); a container may sit in one
 * place only (but for tuples of plain values, which Python 2 shares), so
 * a memo reference can make neither a cycle nor an exponential tree.  A truncated pickle (no STOP) is an error.
 */
#ifndef HERALD_PICKLE_H
#define HERALD_PICKLE_H

#include <glib.h>
#include <stdint.h>

enum pickle_type {
	PK_NONE,
	PK_BOOL,	/* b */
	PK_INT,		/* i: Python 2's int and long, within 64 bits */
	PK_FLOAT,	/* f */
	PK_BYTES,	/* s, len: Python 2's str (its charset is not recorded) */
	PK_UNICODE,	/* s, len: UTF-8 */
	PK_LIST,	/* items */
	PK_TUPLE,	/* items */
	PK_DICT,	/* items: key, value, key, value ... in pickle order */
	PK_CLASS,	/* s: "module.name", never looked up */
	PK_OBJECT,	/* an instance: cls, args (a tuple), state (or NULL) */
};

struct pickle_node {
	enum pickle_type type;
	gboolean b;
	int64_t i;
	double f;
	char *s;
	size_t len;
	GPtrArray *items;
	struct pickle_node *cls, *args, *state;
	/* Where the node sits (a container goes in one place only) and the
	 * height of the tree under it. */
	struct pickle_node *parent;
	int height;
	/* A big dict's string keys -> values, made by its first lookup
	 * (pickle_get), so that reading 100,000 members is not quadratic. */
	GHashTable *index;
};

struct pickle_limits {
	size_t max_size;	/* bytes of input */
	int max_depth;		/* containers within containers */
	size_t max_memo;	/* memo slots */
	size_t max_nodes;	/* values in the tree */
};
/* 256 MiB, depth 100, 16 M memo slots and 32 M nodes: enough for a list
 * of a million members. */
extern const struct pickle_limits pickle_default_limits;

struct pickle;

/* Reads one pickle (limits NULL: the defaults).  NULL with an error that
 * names the opcode and its offset when the input is refused. */
struct pickle *pickle_read(const char *data, size_t len,
			   const struct pickle_limits *limits, GError **error);
struct pickle *pickle_read_file(const char *path,
				const struct pickle_limits *limits,
				GError **error);
void pickle_free(struct pickle **pp);
const struct pickle_node *pickle_root(const struct pickle *p);

/* A dict's value under a string key (bytes or unicode), else NULL. */
const struct pickle_node *pickle_get(const struct pickle_node *dict,
				     const char *key);
/* A string's value as UTF-8: unicode as it is, bytes decoded from charset
 * (NULL: Latin-1), or from Latin-1 when they are not valid in it.  NULL
 * for a node that is not a string. */
char *pickle_text(const struct pickle_node *n, const char *charset);
/* Numbers and booleans as an integer (floats truncated); FALSE if n is
 * none of them. */
gboolean pickle_int(const struct pickle_node *n, int64_t *value_r);
/* A readable rendering, for tests and reports (depth-bounded). */
char *pickle_repr(const struct pickle_node *n);

#endif
