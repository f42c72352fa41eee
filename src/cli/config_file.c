/* The configuration file: see config_file.h and vos(1). Every error names
 * the file and line, because the file is read long after it was written. */
#include "cli/config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/run_args.h"
#include "common/inject_spec.h"

/* Largest file accepted: a configuration, not a data set. */
#define CONF_MAX_BYTES (1 << 20)

/* A numeric key exported as a variable its consumer reads (same ranges). */
struct num_key {
	const char *key;
	const char *var;
	unsigned long min, max;
	bool zero_ok; /* 0 allowed below min (the watchdog's "off") */
};

static const struct num_key num_keys[] = {
	{"spin-ns", "VOS_SPIN_NS", 0, UINT32_MAX, false},
	{"sleep-check-ms", "VOS_SLEEP_CHECK_MS", 1, UINT32_MAX, false},
	{"max-workers", "VOS_MAX_WORKERS", 1, 4096, false},
	{"max-domain-workers", "VOS_MAX_DOMAIN_WORKERS", 1, 4096, false},
	{"restart-max", "VOS_RESTART_MAX", 0, 64, false},
	{"restart-window-ms", "VOS_RESTART_WINDOW_MS", 1, 3600000, false},
	{"watchdog-ms", "VOS_DOMAIN_DEADLINE_MS", 100, 3600000, true},
	{"channel-slots", "VOS_CHAN_SLOTS", 1, 256, false},
	{"channel-data-mb", "VOS_CHAN_DATA_MB", 1, 256, false},
};
_Static_assert(sizeof(num_keys) / sizeof(num_keys[0]) <= VOS_CONF_MAX_ENV, "env slots");

