/*
 * pipe_socket.h - the name of the LMTP server's pipe socket, through
 * which herald-mta hands messages over (src/mta/handoff.h; the server:
 * lmtp.pipe_socket in src/herald/lmtp.c).
 *
 * An abstract unix socket (Linux: no file, gone with its process) named
 * "herald-mta/DEV/INODE" after the var dir's device and inode, so that
 * every spelling of the var dir's path finds the one socket, each host
 * (each kernel) has its own, and the var dir may sit on NFS.
 */
#ifndef HERALD_ENTRY_PIPE_SOCKET_H
#define HERALD_ENTRY_PIPE_SOCKET_H

#include <sys/socket.h>
#include <sys/un.h>

/* The address of var_dir's pipe socket in *sa and *len_r; -1 (errno set)
 * when var_dir cannot be looked at. */
int pipe_socket_address(const char *var_dir, struct sockaddr_un *sa,
			socklen_t *len_r);

#endif
