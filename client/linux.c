/* Mounts for a container, done by its init process in the new mount namespace. Every
 * mount target inside the image's tree is resolved with openat2(RESOLVE_IN_ROOT) against
 * the rootfs and mounted through /proc/self/fd/N, so a symlink in an image (etc/hosts ->
 * /etc/shadow) can never redirect a mount onto the host. */
#include "client/linux.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "client/store.h"
#include "common/xalloc.h"

/* openat2 with RESOLVE_IN_ROOT: path is looked up as if rootfd were "/". */
static int in_root_open(int rootfd, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT};
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	/* RESOLVE_IN_ROOT answers EAGAIN when a rename or mount anywhere on the machine raced
	 * the lookup: the kernel asks for a retry. */
	long fd;
	do
		fd = syscall(SYS_openat2, rootfd, path, &how, sizeof how);
	while (fd < 0 && errno == EAGAIN);
	return (int)fd;
}

/* Open path inside the root (O_PATH), creating missing components: directories on the
 * way, and the last one as a directory (dir) or an empty file. */
static int in_root_mkpath(int rootfd, const char *path, bool dir, struct berr *err)
{
	cleanup_free char *p = xstrdup(path);
	size_t len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	int fd = in_root_open(rootfd, p, O_PATH);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return berr_sys(err, errno, "open %s in the container", path);
	char *slash = strrchr(p, '/');
	const char *name = slash ? slash + 1 : p;
	cleanup_close int parent = -1;
	if (slash && slash != p) {
		*slash = '\0';
		parent = in_root_mkpath(rootfd, p, true, err);
		*slash = '/';
	} else {
		parent = in_root_open(rootfd, "/", O_PATH);
	}
	if (parent < 0)
		return -1;
	/* mkdirat/openat need a real directory fd, not O_PATH. */
	cleanup_close int pdir = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pdir < 0)
		return berr_sys(err, errno, "open the parent of %s in the container", path);
	if (dir) {
		if (mkdirat(pdir, name, 0755) < 0 && errno != EEXIST)
			return berr_sys(err, errno, "mkdir %s in the container", path);
	} else {
		int f = openat(pdir, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (f < 0 && errno == ELOOP) {
			/* A dangling symlink (etc/resolv.conf -> ../run/...): the mount point
			 * replaces it in the container's own upper layer. */
			if (unlinkat(pdir, name, 0) < 0)
				return berr_sys(err, errno, "replace the dangling symlink %s in the container", path);
			f = openat(pdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		}
		if (f < 0 && errno != EEXIST)
			return berr_sys(err, errno, "create %s in the container", path);
		if (f >= 0)
			close(f);
	}
	fd = in_root_open(rootfd, p, O_PATH);
	if (fd < 0)
		return berr_sys(err, errno, "open %s in the container", path);
	return fd;
}

/* Mount onto path inside the root; with ro, remount the new mount read-only. */
static int mount_in_root(int rootfd, const char *src, const char *path, bool dir, const char *fstype,
                         unsigned long flags, const char *data, bool ro, struct berr *err)
{
	cleanup_close int fd = in_root_mkpath(rootfd, path, dir, err);
	if (fd < 0)
		return -1;
	char target[64];
	snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
	if (mount(src, target, fstype, flags, data) < 0)
		return berr_sys(err, errno, "mount %s on %s", src, path);
	if (ro) {
		/* Re-resolve: the fd still names what lies under the new mount. */
		cleanup_close int fd2 = in_root_open(rootfd, path, O_PATH);
		if (fd2 < 0)
			return berr_sys(err, errno, "open %s in the container", path);
		snprintf(target, sizeof target, "/proc/self/fd/%d", fd2);
		unsigned long rf = MS_BIND | MS_REMOUNT | MS_RDONLY | (flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC));
		if (mount(NULL, target, NULL, rf, NULL) < 0)
			return berr_sys(err, errno, "make %s read-only", path);
	}
	return 0;
}

/* Copy the tree at src over dst, applying overlay whiteouts (0/0 char devices remove,
 * trusted.overlay.opaque=y directories replace) as the overlay stack would show it. */
