/* Unit tests for client/unpack.c: tarballs built with libarchive are unpacked into a scratch
 * directory; whiteouts, DiffID checks and every escape attempt are checked. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "client/store.h"
#include "client/unpack.h"
#include "common/xalloc.h"
#include "tests/unit/tap.h"

struct ent {
	const char *name;
	mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR; hardlink when link set and type 0 */
	const char *data_or_link;
};

static char scratch[] = "/tmp/berth-unpack.XXXXXX";

/* Write a tar of ents to a file; returns its fd (at offset 0) and the DiffID. */
static int make_tar(const struct ent *ents, size_t n, struct digest *diffid)
{
	static char buf[1 << 20];
	size_t used = 0;
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_open_memory(a, buf, sizeof buf, &used);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, ents[i].name);
		if (ents[i].type == 0) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, ents[i].data_or_link);
		} else {
			archive_entry_set_filetype(e, ents[i].type);
		}
		archive_entry_set_perm(e, ents[i].type == AE_IFDIR ? 0755 : 0644);
		if (ents[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, ents[i].data_or_link);
		if (ents[i].type == AE_IFCHR)
			archive_entry_set_rdev(e, makedev(1, 3));
		size_t len = ents[i].type == AE_IFREG && ents[i].data_or_link ? strlen(ents[i].data_or_link) : 0;
		archive_entry_set_size(e, (la_int64_t)len);
		archive_write_header(a, e);
		if (len)
			archive_write_data(a, ents[i].data_or_link, len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	digest_buffer(DIGEST_SHA256, buf, used, diffid);
	cleanup_free char *path = xasprintf("%s/layer.tar", scratch);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (write(fd, buf, used) != (ssize_t)used)
		abort();
	lseek(fd, 0, SEEK_SET);
	unlink(path);
	return fd;
}

/* Unpack ents into a fresh scratch/out; returns unpack_layer's result, err filled. */
static int run(const struct ent *ents, size_t n, bool wrong_diffid, struct berr *err)
{
	cleanup_free char *out = xasprintf("%s/out", scratch);
	store_remove_tree(AT_FDCWD, out, NULL);
	mkdir(out, 0755);
	struct digest d;
	int fd = make_tar(ents, n, &d);
	if (wrong_diffid)
		digest_buffer(DIGEST_SHA256, "x", 1, &d);
	int rc = unpack_layer(fd, &d, out, NULL, err);
	close(fd);
	return rc;
}

static bool exists(const char *rel)
{
	cleanup_free char *p = xasprintf("%s/%s", scratch, rel);
	struct stat st;
	return lstat(p, &st) == 0;
}

int main(void)
{
	if (!mkdtemp(scratch))
		return 1;
	struct berr err = {0};
	cleanup_free char *outside = xasprintf("%s/outside", scratch);
	mkdir(outside, 0755);

	const struct ent good[] = {
	    {"./", AE_IFDIR, NULL},     {"d/", AE_IFDIR, NULL},       {"d/.wh..wh..opq", AE_IFREG, NULL},
	    {"d/f", AE_IFREG, "hello"}, {".wh.gone", AE_IFREG, NULL}, {"d/link", AE_IFLNK, "/etc/passwd"},
	    {"d/hard", 0, "d/f"},       {"a/b/c", AE_IFREG, "deep"},  {"d/.wh..wh.plnk", AE_IFREG, NULL},
	};
	tap_is_int(run(good, sizeof good / sizeof good[0], false, &err), 0, "good layer unpacks: %s", err.message);
	struct stat st;
	cleanup_free char *gone = xasprintf("%s/out/gone", scratch);
	tap_ok(lstat(gone, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0), "whiteout is char 0/0");
	cleanup_free char *d = xasprintf("%s/out/d", scratch);
	char x[4] = "";
	tap_ok(getxattr(d, "trusted.overlay.opaque", x, sizeof x) == 1 && x[0] == 'y', "opaque xattr set");
	tap_ok(!exists("out/d/.wh..wh..opq") && !exists("out/.wh.gone"), "no .wh. files left");
	cleanup_free char *hard = xasprintf("%s/out/d/hard", scratch);
	tap_ok(lstat(hard, &st) == 0 && st.st_nlink == 2, "hard link inside the layer");
	tap_ok(exists("out/a/b/c"), "missing parents created");
	tap_ok(exists("out/d/link"), "absolute symlink kept as data");

	tap_ok(run(good, sizeof good / sizeof good[0], true, &err) < 0 && err.code == BERR_DIGEST_INVALID,
	       "wrong DiffID refused: %s", err.message);

	static const struct {
		const char *what;
		struct ent ents[3];
		size_t n;
		const char *msg;
		const char *never;
	} bad[] = {
	    {"dotdot", {{"../escape", AE_IFREG, "x"}}, 1, "'../escape': path contains '..'", "escape"},
	    {"deep dotdot", {{"a/../../escape", AE_IFREG, "x"}}, 1, "path contains '..'", "escape"},
	    {"absolute", {{"/abs", AE_IFREG, "x"}}, 1, "absolute path", NULL},
	    {"symlink escape",
	     {{"l", AE_IFLNK, "../outside"}, {"l/pwned", AE_IFREG, "x"}},
	     2,
	     "'l/pwned': its path leads outside",
	     "outside/pwned"},
	    {"hard link out", {{"h", 0, "/etc/passwd"}}, 1, "hard link to '/etc/passwd'", NULL},
	    {"hard link dotdot", {{"h", 0, "../outside/x"}}, 1, "hard link to '../outside/x'", NULL},
	    {"device", {{"mem", AE_IFCHR, NULL}}, 1, "'mem': device nodes are not allowed", NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		berr_clear(&err);
		int rc = run(bad[i].ents, bad[i].n, false, &err);
		tap_ok(rc < 0 && strstr(err.message, bad[i].msg), "%s refused: %s", bad[i].what, err.message);
		if (bad[i].never)
			tap_ok(!exists(bad[i].never), "%s: nothing written outside", bad[i].what);
	}
	store_remove_tree(AT_FDCWD, scratch, NULL);
	return tap_done();
}
