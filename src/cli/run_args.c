/* `vos run` option parsing and validation.
 *
 * Every error is reported as one line naming what is wrong and what to do,
 * because this is what a user sees first when a command line is mistyped. */
#include "cli/run_args.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VOL_HINT "(-v SRC:PATH[:ro])"

static int fail(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errsz, "vos run: ");

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < errsz)
		vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
	va_end(ap);
	return VOS_EXIT_USAGE;
}

/* Normalises an absolute mount point into out (strlen(in)+1 bytes): collapses repeated '/', drops
 * a trailing '/'. Rejects '.' and '..' components because the client routes
 * by plain string prefix and must see one spelling of each mount point.
 * Returns NULL or a description of the problem. */
static const char *normalise_mount(const char *in, char *out)
{
	char *w = out;

	for (const char *r = in; *r;) {
		while (*r == '/')
			r++;
		if (!*r)
			break;
		const char *end = strchrnul(r, '/');
		size_t len = (size_t)(end - r);
		if ((len == 1 && r[0] == '.') || (len == 2 && r[0] == '.' && r[1] == '.'))
			return "must not contain '.' or '..' components";
		*w++ = '/';
		memmove(w, r, len);
		w += len;
		r = end;
	}
	*w = '\0';
	return NULL;
}

/* True if mount point b lies inside (or is) mount point a. */
static bool mount_within(const char *a, const char *b)
{
	size_t la = strlen(a);
	return strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == '/');
}

static int parse_volume(struct run_args *ra, const char *spec, char *err, size_t errsz)
{
	if (ra->nvols >= VOS_MAX_VOLUMES)
		return fail(err, errsz, "too many volumes (at most %d)", VOS_MAX_VOLUMES);

	const char *colon = strchr(spec, ':');
	if (!colon)
		return fail(err, errsz, "volume '%s' must be SRC:PATH[:ro], e.g. -v ./data:/data",
			    spec);
	size_t srclen = (size_t)(colon - spec);
	if (srclen == 0)
		return fail(err, errsz, "volume '%s' has an empty source directory " VOL_HINT,
			    spec);

	/* PATH may not contain ':' so everything after the first ':' is
	 * PATH plus an optional mode suffix. */
	char *path = strdup(colon + 1);
	char *src = strndup(spec, srclen);
	int rc = 0;
	bool ro = false;
	if (!path || !src) {
		rc = fail(err, errsz, "out of memory");
		goto out;
	}
	size_t plen = strlen(path);
	if (plen >= 3 &&
	    (strcmp(path + plen - 3, ":ro") == 0 || strcmp(path + plen - 3, ":rw") == 0)) {
		ro = path[plen - 2] == 'r' && path[plen - 1] == 'o';
		path[plen - 3] = '\0';
	}

	struct stat st;
	if (stat(src, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			rc = fail(err, errsz, "volume source '%s' does not exist " VOL_HINT, src);
		else
			rc = fail(err, errsz, "cannot access volume source '%s': %s " VOL_HINT, src,
				  strerror(errno));
		goto out;
	}
	/* a regular file is a disk image: the storage domain checks what it holds */
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		rc = fail(
			err, errsz,
			"volume source '%s' is neither a directory nor a disk image file " VOL_HINT,
			src);
		goto out;
	}

	if (path[0] != '/') {
		rc = fail(err, errsz,
			  "volume mount point '%s' must be an absolute path, e.g. /data " VOL_HINT,
			  path);
		goto out;
	}
	if (strchr(path, ':')) {
		rc = fail(err, errsz,
			  "volume mount point '%s' must not contain ':' (the only option is "
			  "':ro') " VOL_HINT,
			  path);
		goto out;
	}
	if (strlen(path) >= VOS_PATH_MAX) {
		rc = fail(err, errsz, "volume mount point is longer than %d bytes",
			  VOS_PATH_MAX - 1);
		goto out;
	}
	char *norm = malloc(strlen(path) + 1);
	if (!norm) {
		rc = fail(err, errsz, "out of memory");
		goto out;
	}
	const char *why = normalise_mount(path, norm);
	if (why) {
		rc = fail(err, errsz, "volume mount point '%s' %s " VOL_HINT, path, why);
		free(norm);
		goto out;
	}
	free(path);
	path = norm;
	if (path[0] == '\0') {
		rc = fail(err, errsz,
			  "volume mount point '/' is not allowed: mount the volume on a directory "
			  "such as /data " VOL_HINT);
		goto out;
	}
	for (unsigned i = 0; i < ra->nvols; i++) {
		const char *other = ra->vols[i].path;
		if (strcmp(other, path) == 0) {
			rc = fail(err, errsz,
				  "volume mount point '%s' is given twice; use one -v per mount "
				  "point",
				  path);
			goto out;
		}
		if (mount_within(other, path) || mount_within(path, other)) {
			rc = fail(err, errsz,
				  "volume mount points '%s' and '%s' are nested, which is not "
				  "supported; use separate directories",
				  other, path);
			goto out;
		}
	}

	char *canon = realpath(src, NULL);
	if (!canon) {
		rc = fail(err, errsz, "cannot resolve volume source '%s': %s", src,
			  strerror(errno));
		goto out;
	}
	if (strchr(canon, ':')) {
		rc = fail(err, errsz,
			  "volume source '%s' contains ':', which -v cannot express; use a "
			  "directory path without ':'",
			  canon);
		free(canon);
		goto out;
	}
	ra->vols[ra->nvols].src = canon;
	ra->vols[ra->nvols].path = path;
	ra->vols[ra->nvols].ro = ro;
	ra->nvols++;
	path = NULL;
out:
	free(src);
	free(path);
	return rc;
}

