/* Reading and validating a static program's headers (the checks are in
 * elf_check.c; this file does the I/O and says what went wrong). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/launcher.h"

/* A dynamic section bigger than this is not worth reading for DT_SONAME. */
#define DYN_MAX (256 * 1024)

static int read_at(const struct program_image *img, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(img->fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			launch_error(img->name, "cannot read it: %s", strerror(errno));
			return -1;
		}
		if (r == 0) {
			launch_error(img->name, "truncated file (shorter than its headers say)");
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

static int refuse(const struct program_image *img, enum elf_verdict v)
{
	launch_error(img->name, "%s", elf_verdict_text(v));
	return -1;
}

int program_read(struct program_image *img)
{
	struct stat st;
	if (fstat(img->fd, &st) != 0) {
		launch_error(img->name, "cannot inspect it: %s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		launch_error(img->name, "not a regular file");
		return -1;
	}
	img->file_size = (uint64_t)st.st_size;
	unsigned char head[sizeof(Elf64_Ehdr)];
	size_t n = img->file_size < sizeof(head) ? (size_t)img->file_size : sizeof(head);
	if (read_at(img, head, n, 0) != 0)
		return -1;
	uint64_t phoff;
	size_t phbytes;
	enum elf_verdict v = elf_check_header(head, n, img->file_size, &phoff, &phbytes);
	if (v != ELF_STATIC)
		return refuse(img, v);
	memcpy(&img->eh, head, sizeof(img->eh));
	img->ph = malloc(phbytes);
	if (!img->ph) {
		launch_error(img->name, "out of memory");
		return -1;
	}
	if (read_at(img, img->ph, phbytes, phoff) != 0)
		return -1;
	v = elf_check_phdrs(&img->eh, img->ph, img->file_size, &img->lay);
	if (v != ELF_STATIC)
		return refuse(img, v);
	if (img->lay.pie && img->lay.dyn_size) {
		size_t dn = img->lay.dyn_size < DYN_MAX ? (size_t)img->lay.dyn_size : DYN_MAX;
		void *dyn = malloc(dn);
		if (!dyn) {
			launch_error(img->name, "out of memory");
			return -1;
		}
		int rc = read_at(img, dyn, dn, img->lay.dyn_off);
		bool lib = rc == 0 && elf_has_soname(dyn, dn);
		free(dyn);
		if (rc != 0)
			return -1;
		if (lib)
			return refuse(img, ELF_LIBRARY);
	}
	return 0;
}
