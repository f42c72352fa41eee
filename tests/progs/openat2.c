/* openat2: openat2(2) with RESOLVE_* flags and struct sizes in DIR, printed
 * as a transcript (results, errno names, file contents) that does not
 * depend on where DIR is, so a native run and a run under `vos run` on a
 * volume compare line by line.
 *
 *   openat2 DIR    DIR must hold: top (file "top"), sub/ with f (file
 *                  "sub-f"), sub/abs -> /f, sub/rel -> f, sub/up -> ../top
 *
 * Creates DIR/sub/new* and removes them. Exit status 0 when it ran to the
 * end, 1 on a usage problem.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int dfd;

static long o2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve,
	       size_t size)
{
	char buf[64];
	memset(buf, 0, sizeof(buf));
	struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
	memcpy(buf, &how, sizeof(how));
	if (size > sizeof(how) && size <= sizeof(buf))
		buf[size - 1] = (char)(size == 40 ? 1 : 0); /* size 40: non-zero tail */
	/* larger sizes: refused (E2BIG) before anything is read */
	return syscall(SYS_openat2, dirfd, path, buf, size);
}

/* One case: the result, and the first line of the file when it opened. */
static void show(const char *label, long fd)
{
	if (fd < 0) {
		const char *n = strerrorname_np(errno);
		printf("%s: %s\n", label, n ? n : "E?");
		fflush(stdout);
		return;
	}
	char buf[64];
	ssize_t n = read((int)fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	struct stat st;
	fstat((int)fd, &st);
	printf("%s: ok %s %s\n", label, S_ISDIR(st.st_mode) ? "dir" : "file",
	       n >= 0 ? buf : "(unreadable)");
	fflush(stdout);
	close((int)fd);
}

#define CASE(label, ...) show(label, o2(__VA_ARGS__))

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: openat2 DIR\n");
		return 1;
	}
	char p[4096];
	snprintf(p, sizeof(p), "%s/sub", argv[1]);
	dfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		perror(p);
		return 1;
	}
	size_t hs = sizeof(struct open_how);
	CASE("plain", dfd, "f", O_RDONLY, 0, 0, hs);
	CASE("beneath inside", dfd, "f", O_RDONLY, 0, RESOLVE_BENEATH, hs);
	CASE("beneath dotdot", dfd, "../top", O_RDONLY, 0, RESOLVE_BENEATH, hs);
	CASE("beneath symlink up", dfd, "up", O_RDONLY, 0, RESOLVE_BENEATH, hs);
	CASE("beneath abs symlink", dfd, "abs", O_RDONLY, 0, RESOLVE_BENEATH, hs);
	CASE("beneath abs path", dfd, "/f", O_RDONLY, 0, RESOLVE_BENEATH, hs);
	CASE("in_root abs path", dfd, "/f", O_RDONLY, 0, RESOLVE_IN_ROOT, hs);
	CASE("in_root abs symlink", dfd, "abs", O_RDONLY, 0, RESOLVE_IN_ROOT, hs);
	CASE("in_root dotdot", dfd, "../../f", O_RDONLY, 0, RESOLVE_IN_ROOT, hs);
	CASE("no_symlinks", dfd, "rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS, hs);
	CASE("no_symlinks plain", dfd, "f", O_RDONLY, 0, RESOLVE_NO_SYMLINKS, hs);
	CASE("no_symlinks after dotdot", dfd, "../sub/rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS, hs);
	CASE("no_symlinks dotdot plain", dfd, "../sub/f", O_RDONLY, 0, RESOLVE_NO_SYMLINKS, hs);
	CASE("no_symlinks nofollow path", dfd, "rel", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS,
	     hs);
	CASE("no_magiclinks", dfd, "rel", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS, hs);
	CASE("no_xdev inside", dfd, "up", O_RDONLY, 0, RESOLVE_NO_XDEV, hs);
	CASE("dotdot unrestricted", dfd, "../top", O_RDONLY, 0, 0, hs);
	CASE("symlink up unrestricted", dfd, "up", O_RDONLY, 0, 0, hs);
	CASE("cached create", dfd, "newc", O_RDWR | O_CREAT, 0600, RESOLVE_CACHED, hs);
	CASE("beneath|in_root", dfd, "f", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT, hs);
	CASE("unknown resolve bit", dfd, "f", O_RDONLY, 0, 1u << 20, hs);
	CASE("mode without create", dfd, "f", O_RDONLY, 0644, 0, hs);
	CASE("unknown flag", dfd, "f", O_RDONLY | (1u << 30), 0, 0, hs);
	CASE("size 16", dfd, "f", O_RDONLY, 0, 0, 16);
	CASE("size 32 zero tail", dfd, "f", O_RDONLY, 0, 0, 32);
	CASE("size 40 non-zero tail", dfd, "f", O_RDONLY, 0, 0, 40);
	CASE("size 8192", dfd, "f", O_RDONLY, 0, 0, 8192);
	CASE("directory", dfd, ".", O_RDONLY | O_DIRECTORY, 0, RESOLVE_BENEATH, hs);
	umask(022);
	long fd = o2(dfd, "new", O_WRONLY | O_CREAT | O_EXCL, 0666, RESOLVE_BENEATH, hs);
	struct stat st;
	if (fd >= 0 && fstatat(dfd, "new", &st, 0) == 0)
		printf("create: mode %o\n", (unsigned)(st.st_mode & 07777));
	else
		printf("create: %s\n", strerrorname_np(errno));
	if (fd >= 0)
		close((int)fd);
	CASE("create again excl", dfd, "new", O_WRONLY | O_CREAT | O_EXCL, 0600, RESOLVE_BENEATH,
	     hs);
	unlinkat(dfd, "new", 0);
	unlinkat(dfd, "newc", 0);
	/* relative to the cwd, inside DIR/sub */
	if (chdir(p) != 0) {
		perror("chdir");
		return 1;
	}
	CASE("cwd beneath dotdot", AT_FDCWD, "../top", O_RDONLY, 0, RESOLVE_BENEATH, hs);
	CASE("cwd beneath inside", AT_FDCWD, "f", O_RDONLY, 0, RESOLVE_BENEATH, hs);
	CASE("cwd in_root abs", AT_FDCWD, "/f", O_RDONLY, 0, RESOLVE_IN_ROOT, hs);
	CASE("cwd in_root abs symlink", AT_FDCWD, "abs", O_RDONLY, 0, RESOLVE_IN_ROOT, hs);
	CASE("cwd no_xdev", AT_FDCWD, "up", O_RDONLY, 0, RESOLVE_NO_XDEV, hs);
	return 0;
}
