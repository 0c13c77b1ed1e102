/* A container's filesystem view and kernel identity, set up inside its new mount (and UTS,
 * network) namespaces by its init process: the root filesystem (overlayfs of the image's
 * layer directories plus a per-container upper directory, or a copied tree where overlay is
 * unavailable), /proc, read-only /sys, a minimal /dev, /etc/hosts, /etc/hostname,
 * /etc/resolv.conf, bind volumes, pivot_root, masked /proc paths, --read-only, loopback. */
#ifndef BERTH_CLIENT_LINUX_H
#define BERTH_CLIENT_LINUX_H

#include <stdbool.h>
#include <stddef.h>

#include "common/berr.h"

struct linux_volume {
	char *src; /* absolute host path; heap */
	char *dst; /* absolute container path; heap */
	bool ro;
};

struct linux_rootfs {
	const char *bundle;  /* the container's directory: rootfs/, upper/, work/, hosts... */
	char *const *lowers; /* layer directories, bottom layer first */
	size_t nlowers;
	bool force_copy;     /* copy the layers instead of trying overlayfs */
	bool volatile_upper; /* the upper directory dies with the container (--rm): no syncs */
	bool privileged;     /* /sys read-write, no masked /proc paths */
	const struct linux_volume *volumes;
	size_t nvolumes;
	const char *console; /* a pty slave to bind on /dev/console, or NULL */
};

/* Make every mount private, build bundle/rootfs and mount the container's filesystems in
 * it (call in the new mount namespace, before pivoting). */
int linux_rootfs_prepare(const struct linux_rootfs *r, struct berr *err);
/* Make bundle/rootfs the root (pivot_root) and detach the old root. */
int linux_pivot_root(const char *bundle, struct berr *err);
/* After pivoting: mask and write-protect /proc and /sys paths as docker does (unless
 * privileged), then make the root read-only when read_only. */
int linux_finish(bool privileged, bool read_only, struct berr *err);
/* Create directory path (and its parents) in the current root. */
int linux_mkdir_p(const char *path, struct berr *err);
/* Bring the loopback interface up (in a new network namespace). */
int linux_loopback_up(struct berr *err);

#endif
