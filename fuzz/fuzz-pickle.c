/*
 * fuzz-pickle.c - libFuzzer target: the safe pickle reader
 * (src/lib/import/pickle.c) on any bytes, with small limits so that the
 * limits themselves are reached.
 *
 * Checked, as a crash: a pickle is either refused with an error or read
 * to a tree whose rendering (pickle_repr) and lookups finish; nothing is
 * ever called (the reader has nothing to call).  Seeds: the real Mailman
 * pickles in tests/data/mailman2/.
 */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "import/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pickle_limits lim = {
		.max_size = 1 << 20, .max_depth = 20, .max_memo = 4096,
		.max_nodes = 100000,
	};
	GError *error = NULL;
	struct pickle *p = pickle_read((const char *)data, size, &lim, &error);

	if (p == NULL) {
		if (error == NULL)
			__builtin_trap();
		g_error_free(error);
		return 0;
	}
	if (error != NULL)
		__builtin_trap();
	g_free(pickle_repr(pickle_root(p)));
	g_free(pickle_text(pickle_get(pickle_root(p), "real_name"), "iso-8859-7"));
	pickle_free(&p);
	return 0;
}
