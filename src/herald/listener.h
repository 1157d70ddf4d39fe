/*
 * listener.h - the listening socket of a herald server (the LMTP server,
 * the web interface): "unix:/path" or "IPv4:PORT".
 *
 * A unix socket path is only ever taken when nothing is there or a socket
 * nobody answers on (a server that died): a live server's socket, or any
 * file that is not a socket, makes the server refuse to start, naming the
 * path.  The new socket is made under a temporary name, given mode 0660
 * and its group, and linked into place (link() never replaces); it is
 * removed at exit only if it is still the one this server made (same
 * inode).
 */
#ifndef HERALD_LISTENER_H
#define HERALD_LISTENER_H

#include <glib.h>
#include <sys/types.h>

struct listener {
	/* Set by the caller before listener_open: */
	const char *what;	/* the setting, for errors ("lmtp.listen") */
	const char *group_what;	/* the group's setting ("lmtp.socket_group") */
	const char *subsys;	/* the log's subsystem ("lmtp") */
	/* Set by listener_open: */
	int fd;
	char *spec;
	char *group;
	char *path;		/* unix socket, or NULL */
	dev_t dev;
	ino_t ino;
};

/* Opens spec ("unix:/path" or "HOST:PORT", IPv4); group: for a unix
 * socket, the group that may connect (NULL or "": ours).  Leaves nothing
 * behind on failure. */
int listener_open(struct listener *l, const char *spec, const char *group,
		  GError **error);
/* Gives the unix socket (if it is one) a new group, and records it. */
int listener_set_group(struct listener *l, const char *group, GError **error);
/* Closes the socket and removes its file if it is still the one it made. */
void listener_close(struct listener *l);

#endif
