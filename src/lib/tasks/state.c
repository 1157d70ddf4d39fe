/*
 * state.c - a task's state file, tasks/<name> (docs/formats.md):
 *
 *     herald-task 1
 *     slot: 1796025600
 *     run: scheduled
 *     host: a
 *     pid: 4242
 *     started: 1796025600
 *     ended: 1796025601
 *     outcome: ok
 *     message: 2 held posts expired on 1 list
 *
 * Replaced whole by fs_write_atomic, so a reader without the lock sees
 * the old state or the new one; only the holder of the task's lock writes
 * it.  Values are one line (control characters become spaces); keys this
 * version does not know are skipped, so a newer herald's file still reads.
 */
#include "tasks/tasks.h"
#include "base/base.h"

#include <string.h>

#define STATE_MAGIC "herald-task 1"

void
task_state_free(struct task_state **sp)
{
	struct task_state *s = *sp;

	if (s == NULL)
		return;
	g_free(s->host);
	g_free(s->outcome);
	g_free(s->message);
	g_free(s);
	*sp = NULL;
}

static char *
state_path(struct site *site, const char *name)
{
	return site_path(site, "tasks", name, NULL);
}

/* value on one line: every control character a space. */
static void
append_field(GString *out, const char *key, const char *value)
{
	g_string_append_printf(out, "%s: ", key);
	for (const char *c = value != NULL ? value : ""; *c != '\0'; c++)
		g_string_append_c(out, (unsigned char)*c < 0x20 || *c == 0x7f
				       ? ' ' : *c);
	g_string_append_c(out, '\n');
}

static void
append_int(GString *out, const char *key, int64_t value)
{
	g_string_append_printf(out, "%s: %" G_GINT64_FORMAT "\n", key, value);
}

int
task_state_write(struct site *site, const char *name,
		 const struct task_state *s, GError **error)
{
	GString *out = g_string_new(STATE_MAGIC "\n");
	char *path = state_path(site, name), *dir = fs_dirname(path);
	int ret = -1;

	append_int(out, "slot", s->slot);
	append_field(out, "run", s->manual ? "manual" : "scheduled");
	append_field(out, "host", s->host);
	append_int(out, "pid", s->pid);
	append_int(out, "started", s->started);
	append_int(out, "ended", s->ended);
	append_field(out, "outcome", s->outcome);
	append_field(out, "message", s->message);
	/* The directory exists since `herald init`; a var dir made by an
	 * older herald gets it here. */
	if (fs_mkdir_p(dir, 0770, error) == 0 &&
	    fs_write_atomic(path, out->str, out->len, error) == 0)
		ret = 0;
	g_string_free(out, TRUE);
	g_free(path);
	g_free(dir);
	return ret;
}

static int
parse_int(const char *text, int64_t *n_r)
{
	char *end;

	if (*text == '\0')
		return -1;
	*n_r = g_ascii_strtoll(text, &end, 10);
	return *end == '\0' ? 0 : -1;
}

static void
replace(char **field, const char *value)
{
	g_free(*field);
	*field = g_strdup(value);
}

static int
format_error(GError **error, const char *path, const char *what)
{
	g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT, "%s: %s", path, what);
	return -1;
}

int
task_state_read(struct site *site, const char *name,
		struct task_state **state_r, GError **error)
{
	char *path = state_path(site, name), *data = NULL, **lines = NULL;
	struct task_state *s = NULL;
	size_t len;
	int r = fs_read_file(path, &data, &len, error);

	if (r <= 0)
		goto out;
	r = -1;
	if (memchr(data, '\0', len) != NULL) {
		format_error(error, path, "a NUL byte in a task state file");
		goto out;
	}
	lines = g_strsplit(data, "\n", -1);
	if (lines[0] == NULL || strcmp(lines[0], STATE_MAGIC) != 0) {
		format_error(error, path, "not a task state file (line 1 is "
			     "not \"" STATE_MAGIC "\")");
		goto out;
	}
	s = g_new0(struct task_state, 1);
	for (char **l = lines + 1; *l != NULL; l++) {
		char *colon = strstr(*l, ": ");
		const char *key = *l, *value;
		int64_t *num = NULL;

		if (**l == '\0')
			continue;
		if (colon == NULL) {
			format_error(error, path, "a line that is not "
				     "\"key: value\"");
			goto out;
		}
		*colon = '\0';
		value = colon + 2;
		if (strcmp(key, "slot") == 0)
			num = &s->slot;
		else if (strcmp(key, "pid") == 0)
			num = &s->pid;
		else if (strcmp(key, "started") == 0)
			num = &s->started;
		else if (strcmp(key, "ended") == 0)
			num = &s->ended;
		else if (strcmp(key, "run") == 0)
			s->manual = strcmp(value, "manual") == 0;
		else if (strcmp(key, "host") == 0)
			replace(&s->host, value);
		else if (strcmp(key, "outcome") == 0)
			replace(&s->outcome, value);
		else if (strcmp(key, "message") == 0)
			replace(&s->message, value);
		if (num != NULL && parse_int(value, num) < 0) {
			format_error(error, path, "a number that is not one");
			goto out;
		}
	}
	if (s->outcome == NULL) {
		format_error(error, path, "no outcome");
		goto out;
	}
	if (s->host == NULL)
		s->host = g_strdup("");
	if (s->message == NULL)
		s->message = g_strdup("");
	*state_r = s;
	s = NULL;
	r = 1;
out:
	task_state_free(&s);
	g_strfreev(lines);
	g_free(data);
	g_free(path);
	return r;
}

char *
task_state_summary(const struct task_state *s)
{
	const char *m = s->message != NULL ? s->message : "";

	if (strcmp(s->outcome, TASK_OK) == 0 && *m != '\0')
		return g_strdup_printf("%s: %s", s->outcome, m);
	if (*m != '\0')
		return g_strdup_printf("%s (%s)", s->outcome, m);
	return g_strdup(s->outcome);
}
