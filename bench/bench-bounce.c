/*
 * bench-bounce.c - bounce detection speed: messages per second of
 * bounce_detect_data() over a corpus of real bounces, in one process
 * (docs/PERFORMANCE.md, "Bounce detection").
 *
 *   bench-bounce [DIR [ROUNDS]]
 *
 * DIR (default tests/data/sisimai/maildir/bsd) is read into memory first,
 * so no figure includes a disk read; then ROUNDS passes (default 5) each
 * detect every message once.  Printed: each pass's messages/s, the
 * median, the time per message, how much of it is GMime's parse alone
 * (message_parse() over the same bytes, measured in the same process),
 * and the peak RSS.
 */
#include "bench.h"
#include "bounce/detect.h"
#include "mail/message.h"

#include <sys/resource.h>

struct corpus {
	GPtrArray *data;	/* GBytes * */
	size_t bytes;
};

static void
corpus_load(const char *dir, struct corpus *c)
{
	GError *error = NULL;
	GDir *d = g_dir_open(dir, 0, &error);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	const char *n;

	if (d == NULL)
		bench_die_gerror(dir, error);
	while ((n = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(names, g_strdup(n));
	g_dir_close(d);
	g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
	c->data = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	for (guint i = 0; i < names->len; i++) {
		char *path = g_build_filename(dir, names->pdata[i], NULL);
		char *text;
		gsize len;

		if (!g_file_get_contents(path, &text, &len, &error))
			bench_die_gerror(path, error);
		g_ptr_array_add(c->data, g_bytes_new_take(text, len));
		c->bytes += len;
		g_free(path);
	}
	g_ptr_array_unref(names);
}

/* One pass; the number of failures found in *found_r. */
static int64_t
pass(const struct corpus *c, gboolean parse_only, unsigned *found_r)
{
	int64_t t0 = bench_now_us();

	*found_r = 0;
	for (guint i = 0; i < c->data->len; i++) {
		gsize len;
		const char *data = g_bytes_get_data(c->data->pdata[i], &len);

		if (parse_only) {
			GMimeMessage *m = message_parse(data, len, NULL);

			if (m != NULL)
				g_object_unref(m);
			continue;
		}
		struct bounce_report *r = bounce_detect_data(data, len, NULL, NULL);

		if (r != NULL)
			*found_r += r->failures->len;
		bounce_report_free(&r);
	}
	return bench_now_us() - t0;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/data/sisimai/maildir/bsd";
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	struct corpus c = { 0 };
	int64_t *detect_us, *parse_us, med_detect, med_parse;
	struct rusage ru;
	unsigned found = 0;

	if (rounds < 1)
		bench_die("ROUNDS must be at least 1");
	message_init();
	corpus_load(dir, &c);
	detect_us = g_new(int64_t, rounds);
	parse_us = g_new(int64_t, rounds);
	printf("bounce detection: %u messages, %zu KB, from %s\n",
	       c.data->len, c.bytes / 1024, dir);
	for (int i = 0; i < rounds; i++) {
		detect_us[i] = pass(&c, FALSE, &found);
		parse_us[i] = pass(&c, TRUE, &(unsigned){ 0 });
		printf("pass %d: %.0f messages/s (%u failures found); GMime's "
		       "parse alone %.0f messages/s\n", i + 1,
		       c.data->len / (detect_us[i] / 1e6), found,
		       c.data->len / (parse_us[i] / 1e6));
	}
	med_detect = bench_percentile(detect_us, rounds, 50);
	med_parse = bench_percentile(parse_us, rounds, 50);
	getrusage(RUSAGE_SELF, &ru);
	printf("median: %.0f messages/s, %.1f µs per message (parse %.1f µs of "
	       "it, %.0f%%); peak RSS %ld KB\n",
	       c.data->len / (med_detect / 1e6),
	       (double)med_detect / c.data->len, (double)med_parse / c.data->len,
	       100.0 * (double)med_parse / (double)med_detect, ru.ru_maxrss);
	g_free(detect_us);
	g_free(parse_us);
	g_ptr_array_unref(c.data);
	return 0;
}