struct parser {
	const char *name;
	unsigned line;
	char *err;
	size_t errsz;
	struct vos_conf *c;
	char *dir;		     /* of the file, for relative volume sources */
	struct vos_conf_volume *vol; /* the [volume] being read, or NULL */
};

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errsz, "vos: %s:%u: ", p->name, p->line);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < p->errsz)
		vsnprintf(p->err + n, p->errsz - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

void vos_conf_init(struct vos_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->net = c->stats = c->isolate = -1;
}

void vos_conf_free(struct vos_conf *c)
{
	free(c->file);
	for (unsigned i = 0; i < c->nvols; i++) {
		free(c->vols[i].source);
		free(c->vols[i].path);
	}
	free(c->stats_json);
	free(c->inject[0]);
	free(c->inject[1]);
	for (unsigned i = 0; i < c->nenv; i++)
		free(c->env[i].value);
	vos_conf_init(c);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int parse_bool(struct parser *p, const char *key, const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return perr(p, "'%s' must be yes or no, not '%s'", key, v);
}

static int set_str(struct parser *p, char **slot, const char *v)
{
	free(*slot);
	if (!(*slot = strdup(v)))
		return perr(p, "out of memory");
	return 0;
}

static int volume_key(struct parser *p, const char *key, const char *v)
{
	struct vos_conf_volume *vol = p->vol;
	if (strcmp(key, "source") == 0) {
		if (!*v)
			return perr(p, "'source' needs a directory or disk image");
		if (v[0] == '/' || !p->dir)
			return set_str(p, &vol->source, v);
		free(vol->source);
		if (asprintf(&vol->source, "%s/%s", p->dir, v) < 0) {
			vol->source = NULL;
			return perr(p, "out of memory");
		}
		return 0;
	}
	if (strcmp(key, "path") == 0) {
		if (v[0] != '/')
			return perr(p, "volume 'path' must be an absolute path, e.g. /data");
		return set_str(p, &vol->path, v);
	}
	if (strcmp(key, "read-only") == 0)
		return parse_bool(p, key, v, &vol->ro);
	return perr(p, "unknown key '%s' in [volume]; use source, path, read-only", key);
}

static int set_env(struct parser *p, const char *var, const char *v)
{
	for (unsigned i = 0; i < p->c->nenv; i++)
		if (strcmp(p->c->env[i].var, var) == 0)
			return set_str(p, &p->c->env[i].value, v);
	p->c->env[p->c->nenv].var = var;
	p->c->env[p->c->nenv].value = NULL;
	if (set_str(p, &p->c->env[p->c->nenv].value, v) < 0)
		return -1;
	p->c->nenv++;
	return 0;
}

static int num_key(struct parser *p, const struct num_key *k, const char *v)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	bool ok = errno == 0 && *v >= '0' && *v <= '9' && *end == '\0' &&
		  ((n >= k->min && n <= k->max) || (k->zero_ok && n == 0));
	if (!ok)
		return perr(p, "'%s' must be a number in %lu..%lu%s, not '%s'", k->key, k->min,
			    k->max, k->zero_ok ? " (or 0: off)" : "", v);
	return set_env(p, k->var, v);
}

static int main_key(struct parser *p, const char *key, const char *v)
{
	struct vos_conf *c = p->c;
	for (unsigned i = 0; i < sizeof(num_keys) / sizeof(num_keys[0]); i++)
		if (strcmp(key, num_keys[i].key) == 0)
			return num_key(p, &num_keys[i], v);
	if (strcmp(key, "net") == 0) {
		if (strcmp(v, "host") == 0)
			c->net = VOS_CONF_NET_HOST;
		else if (strcmp(v, "private") == 0)
			c->net = VOS_CONF_NET_PRIVATE;
		else if (strcmp(v, "none") == 0)
			c->net = VOS_CONF_NET_NONE;
		else
			return perr(p, "'net' must be host, private or none, not '%s'", v);
		return 0;
	}
	if (strcmp(key, "stats") == 0 || strcmp(key, "isolate") == 0) {
		bool b;
		if (parse_bool(p, key, v, &b) < 0)
			return -1;
		*(key[0] == 's' ? &c->stats : &c->isolate) = b;
		return 0;
	}
	if (strcmp(key, "stats-json") == 0) {
		if (!*v)
			return perr(p, "'stats-json' needs a file name");
		return set_str(p, &c->stats_json, v);
	}
	if (strcmp(key, "inject") == 0) {
		struct vos_inject in;
		char why[512];
		if (vos_inject_parse(v, &in, why, sizeof(why)) != 0)
			return perr(p, "%s", why);
		c->line_of_inject[in.domain] = p->line;
		return set_str(p, &c->inject[in.domain], v);
	}
	return perr(p, "unknown key '%s' (see vos(1), CONFIGURATION FILE)", key);
}

static int end_volume(struct parser *p)
{
	if (!p->vol)
		return 0;
	unsigned here = p->line;
	p->line = p->vol->line;
	int rc = 0;
	if (!p->vol->source)
		rc = perr(p, "[volume] has no 'source'");
	else if (!p->vol->path)
		rc = perr(p, "[volume] has no 'path'");
	p->line = here;
	p->vol = NULL;
	return rc;
}

static int parse_line(struct parser *p, char *raw)
{
	char *s = trim(raw);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		if (strcmp(s, "[volume]") != 0)
			return perr(p, "unknown section '%s'; the only section is [volume]", s);
		if (end_volume(p) < 0)
			return -1;
		if (p->c->nvols >= VOS_MAX_VOLUMES)
			return perr(p, "too many volumes (at most %d)", VOS_MAX_VOLUMES);
		p->vol = &p->c->vols[p->c->nvols++];
		memset(p->vol, 0, sizeof(*p->vol));
		p->vol->line = p->line;
		return 0;
	}
	char *eq = strchr(s, '=');
	if (!eq)
		return perr(p, "expected 'key = value' or '[volume]', got '%s'", s);
	*eq = '\0';
	char *key = trim(s), *v = trim(eq + 1);
	if (!*key)
		return perr(p, "a line starts with '='; expected 'key = value'");
	return p->vol ? volume_key(p, key, v) : main_key(p, key, v);
}

int vos_conf_parse(const char *name, const char *text, struct vos_conf *c, char *err, size_t errsz)
{
	struct parser p = {.name = name, .err = err, .errsz = errsz, .c = c};
	const char *slash = strrchr(name, '/');
	if (slash && !(p.dir = strndup(name, slash == name ? 1 : (size_t)(slash - name)))) {
		snprintf(err, errsz, "vos: out of memory");
		return -1;
	}
	char *copy = strdup(text);
	int rc = copy ? 0 : perr(&p, "out of memory");
	for (char *line = copy, *next; rc == 0 && line; line = next) {
		p.line++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strlen(line) > PATH_MAX + 64)
			rc = perr(&p, "line too long");
		else
			rc = parse_line(&p, line);
	}
	if (rc == 0)
		rc = end_volume(&p);
	free(copy);
	free(p.dir);
	return rc;
}

