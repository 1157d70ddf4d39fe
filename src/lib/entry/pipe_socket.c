/*
 * pipe_socket.c - the pipe socket's name (pipe_socket.h).
 */
#include "entry/pipe_socket.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int
pipe_socket_address(const char *var_dir, struct sockaddr_un *sa,
		    socklen_t *len_r)
{
	struct stat st;
	int n;

	if (stat(var_dir, &st) < 0)
		return -1;
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	/* sun_path[0] = '\0': the abstract namespace; the name is the rest,
	 * its length given, no terminator. */
	n = snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1,
		     "herald-mta/%llx/%llx", (unsigned long long)st.st_dev,
		     (unsigned long long)st.st_ino);
	*len_r = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			     (size_t)n);
	return 0;
}
