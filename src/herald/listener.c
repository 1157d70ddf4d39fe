/*
 * listener.c - the listening sockets of herald's servers (listener.h).
 */
#include "listener.h"
#include "base/base.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>


/* Removes the listener's socket file if it is still the one it made. */
static void
listener_unlink(struct listener *l)
{
	struct stat st;

	if (l->path != NULL && lstat(l->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == l->dev && st.st_ino == l->ino)
		(void)unlink(l->path);
}

void
listener_close(struct listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	listener_unlink(l);
	g_free(l->spec);
	g_free(l->group);
	g_free(l->path);
	l->spec = l->group = l->path = NULL;
	l->fd = -1;
}

/* Makes room for a unix socket at path: there is nothing there, or a
 * socket nobody answers on (its server died), which is removed.  A socket
 * a server answers on, and anything that is not a socket, is left alone
 * and refused. */
static int
unix_path_claim(const struct listener *l, const char *path, const struct sockaddr_un *sun,
		GError **error)
{
	struct stat st;
	int probe, r, err;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		set_errno_error(error, "%s: lstat(%s)", l->what, path);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
			    "%s: %s exists and is not a socket; "
			    "not removing it", l->what, path);
		return -1;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe < 0) {
		set_errno_error(error, "socket(AF_UNIX)");
		return -1;
	}
	r = connect(probe, (const struct sockaddr *)sun, sizeof *sun);
	err = errno;
	close(probe);
	if (r == 0 || err == EAGAIN || err == EINPROGRESS) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
			    "%s: a server is listening on %s already; "
			    "not taking its socket", l->what, path);
		return -1;
	}
	if (err != ECONNREFUSED) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "%s: cannot tell whether a server listens "
			    "on %s (connect: %s); not removing it", l->what, path,
			    g_strerror(err));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		set_errno_error(error, "unlink(%s), a stale socket", path);
		return -1;
	}
	log_info(l->subsys, "removed the stale socket %s (no server "
		 "answered on it)", path);
	return 0;
}

/* The group that may connect to a unix socket (NULL or "": ours). */
static int
socket_set_group(const struct listener *l, const char *path, const char *group,
		 GError **error)
{
	struct group *gr;

	if (group == NULL || *group == '\0')
		return 0;
	if ((gr = getgrnam(group)) == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "%s: no group '%s'", l->group_what, group);
		return -1;
	}
	if (chown(path, (uid_t)-1, gr->gr_gid) < 0) {
		set_errno_error(error, "chown(%s, group %s)", path, group);
		return -1;
	}
	return 0;
}

/* Removes tmp if it is a socket (ours: named after our pid); anything
 * else there is an error. */
static int
unlink_socket(const struct listener *l, const char *tmp, GError **error)
{
	struct stat st;

	if (lstat(tmp, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
			    "%s: %s exists and is not a socket; not "
			    "removing it", l->what, tmp);
		return -1;
	}
	(void)unlink(tmp);
	return 0;
}

/* The socket is made under a temporary name, given its mode and group,
 * and linked into place: it appears whole (a client never finds it with
 * the wrong group), and link() fails rather than replace a socket that
 * another server made after unix_path_claim() looked. */
static int
listen_unix(struct listener *l, const char *path, const char *group,
	    GError **error)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *tmp = g_strdup_printf("%s.%d.tmp", path, (int)getpid());
	gboolean made = FALSE;
	struct stat st;
	int fd = -1, ret = -1;

	if (strlen(tmp) >= sizeof sun.sun_path) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "%s: socket path too long (at most %zu "
			    "bytes): %s", l->what, sizeof sun.sun_path - 1 -
			    (strlen(tmp) - strlen(path)), path);
		goto out;
	}
	g_strlcpy(sun.sun_path, path, sizeof sun.sun_path);
	if (unix_path_claim(l, path, &sun, error) < 0 ||
	    unlink_socket(l, tmp, error) < 0)
		goto out;
	g_strlcpy(sun.sun_path, tmp, sizeof sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		set_errno_error(error, "%s: bind(%s)", l->what, tmp);
		goto out;
	}
	made = TRUE;
	if (chmod(tmp, 0660) < 0) {
		set_errno_error(error, "chmod(%s)", tmp);
		goto out;
	}
	if (socket_set_group(l, tmp, group, error) < 0)
		goto out;
	if (listen(fd, 128) < 0) {
		set_errno_error(error, "listen(%s)", tmp);
		goto out;
	}
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
				    "%s: a server is listening on %s "
				    "already; not taking its socket", l->what, path);
		else
			set_errno_error(error, "link(%s, %s)", tmp, path);
		goto out;
	}
	/* From here on the file is ours, and only ours is ever removed. */
	if (lstat(path, &st) < 0) {
		set_errno_error(error, "lstat(%s)", path);
		goto out;
	}
	l->fd = fd;
	l->path = g_strdup(path);
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	fd = -1;
	ret = 0;
out:
	if (made)
		(void)unlink(tmp);
	if (fd >= 0)
		close(fd);
	g_free(tmp);
	return ret;
}

static int
listen_tcp(struct listener *l, const char *spec, GError **error)
{
	const char *colon = strrchr(spec, ':');
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int one = 1, fd;
	char *host = colon != NULL ? g_strndup(spec, (gsize)(colon - spec)) : NULL;

	if (host == NULL || inet_pton(AF_INET, host, &sin.sin_addr) != 1 ||
	    atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "%s: '%s' is neither unix:PATH nor IPv4:PORT", l->what,
			    spec);
		g_free(host);
		return -1;
	}
	g_free(host);
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 128) < 0) {
		set_errno_error(error, "listen on %s", spec);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	l->fd = fd;
	return 0;
}

/* "unix:/path" or "HOST:PORT".  group: for a unix socket, the group
 * that may connect (NULL or "": ours).  Leaves nothing behind on failure. */
int
listener_open(struct listener *l, const char *spec, const char *group,
	      GError **error)
{
	int r;

	l->fd = -1;
	l->spec = l->group = l->path = NULL;
	if (g_str_has_prefix(spec, "unix:"))
		r = listen_unix(l, spec + 5, group, error);
	else
		r = listen_tcp(l, spec, error);
	if (r < 0) {
		listener_close(l);
		return -1;
	}
	l->spec = g_strdup(spec);
	l->group = g_strdup(group);
	return 0;
}


int
listener_set_group(struct listener *l, const char *group, GError **error)
{
	if (l->path != NULL && socket_set_group(l, l->path, group, error) < 0)
		return -1;
	g_free(l->group);
	l->group = g_strdup(group);
	return 0;
}