static int read_file(const char *path, char **out, char *err, size_t errsz)
{
	/* O_NONBLOCK: a FIFO (or a device) named here must not hang us */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errsz, "vos: cannot read configuration file '%s': %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errsz,
			 "vos: configuration file '%s' cannot be read: not a regular file", path);
		close(fd);
		return -1;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		snprintf(err, errsz, "vos: cannot read configuration file '%s': %s", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	char *buf = malloc(CONF_MAX_BYTES + 1);
	size_t n = buf ? fread(buf, 1, CONF_MAX_BYTES + 1, f) : 0;
	int bad = ferror(f);
	fclose(f);
	if (!buf || bad || n > CONF_MAX_BYTES || memchr(buf, '\0', n)) {
		snprintf(err, errsz, "vos: configuration file '%s' %s", path,
			 !buf		      ? "cannot be read: out of memory"
			 : bad		      ? "cannot be read (is it a directory?)"
			 : n > CONF_MAX_BYTES ? "is larger than 1 MiB"
					      : "is not a text file");
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int vos_conf_load(const char *explicit_file, struct vos_conf *c, char *err, size_t errsz)
{
	char *found = NULL;
	const char *env = getenv("VOS_CONFIG");
	if (explicit_file)
		found = strdup(explicit_file);
	else if (env && *env)
		found = strdup(env);
	else {
		const char *xdg = getenv("XDG_CONFIG_HOME");
		const char *home = getenv("HOME");
		char *user = NULL;
		if (xdg && xdg[0] == '/') {
			if (asprintf(&user, "%s/vos/vos.conf", xdg) < 0)
				user = NULL;
		} else if (home && home[0] == '/') {
			if (asprintf(&user, "%s/.config/vos/vos.conf", home) < 0)
				user = NULL;
		}
		if (user && exists(user))
			found = user;
		else {
			free(user);
			if (!exists("/etc/vos/vos.conf"))
				return 0;
			found = strdup("/etc/vos/vos.conf");
		}
	}
	if (!found) {
		snprintf(err, errsz, "vos: out of memory");
		return -1;
	}
	char *text;
	if (read_file(found, &text, err, errsz) < 0) {
		free(found);
		return -1;
	}
	int rc = vos_conf_parse(found, text, c, err, errsz);
	free(text);
	if (rc < 0) {
		free(found);
		return -1;
	}
	c->file = found;
	return 0;
}

int vos_conf_apply_env(const struct vos_conf *c, char *err, size_t errsz)
{
	for (unsigned i = 0; i < c->nenv; i++) {
		if (setenv(c->env[i].var, c->env[i].value, 0) != 0) {
			snprintf(err, errsz, "vos: cannot set %s: %s", c->env[i].var,
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Normalised mount point for comparing with -v's (which run_args made). */
static bool same_mount(const char *a, const char *b)
{
	for (;;) {
		while (*a == '/' && (a[1] == '/' || a[1] == '\0'))
			a++;
		while (*b == '/' && (b[1] == '/' || b[1] == '\0'))
			b++;
		if (*a != *b)
			return false;
		if (!*a)
			return true;
		a++;
		b++;
	}
}

static int conf_err(const struct vos_conf *c, unsigned line, const char *msg, char *err,
		    size_t errsz)
{
	const char *m = strncmp(msg, "vos run: ", 9) == 0 ? msg + 9 : msg;
	char copy[1024];
	snprintf(copy, sizeof(copy), "%s", m);
	snprintf(err, errsz, "vos: %s:%u: %s", c->file ? c->file : "(config)", line, copy);
	return -1;
}

int vos_conf_merge_run(const struct vos_conf *c, struct run_args *ra, char *err, size_t errsz)
{
	unsigned given = ra->nvols;
	for (unsigned i = 0; i < c->nvols; i++) {
		const struct vos_conf_volume *v = &c->vols[i];
		bool overridden = false;
		for (unsigned j = 0; j < given; j++)
			overridden |= same_mount(ra->vols[j].path, v->path);
		if (overridden)
			continue;
		char *spec;
		if (asprintf(&spec, "%s:%s%s", v->source, v->path, v->ro ? ":ro" : "") < 0)
			return conf_err(c, v->line, "out of memory", err, errsz);
		char why[1024];
		int rc = run_args_add_volume(ra, spec, why, sizeof(why));
		free(spec);
		if (rc)
			return conf_err(c, v->line, why, err, errsz);
	}
	if (!ra->net_set && c->net >= 0) {
		ra->no_net = c->net == VOS_CONF_NET_NONE;
		ra->net = c->net == VOS_CONF_NET_PRIVATE ? RUN_NET_PRIVATE : RUN_NET_HOST;
	}
	if (c->stats == 1)
		ra->stats = true;
	if (!ra->stats_json && c->stats_json)
		ra->stats_json = c->stats_json;
	if (c->isolate == 0)
		ra->no_isolate = true;
	for (unsigned d = 0; d < 2; d++) {
		if (ra->inject[d].armed || !c->inject[d])
			continue;
		char why[512];
		if (vos_inject_parse(c->inject[d], &ra->inject[d], why, sizeof(why)) != 0)
			return conf_err(c, c->line_of_inject[d], why, err, errsz);
	}
	char why[1024];
	if (run_args_check_domains(ra, why, sizeof(why)) != 0) {
		snprintf(err, errsz, "%s (with configuration file %s)", why,
			 c->file ? c->file : "(none)");
		return -1;
	}
	return 0;
}
