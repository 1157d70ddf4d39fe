/*
 * test-subscribe-group.c - unit tests for subscribe_group.c: threads that
 * ask while a batch is under way are committed together in the next one
 * (one roster change for all of them), each gets its own outcome (done,
 * already for an address twice in a batch or a member already, banned),
 * every address lands exactly once, and a lone request is a batch of one
 * at once.
 */
#include "base/base.h"
#include "list/list.h"
#include "list/subscribe_group.h"
#include "store/lock.h"

#include <string.h>

#include "testutil.h"

#define FQDN "demo@example.org"
#define THREADS 8

struct asker {
	const char *var;
	char *addrs[2];		/* the second is NULL, or a duplicate */
	int outcomes[2];
	int ret;
};

static gpointer ask(gpointer p)
{
	struct asker *a = p;
	GError *error = NULL;
	/* Each thread opens the site and list afresh, as a web request does. */
	struct site *site = site_open(a->var, &error);
	g_assert_no_error(error);
	struct list *l = list_open(site, FQDN, &error);
	g_assert_no_error(error);
	struct subscribe_request r[2];
	guint n = a->addrs[1] ? 2 : 1;
	for (guint i = 0; i < n; i++)
		r[i] = (struct subscribe_request){
			.address = a->addrs[i], .requester = "admin",
			.via = "test", .admin = TRUE, .welcome = 0,
		};
	a->ret = subscribe_group(l, r, n, a->outcomes, &error);
	g_assert_no_error(error);
	list_free(&l);
	site_free(&site);
	return NULL;
}

/* Waits until n callers are queued behind a batch under way. */
static void wait_queued(struct list *l, guint n)
{
	gboolean busy = FALSE;
	for (int i = 0; i < 3000; i++) {
		if (subscribe_group_queued(l, &busy) == n && busy)
			return;
		g_usleep(10000);
	}
	g_assert_not_reached();
}

static guint count_members(struct list *l)
{
	struct roster *r = NULL;
	GError *error = NULL;
	g_assert_cmpint(roster_load(l, &r, &error), ==, 0);
	g_assert_no_error(error);
	guint n = roster_count(r);
	roster_free(&r);
	return n;
}

static void test_batched(void)
{
	struct list_fixture f;
	struct lock *lk = NULL;
	GError *error = NULL;
	struct asker a[THREADS] = { 0 };
	GThread *t[THREADS];
	guint64 b0, r0, b1, r1;

	list_fixture_init(&f, FQDN);
	g_assert_cmpint(list_set(f.list, "ban_list", "^.*@banned\\.example$",
				 &error), ==, 0);
	g_assert_no_error(error);
	subscribe_group_stats(&b0, &r0);
	/* While we hold the list lock, the first asker's batch cannot commit:
	 * everyone else queues behind it. */
	g_assert_cmpint(list_lock(f.list, 1000, &lk, &error), ==, 0);
	for (int i = 0; i < THREADS; i++) {
		a[i].var = f.var;
		a[i].addrs[0] = g_strdup_printf("user%d@example.com", i);
		if (i == 3)	/* twice in one call: the second is "already" */
			a[i].addrs[1] = g_strdup("user3@EXAMPLE.com");
		if (i == 5)
			a[i].addrs[1] = g_strdup("x@banned.example");
		t[i] = g_thread_new("ask", ask, &a[i]);
		if (i == 0)	/* the leader, waiting for the lock */
			wait_queued(f.list, 0);
	}
	wait_queued(f.list, THREADS - 1);
	g_assert_cmpuint(count_members(f.list), ==, 0);
	g_assert_cmpint(lock_release(lk, &error), ==, 0);
	lock_free(&lk);
	for (int i = 0; i < THREADS; i++)
		g_thread_join(t[i]);
	subscribe_group_stats(&b1, &r1);
	/* The leader alone, then everyone who queued meanwhile at once. */
	g_assert_cmpuint(b1 - b0, ==, 2);
	g_assert_cmpuint(r1 - r0, ==, THREADS + 2);
	for (int i = 0; i < THREADS; i++) {
		g_assert_cmpint(a[i].ret, ==, 0);
		g_assert_cmpint(a[i].outcomes[0], ==, SUBSCRIBE_DONE);
	}
	g_assert_cmpint(a[3].outcomes[1], ==, SUBSCRIBE_ALREADY);
	g_assert_cmpint(a[5].outcomes[1], ==, SUBSCRIBE_BANNED);
	g_assert_cmpuint(count_members(f.list), ==, THREADS);

	/* Alone: a batch of one, and a member already is "already". */
	struct asker again = { .var = f.var };
	again.addrs[0] = g_strdup("user0@example.com");
	ask(&again);
	g_assert_cmpint(again.outcomes[0], ==, SUBSCRIBE_ALREADY);
	subscribe_group_stats(&b0, &r0);
	g_assert_cmpuint(b0 - b1, ==, 1);
	g_assert_cmpuint(count_members(f.list), ==, THREADS);
	g_free(again.addrs[0]);
	for (int i = 0; i < THREADS; i++) {
		g_free(a[i].addrs[0]);
		g_free(a[i].addrs[1]);
	}
	list_fixture_clear(&f);
}

static void test_invalid(void)
{
	struct list_fixture f;
	GError *error = NULL;
	int outcome = -1;
	struct subscribe_request r = { .address = "not an address",
				       .admin = TRUE };

	list_fixture_init(&f, FQDN);
	g_assert_cmpint(subscribe_group(f.list, &r, 1, &outcome, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpuint(count_members(f.list), ==, 0);
	list_fixture_clear(&f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/subscribe_group/batched", test_batched);
	g_test_add_func("/subscribe_group/invalid", test_invalid);
	return g_test_run();
}