static int copy_tree(int src, int dst, struct berr *err)
{
	int sfd = dup(src);
	if (sfd < 0)
		return berr_sys(err, errno, "dup");
	DIR *d = fdopendir(sfd);
	if (!d) {
		close(sfd);
		return berr_sys(err, errno, "opendir");
	}
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		const char *n = e->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		struct stat st, dt;
		if (fstatat(src, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = berr_sys(err, errno, "stat %s", n);
			break;
		}
		bool have = fstatat(dst, n, &dt, AT_SYMLINK_NOFOLLOW) == 0;
		if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
			if (have)
				rc = store_remove_tree(dst, n, err);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			cleanup_close int s2 = openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 < 0) {
				rc = berr_sys(err, errno, "open %s", n);
				break;
			}
			char x[4];
			bool opaque = fgetxattr(s2, "trusted.overlay.opaque", x, sizeof x) == 1 && x[0] == 'y';
			if (have && (!S_ISDIR(dt.st_mode) || opaque)) {
				if ((rc = store_remove_tree(dst, n, err)) < 0)
					break;
				have = false;
			}
			if (!have && mkdirat(dst, n, 0700) < 0) {
				rc = berr_sys(err, errno, "mkdir %s", n);
				break;
			}
			cleanup_close int d2 = openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (d2 < 0) {
				rc = berr_sys(err, errno, "open %s", n);
				break;
			}
			if (fchown(d2, st.st_uid, st.st_gid) < 0 || fchmod(d2, st.st_mode & 07777) < 0) {
				rc = berr_sys(err, errno, "chown/chmod %s", n);
				break;
			}
			rc = copy_tree(s2, d2, err);
			continue;
		}
		if (have && (rc = store_remove_tree(dst, n, err)) < 0)
			break;
		if (S_ISREG(st.st_mode)) {
			cleanup_close int in = openat(src, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			cleanup_close int out =
			    openat(dst, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (in < 0 || out < 0) {
				rc = berr_sys(err, errno, "copy %s", n);
				break;
			}
			off_t left = st.st_size;
			while (left > 0) {
				ssize_t k = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
				if (k <= 0) {
					rc = berr_sys(err, k < 0 ? errno : EIO, "copy %s", n);
					break;
				}
				left -= k;
			}
			if (rc == 0 && (fchown(out, st.st_uid, st.st_gid) < 0 || fchmod(out, st.st_mode & 07777) < 0))
				rc = berr_sys(err, errno, "chown/chmod %s", n);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t k = readlinkat(src, n, target, sizeof target - 1);
			if (k < 0) {
				rc = berr_sys(err, errno, "readlink %s", n);
				break;
			}
			target[k] = '\0';
			if (symlinkat(target, dst, n) < 0 ||
			    fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
				rc = berr_sys(err, errno, "symlink %s", n);
		} else if (S_ISFIFO(st.st_mode)) {
			if (mkfifoat(dst, n, st.st_mode & 07777) < 0)
				rc = berr_sys(err, errno, "mkfifo %s", n);
		}
	}
	closedir(d);
	return rc;
}

/* The layers copied into bundle/rootfs, bound onto itself so it is a mount point. */
static int rootfs_copy(const struct linux_rootfs *r, const char *rootfs, struct berr *err)
{
	cleanup_close int dst = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		return berr_sys(err, errno, "open %s", rootfs);
	for (size_t i = 0; i < r->nlowers; i++) {
		cleanup_close int src = open(r->lowers[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (src < 0)
			return berr_sys(err, errno, "open layer %s", r->lowers[i]);
		if (copy_tree(src, dst, err) < 0) {
			berr_prefix(err, "copy layer %s", r->lowers[i]);
			return -1;
		}
	}
	if (mount(rootfs, rootfs, NULL, MS_BIND, NULL) < 0)
		return berr_sys(err, errno, "bind %s", rootfs);
	return 0;
}

/* overlayfs of the layers with bundle/upper and bundle/work. Lower directories are named
 * relative to their common parent (the store's layers/sha256) so that the option string
 * stays under the page size for images of ~60 layers. A --rm container's overlay is
 * "volatile": its unmount skips syncing the upper filesystem, which nothing will read again. Returns -2 with errno set
 * when the mount itself fails. */
static int rootfs_overlay(const struct linux_rootfs *r, const char *rootfs, struct berr *err)
{
	const char *first = r->lowers[r->nlowers - 1];
	const char *slash = strrchr(first, '/');
	size_t plen = slash ? (size_t)(slash - first) : 0;
	bool relative = plen > 0;
	for (size_t i = 0; i < r->nlowers && relative; i++)
		relative = strncmp(r->lowers[i], first, plen) == 0 && r->lowers[i][plen] == '/' &&
		           !strchr(r->lowers[i] + plen + 1, '/');
	cleanup_free char *parent = relative ? xstrndup(first, plen) : NULL;
	size_t cap = 256 + strlen(r->bundle) * 2;
	for (size_t i = 0; i < r->nlowers; i++)
		cap += strlen(r->lowers[i]) + 1;
	cleanup_free char *opts = xmalloc(cap);
	size_t off = (size_t)snprintf(opts, cap, "lowerdir=");
	for (size_t i = r->nlowers; i-- > 0;) {
		const char *l = relative ? r->lowers[i] + plen + 1 : r->lowers[i];
		off += (size_t)snprintf(opts + off, cap - off, "%s%s", l, i ? ":" : "");
	}
	snprintf(opts + off, cap - off, ",upperdir=%s/upper,workdir=%s/work%s", r->bundle, r->bundle,
	         r->volatile_upper ? ",volatile" : "");
	if (strlen(opts) >= 4096)
		return berr_set(err, BERR_UNSUPPORTED, "too many layers (%zu) for an overlay mount", r->nlowers);
	int cwd = -1;
	if (relative) {
		cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (chdir(parent) < 0) {
			if (cwd >= 0)
				close(cwd);
			return berr_sys(err, errno, "chdir %s", parent);
		}
	}
	int rc = mount("overlay", rootfs, "overlay", 0, opts);
	if (rc < 0 && errno == EINVAL && r->volatile_upper) {
		/* Kernels before 5.10 do not know "volatile": mount without it. */
		opts[strlen(opts) - strlen(",volatile")] = '\0';
		rc = mount("overlay", rootfs, "overlay", 0, opts);
	}
	int e = errno;
	if (cwd >= 0) {
		if (fchdir(cwd) < 0)
			e = errno;
		close(cwd);
	}
	if (rc < 0) {
		errno = e;
		return -2; /* the mount itself failed: errno says why, the caller may fall back */
	}
	return 0;
}

/* /dev: a small tmpfs with the host's null, zero, full, random, urandom and tty bound in,
 * a private devpts, shm, and the usual symlinks. */
static int mount_dev(int rootfd, const char *console, struct berr *err)
{
	if (mount_in_root(rootfd, "tmpfs", "/dev", true, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k",
	                  false, err) < 0)
		return -1;
	static const char *const devs[] = {"null", "zero", "full", "random", "urandom", "tty"};
	for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
		char host[32], path[32];
		snprintf(host, sizeof host, "/dev/%s", devs[i]);
		snprintf(path, sizeof path, "/dev/%s", devs[i]);
		if (mount_in_root(rootfd, host, path, false, NULL, MS_BIND, NULL, false, err) < 0)
			return -1;
	}
	if (mount_in_root(rootfd, "devpts", "/dev/pts", true, "devpts", MS_NOSUID | MS_NOEXEC,
	                  "newinstance,ptmxmode=0666,mode=0620,gid=5", false, err) < 0)
		return -1;
	if (mount_in_root(rootfd, "shm", "/dev/shm", true, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	                  "mode=1777,size=65536k", false, err) < 0)
		return -1;
	if (console && mount_in_root(rootfd, console, "/dev/console", false, NULL, MS_BIND, NULL, false, err) < 0)
		return -1;
	cleanup_close int dev = in_root_open(rootfd, "/dev", O_RDONLY | O_DIRECTORY);
	if (dev < 0)
		return berr_sys(err, errno, "open /dev in the container");
	static const char *const links[][2] = {
	    {"ptmx", "pts/ptmx"},          {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"},
	    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
	};
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (symlinkat(links[i][1], dev, links[i][0]) < 0 && errno != EEXIST)
			return berr_sys(err, errno, "symlink /dev/%s", links[i][0]);
	return 0;
}

int linux_rootfs_prepare(const struct linux_rootfs *r, struct berr *err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return berr_sys(err, errno, "make mounts private");
	cleanup_free char *rootfs = xasprintf("%s/rootfs", r->bundle);
	bool copied = r->force_copy;
	int orc = copied ? 0 : rootfs_overlay(r, rootfs, err);
	if (orc == -1)
		return -1;
	if (orc == -2) {
		if (errno != ENODEV && errno != EINVAL && errno != ENOTSUP && errno != EOPNOTSUPP && errno != EPERM)
			return berr_sys(err, errno, "mount overlay on %s", rootfs);
		copied = true;
	}
	if (copied && rootfs_copy(r, rootfs, err) < 0)
		return -1;
	cleanup_close int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return berr_sys(err, errno, "open %s", rootfs);
	if (mount_in_root(rootfd, "proc", "/proc", true, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false, err) <
	    0)
		return -1;
	if (mount_dev(rootfd, r->console, err) < 0)
		return -1;
	unsigned long sysflags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (r->privileged ? 0 : MS_RDONLY);
	if (mount_in_root(rootfd, "sysfs", "/sys", true, "sysfs", sysflags, NULL, false, err) < 0) {
		/* sysfs refuses a new instance in the host's network namespace when /sys is
		 * locked down; bind the host's instead. */
		berr_clear(err);
		if (mount_in_root(rootfd, "/sys", "/sys", true, NULL, MS_BIND | MS_REC, NULL, !r->privileged, err) < 0)
			return -1;
	}
	static const char *const etc[] = {"hosts", "hostname", "resolv.conf"};
	for (size_t i = 0; i < sizeof etc / sizeof etc[0]; i++) {
		cleanup_free char *src = xasprintf("%s/%s", r->bundle, etc[i]);
		cleanup_free char *dst = xasprintf("/etc/%s", etc[i]);
		if (mount_in_root(rootfd, src, dst, false, NULL, MS_BIND, NULL, false, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < r->nvolumes; i++) {
		const struct linux_volume *v = &r->volumes[i];
		struct stat st;
		if (stat(v->src, &st) < 0)
			return berr_sys(err, errno, "volume %s", v->src);
		if (mount_in_root(rootfd, v->src, v->dst, S_ISDIR(st.st_mode), NULL, MS_BIND | MS_REC, NULL, v->ro,
		                  err) < 0)
			return -1;
	}
	return 0;
}

int linux_pivot_root(const char *bundle, struct berr *err)
{
	cleanup_free char *rootfs = xasprintf("%s/rootfs", bundle);
	if (chdir(rootfs) < 0)
		return berr_sys(err, errno, "chdir %s", rootfs);
	/* pivot_root(".", "."): the old root ends up on top of the new one and is detached. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return berr_sys(err, errno, "pivot_root %s", rootfs);
	if (umount2(".", MNT_DETACH) < 0)
		return berr_sys(err, errno, "detach the old root");
	if (chdir("/") < 0)
		return berr_sys(err, errno, "chdir /");
	return 0;
}

int linux_finish(bool privileged, bool read_only, struct berr *err)
{
	if (!privileged) {
		static const char *const masked[] = {
		    "/proc/asound",
		    "/proc/acpi",
		    "/proc/kcore",
		    "/proc/keys",
		    "/proc/latency_stats",
		    "/proc/timer_list",
		    "/proc/timer_stats",
		    "/proc/sched_debug",
		    "/proc/scsi",
		    "/sys/firmware",
		    "/sys/devices/virtual/powercap",
		};
		for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++) {
			struct stat st;
			if (stat(masked[i], &st) < 0)
				continue;
			int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", masked[i], "tmpfs", MS_RDONLY, "size=0")
			                             : mount("/dev/null", masked[i], NULL, MS_BIND, NULL);
			if (rc < 0)
				return berr_sys(err, errno, "mask %s", masked[i]);
		}
		static const char *const ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
		                                 "/proc/sysrq-trigger"};
		for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
			if (access(ro[i], F_OK) < 0)
				continue;
			if (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) < 0 ||
			    mount(NULL, ro[i], NULL,
			          MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
				return berr_sys(err, errno, "make %s read-only", ro[i]);
		}
	}
	if (read_only && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return berr_sys(err, errno, "make the root filesystem read-only");
	return 0;
}

int linux_mkdir_p(const char *path, struct berr *err)
{
	cleanup_free char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return berr_sys(err, errno, "mkdir %s", p);
			*s = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int linux_loopback_up(struct berr *err)
{
	cleanup_close int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return berr_sys(err, errno, "socket");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return berr_sys(err, errno, "get flags of lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return berr_sys(err, errno, "bring lo up");
	return 0;
}