/* The statistics file is written after the program ran: refuse a path that
 * is certain to fail now rather than losing the figures of a long run. */
static int check_stats_file(const char *file, char *err, size_t errsz)
{
	if (file[0] == '\0')
		return fail(err, errsz, "--stats-json needs a FILE name");
	struct stat st;
	if (stat(file, &st) == 0 && S_ISDIR(st.st_mode))
		return fail(err, errsz, "--stats-json FILE '%s' is a directory; give a file name",
			    file);
	const char *slash = strrchr(file, '/');
	if (!slash)
		return 0;
	char dir[PATH_MAX];
	size_t dlen = slash == file ? 1 : (size_t)(slash - file);
	if (dlen >= sizeof(dir))
		return fail(err, errsz, "--stats-json FILE name is too long");
	memcpy(dir, file, dlen);
	dir[dlen] = '\0';
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return fail(err, errsz,
			    "cannot write --stats-json file '%s': directory '%s' does not exist",
			    file, dir);
	return 0;
}

/* Matches option `a` against a short ("-v") and/or long ("--volume") name
 * taking a value: "-v X", "-vX", "--volume X", "--volume=X". Returns 1 with
 * *val set, 0 if `a` is another option, -1 if the value is missing. */
static int take_value(int argc, char **argv, int *i, const char *shortname, const char *longname,
		      const char **val)
{
	const char *a = argv[*i];
	const char *inl = NULL;

	if (shortname && strncmp(a, shortname, 2) == 0) {
		if (a[2] != '\0')
			inl = a + 2;
	} else if (longname) {
		size_t ll = strlen(longname);
		if (strncmp(a, longname, ll) != 0)
			return 0;
		if (a[ll] == '=')
			inl = a + ll + 1;
		else if (a[ll] != '\0')
			return 0;
	} else {
		return 0;
	}
	if (inl) {
		*val = inl;
		return 1;
	}
	if (*i + 1 >= argc || strcmp(argv[*i + 1], "--") == 0)
		return -1;
	*val = argv[++*i];
	return 1;
}

