/* libFuzzer target: the client's layer extractor (client/unpack.c) on an in-memory layer
 * (a memfd), unpacked into a fresh scratch directory that is removed after each run. The
 * DiffID given is the input's own digest, so uncompressed tars pass the final check. No
 * run may create anything outside its directory: the parent must hold only it. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/unpack.h"
#include "tests/fuzz/fuzz.h"

static char parent[] = "/tmp/berth-fuzz-unpack.XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!mkdtemp(parent))
		abort();
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* Remove the scratch tree (as root: modes left by the layer do not get in the way). */
static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Entries in the parent directory besides "layer". */
static int strays(void)
{
	DIR *d = opendir(parent);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "layer"))
			n++;
	if (d)
		closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("layer", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	char dir[sizeof parent + 8];
	snprintf(dir, sizeof dir, "%s/layer", parent);
	if (mkdir(dir, 0755) < 0)
		abort();
	struct digest diffid;
	digest_buffer(DIGEST_SHA256, data, size, &diffid);
	struct berr err;
	uint64_t unpacked = 0;
	if (unpack_layer(fd, &diffid, dir, &unpacked, &err) < 0)
		FUZZ_CHECK(err.code != BERR_NONE && err.message[0]);
	close(fd);
	FUZZ_CHECK(strays() == 0);
	rm_tree(dir);
	return 0;
}
