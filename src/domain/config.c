/* Command line of the storage domain (see config.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/config.h"
#include "vos/control.h"

/* "SRC:PATH[:ro|:rw]". Split at the first ':' like `docker -v`: host paths
 * with a colon are not supported. */
static int parse_volume(char *spec, struct vos_dom_volume *v, char *err, size_t errlen)
{
	char *colon = strchr(spec, ':');
	if (colon == NULL || colon == spec || colon[1] == '\0') {
		snprintf(err, errlen, "bad --volume '%s': expected SRC:PATH[:ro]", spec);
		return -1;
	}
	*colon = '\0';
	char *path = colon + 1;
	v->ro = false;
	char *mode = strrchr(path, ':');
	if (mode != NULL) {
		if (strcmp(mode, ":ro") == 0) {
			v->ro = true;
		} else if (strcmp(mode, ":rw") != 0) {
			snprintf(err, errlen, "bad --volume mode '%s' for %s: use ro or rw",
				 mode + 1, spec);
			return -1;
		}
		*mode = '\0';
	}
	if (path[0] != '/') {
		snprintf(err, errlen, "bad --volume '%s:%s': PATH must be absolute", spec, path);
		return -1;
	}
	v->src = spec;
	v->path = path;
	v->rootfd = -1;
	v->srcfd = -1;
	return 0;
}

/* "I:FD": volume I is served from inherited fd FD, not opened by path. */
static int parse_volume_fd(const char *s, struct vos_domain_config *cfg, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long i = strtoul(s, &end, 10);
	if (errno == 0 && end != s && *end == ':' && s[0] != '-' && i < cfg->nvols &&
	    cfg->vols[i].srcfd < 0) {
		const char *f = end + 1;
		long fd = strtol(f, &end, 10);
		if (errno == 0 && end != f && *end == '\0' && fd > VOS_DOMAIN_CTL_FD &&
		    fd < 1048576) {
			cfg->vols[i].srcfd = (int)fd;
			return 0;
		}
	}
	snprintf(err, errlen, "bad --volume-fd '%s': expected I:FD after volume I", s);
	return -1;
}

static int parse_workers(const char *s, unsigned *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || n < 1 ||
	    n > VOS_DOMAIN_MAX_WORKERS) {
		snprintf(err, errlen, "bad --workers '%s': expected 1..%u", s,
			 VOS_DOMAIN_MAX_WORKERS);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

/* A pool bound, 1..VOS_DOMAIN_LIMIT_WORKERS, from an option or variable. */
static int parse_bound(const char *what, const char *s, unsigned *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || n < 1 ||
	    n > VOS_DOMAIN_LIMIT_WORKERS) {
		snprintf(err, errlen, "bad %s '%s': expected 1..%u", what, s,
			 VOS_DOMAIN_LIMIT_WORKERS);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int bounds_from_env(struct vos_domain_config *cfg, char *err, size_t errlen)
{
	const char *v = getenv("VOS_MAX_WORKERS");
	if (v && *v && parse_bound("VOS_MAX_WORKERS", v, &cfg->max_workers, err, errlen) != 0)
		return -1;
	v = getenv("VOS_MAX_DOMAIN_WORKERS");
	if (v && *v &&
	    parse_bound("VOS_MAX_DOMAIN_WORKERS", v, &cfg->max_domain_workers, err, errlen) != 0)
		return -1;
	return 0;
}

/* Value of option `name` at argv[*i], as "--name V" or "--name=V"; NULL if
 * argv[*i] is another option. Advances *i past a separate value. */
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t n = strlen(name);
	const char *a = *i < argc ? argv[*i] : NULL;
	if (!a || strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

int vos_domain_parse_args(int argc, char **argv, struct vos_domain_config *cfg, char *err,
			  size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 1;
	cfg->max_workers = VOS_DOMAIN_DEF_MAX_WORKERS;
	cfg->max_domain_workers = VOS_DOMAIN_DEF_MAX_DOMAIN_WORKERS;
	if (argc >= 2 && strcmp(argv[1], "storage") == 0) {
		cfg->role = VOS_ROLE_STORAGE;
	} else if (argc >= 2 && strcmp(argv[1], "net") == 0) {
		cfg->role = VOS_ROLE_NET;
	} else {
		snprintf(
			err, errlen,
			"usage: vos-domain storage --volume SRC:PATH[:ro]... [--volume-fd I:FD]... "
			"[POOL] | "
			"vos-domain net [POOL]; POOL: [--workers N] [--max-workers N] "
			"[--max-domain-workers N]");
		return -1;
	}
	if (bounds_from_env(cfg, err, errlen) != 0)
		return -1;
	for (int i = 2; i < argc; i++) {
		bool missing = false;
		const char *v;
		if ((v = option_value(argc, argv, &i, "--volume", &missing)) != NULL) {
			if (cfg->role == VOS_ROLE_NET) {
				snprintf(err, errlen, "the network domain takes no --volume");
				return -1;
			}
			if (cfg->nvols >= VOS_MAX_VOLUMES) {
				snprintf(err, errlen, "too many --volume options (at most %d)",
					 VOS_MAX_VOLUMES);
				return -1;
			}
			/* argv strings are ours to modify; the volume keeps
			 * pointers into them. */
			if (parse_volume((char *)v, &cfg->vols[cfg->nvols], err, errlen) != 0)
				return -1;
			cfg->nvols++;
		} else if ((v = option_value(argc, argv, &i, "--volume-fd", &missing)) != NULL) {
			if (parse_volume_fd(v, cfg, err, errlen) != 0)
				return -1;
		} else if ((v = option_value(argc, argv, &i, "--workers", &missing)) != NULL) {
			if (parse_workers(v, &cfg->workers, err, errlen) != 0)
				return -1;
		} else if ((v = option_value(argc, argv, &i, "--max-workers", &missing)) != NULL) {
			if (parse_bound("--max-workers", v, &cfg->max_workers, err, errlen) != 0)
				return -1;
		} else if ((v = option_value(argc, argv, &i, "--max-domain-workers", &missing)) !=
			   NULL) {
			if (parse_bound("--max-domain-workers", v, &cfg->max_domain_workers, err,
					errlen) != 0)
				return -1;
		} else if ((v = option_value(argc, argv, &i, "--inject", &missing)) != NULL) {
			if (cfg->inject.armed) {
				snprintf(err, errlen, "--inject given twice");
				return -1;
			}
			if (vos_inject_parse(v, &cfg->inject, err, errlen) != 0)
				return -1;
			if (cfg->inject.domain != (unsigned)cfg->role) {
				snprintf(err, errlen, "--inject '%s' names the other domain", v);
				return -1;
			}
		} else if (missing) {
			snprintf(err, errlen, "option %s needs a value", argv[i]);
			return -1;
		} else {
			snprintf(err, errlen, "unknown argument '%s'", argv[i]);
			return -1;
		}
	}
	/* one client never has more than the whole domain, beyond its
	 * guaranteed share */
	unsigned cap = cfg->max_domain_workers > VOS_DOMAIN_GUARANTEED_WORKERS
			       ? cfg->max_domain_workers
			       : VOS_DOMAIN_GUARANTEED_WORKERS;
	if (cfg->max_workers > cap)
		cfg->max_workers = cap;
	if (cfg->workers > cfg->max_workers) {
		snprintf(err, errlen, "--workers %u exceeds the pool bound %u", cfg->workers,
			 cfg->max_workers);
		return -1;
	}
	return 0;
}