int run_args_parse(int argc, char **argv, struct run_args *ra, char *err, size_t errsz)
{
	memset(ra, 0, sizeof(*ra));
	if (errsz)
		err[0] = '\0';

	const char *net_given = NULL; /* --net's value, to refuse it with --no-net */
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		const char *val;
		int m;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		/* The first non-option word is PROGRAM: options after it are
		 * PROGRAM's own. "-" alone is a (strange) program name. */
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			ra->help = true;
			return 0;
		}
		if (strcmp(a, "--stats") == 0) {
			ra->stats = true;
			continue;
		}
		if (strcmp(a, "--no-net") == 0) {
			ra->no_net = true;
			ra->net_set = true;
			continue;
		}
		if (strcmp(a, "--restore-listeners") == 0) {
			/* libvos reads it (src/libvos/listeners.c); the program
			 * inherits vos's environment */
			setenv("VOS_RESTORE_LISTENERS", "1", 1);
			continue;
		}
		if (strcmp(a, "--no-isolate") == 0) {
			ra->no_isolate = true;
			continue;
		}
		if (strcmp(a, "--no-config") == 0) {
			ra->no_config = true;
			continue;
		}
		if (strcmp(a, "--private") == 0) {
			ra->private_sup = true;
			continue;
		}
		m = take_value(argc, argv, &i, NULL, "--supervisor", &val);
		if (m < 0)
			return fail(err, errsz,
				    "option '%s' needs an argument: --supervisor SOCKET", a);
		if (m > 0) {
			if (val[0] != '/')
				return fail(err, errsz,
					    "--supervisor needs an absolute SOCKET path");
			ra->supervisor = val;
			continue;
		}
		m = take_value(argc, argv, &i, NULL, "--config", &val);
		if (m < 0)
			return fail(err, errsz, "option '%s' needs an argument: --config FILE", a);
		if (m > 0) {
			if (val[0] == '\0')
				return fail(err, errsz, "--config needs a FILE name");
			ra->config = val;
			continue;
		}
		m = take_value(argc, argv, &i, "-v", "--volume", &val);
		if (m < 0)
			return fail(err, errsz, "option '%s' needs an argument: -v SRC:PATH[:ro]",
				    a);
		if (m > 0) {
			int rc = parse_volume(ra, val, err, errsz);
			if (rc)
				return rc;
			continue;
		}
		m = take_value(argc, argv, &i, NULL, "--stats-json", &val);
		if (m < 0)
			return fail(err, errsz, "option '%s' needs an argument: --stats-json FILE",
				    a);
		if (m > 0) {
			int rc = check_stats_file(val, err, errsz);
			if (rc)
				return rc;
			ra->stats_json = val;
			continue;
		}
		m = take_value(argc, argv, &i, NULL, "--net", &val);
		if (m < 0)
			return fail(err, errsz, "option '%s' needs an argument: --net host|private",
				    a);
		if (m > 0) {
			if (strcmp(val, "host") == 0)
				ra->net = RUN_NET_HOST;
			else if (strcmp(val, "private") == 0)
				ra->net = RUN_NET_PRIVATE;
			else
				return fail(err, errsz,
					    "unknown network mode '%s'; use --net host or --net "
					    "private",
					    val);
			net_given = val;
			ra->net_set = true;
			continue;
		}
		m = take_value(argc, argv, &i, NULL, "--inject", &val);
		if (m < 0)
			return fail(
				err, errsz,
				"option '%s' needs an argument: --inject DOMAIN:POINT[:N|:rand:P]",
				a);
		if (m > 0) {
			struct vos_inject in;
			char why[512];
			if (vos_inject_parse(val, &in, why, sizeof(why)) != 0)
				return fail(err, errsz, "%s", why);
			if (ra->inject[in.domain].armed)
				return fail(err, errsz,
					    "--inject is given twice for the %s domain; give one "
					    "per domain",
					    in.domain == 0 ? "storage" : "net");
			ra->inject[in.domain] = in;
			continue;
		}
		m = take_value(argc, argv, &i, NULL, "--placement", &val);
		if (m < 0)
			return fail(err, errsz,
				    "option '%s' needs an argument: --placement process|vm", a);
		if (m > 0) {
			if (strcmp(val, "process") == 0)
				ra->placement = RUN_PLACEMENT_PROCESS;
			else if (strcmp(val, "vm") == 0)
				return fail(err, errsz,
					    "VM placement is not available yet; use --placement "
					    "process (the default)");
			else
				return fail(err, errsz,
					    "unknown placement '%s'; use --placement process or vm",
					    val);
			continue;
		}
		return fail(err, errsz, "unknown option '%s'; see 'vos run --help'", a);
	}
	if (net_given && ra->no_net)
		return fail(err, errsz,
			    "--net %s and --no-net contradict each other: --no-net runs without a "
			    "network domain; give one of them",
			    net_given);
	/* (checked again once the configuration file joined) */
	int drc = run_args_check_domains(ra, err, errsz);
	if (drc)
		return drc;
	if (ra->config && ra->no_config)
		return fail(err, errsz,
			    "--config and --no-config contradict each other; give one of them");
	if (i >= argc)
		return fail(err, errsz,
			    "no PROGRAM given; usage: vos run [OPTIONS] -- PROGRAM [ARGS...]");
	if (argv[i][0] == '\0')
		return fail(err, errsz, "PROGRAM is an empty string; give a program name or path");
	ra->prog_argv = &argv[i];
	return 0;
}

int run_args_add_volume(struct run_args *ra, const char *spec, char *err, size_t errsz)
{
	return parse_volume(ra, spec, err, errsz);
}

int run_args_check_domains(const struct run_args *ra, char *err, size_t errsz)
{
	if (ra->inject[0].armed && ra->nvols == 0)
		return fail(err, errsz,
			    "--inject storage:... needs a storage domain: give a volume (-v)");
	if (ra->inject[1].armed && ra->no_net)
		return fail(err, errsz, "--inject net:... needs the network domain: drop --no-net");
	return 0;
}

void run_args_free(struct run_args *ra)
{
	for (unsigned i = 0; i < ra->nvols; i++) {
		free(ra->vols[i].src);
		free(ra->vols[i].path);
	}
	ra->nvols = 0;
}
