/* JSON reader: see json_read.h. Recursive descent over the whole text. */
#include "cli/json_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

struct rd {
	const char *p;
	const char *start;
	char *err;
	size_t errsz;
	bool failed;
};

static struct json *fail(struct rd *r, const char *what)
{
	if (!r->failed)
		snprintf(r->err, r->errsz, "%s at offset %zu", what, (size_t)(r->p - r->start));
	r->failed = true;
	return NULL;
}

static void skip_ws(struct rd *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

static struct json *new_value(struct rd *r, enum json_type t)
{
	struct json *j = calloc(1, sizeof(*j));
	if (!j)
		return fail(r, "out of memory");
	j->type = t;
	return j;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* UTF-8 of code point cp into w; returns bytes written. */
static size_t put_utf8(char *w, unsigned cp)
{
	if (cp < 0x80) {
		w[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		w[0] = (char)(0xc0 | cp >> 6);
		w[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		w[0] = (char)(0xe0 | cp >> 12);
		w[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		w[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	w[0] = (char)(0xf0 | cp >> 18);
	w[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	w[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	w[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote; returns a malloc'd decoded string. */
static char *read_string(struct rd *r)
{
	r->p++;
	const char *s = r->p;
	while (*r->p && *r->p != '"') {
		if (*r->p == '\\' && r->p[1])
			r->p++;
		r->p++;
	}
	if (*r->p != '"') {
		fail(r, "unterminated string");
		return NULL;
	}
	size_t raw = (size_t)(r->p - s);
	char *out = malloc(raw + 1); /* decoding never grows the text */
	if (!out) {
		fail(r, "out of memory");
		return NULL;
	}
	char *w = out;
	for (const char *q = s; q < r->p; q++) {
		if (*q != '\\') {
			*w++ = *q;
			continue;
		}
		q++;
		switch (*q) {
		case 'n':
			*w++ = '\n';
			break;
		case 't':
			*w++ = '\t';
			break;
		case 'r':
			*w++ = '\r';
			break;
		case 'b':
			*w++ = '\b';
			break;
		case 'f':
			*w++ = '\f';
			break;
		case 'u': {
			unsigned cp;
			if (r->p - q < 5 || hex4(q + 1, &cp) < 0) {
				free(out);
				fail(r, "bad \\u escape");
				return NULL;
			}
			q += 4;
			/* a lone surrogate half becomes U+FFFD */
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;
			w += put_utf8(w, cp ? cp : 0xfffd);
			break;
		}
		default:
			*w++ = *q;
			break; /* \" \\ \/ */
		}
	}
	*w = '\0';
	r->p++;
	return out;
}

static struct json *read_value(struct rd *r, int depth);

static int push(struct rd *r, struct json *j, char *key, struct json *v)
{
	size_t n = j->n + 1;
	struct json **items = realloc(j->items, n * sizeof(*items));
	if (!items)
		return -1;
	j->items = items;
	if (j->type == JSON_OBJ) {
		char **keys = realloc(j->keys, n * sizeof(*keys));
		if (!keys)
			return -1;
		j->keys = keys;
		keys[j->n] = key;
	}
	items[j->n] = v;
	j->n = n;
	(void)r;
	return 0;
}

static struct json *read_container(struct rd *r, int depth, bool obj)
{
	struct json *j = new_value(r, obj ? JSON_OBJ : JSON_ARR);
	if (!j)
		return NULL;
	char close = obj ? '}' : ']';
	r->p++;
	skip_ws(r);
	if (*r->p == close) {
		r->p++;
		return j;
	}
	for (;;) {
		char *key = NULL;
		skip_ws(r);
		if (obj) {
			if (*r->p != '"')
				goto bad;
			if (!(key = read_string(r)))
				goto bad;
			skip_ws(r);
			if (*r->p != ':') {
				free(key);
				fail(r, "expected ':'");
				goto bad;
			}
			r->p++;
		}
		struct json *v = read_value(r, depth + 1);
		if (!v || push(r, j, key, v) < 0) {
			free(key);
			json_free(v);
			goto bad;
		}
		skip_ws(r);
		if (*r->p == ',') {
			r->p++;
			continue;
		}
		if (*r->p == close) {
			r->p++;
			return j;
		}
		fail(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		goto bad;
	}
bad:
	fail(r, "bad object or array");
	json_free(j);
	return NULL;
}

static struct json *read_value(struct rd *r, int depth)
{
	if (depth > MAX_DEPTH)
		return fail(r, "nested too deeply");
	skip_ws(r);
	char c = *r->p;
	if (c == '{' || c == '[')
		return read_container(r, depth, c == '{');
	if (c == '"') {
		char *s = read_string(r);
		if (!s)
			return NULL;
		struct json *j = new_value(r, JSON_STR);
		if (!j)
			free(s);
		else
			j->str = s;
		return j;
	}
	static const struct {
		const char *word;
		enum json_type t;
		bool b;
	} words[] = {{"true", JSON_BOOL, true}, {"false", JSON_BOOL, false}, {"null", JSON_NULL}};
	for (unsigned i = 0; i < 3; i++) {
		size_t l = strlen(words[i].word);
		if (strncmp(r->p, words[i].word, l) == 0) {
			r->p += l;
			struct json *j = new_value(r, words[i].t);
			if (j)
				j->b = words[i].b;
			return j;
		}
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		char *end;
		double v = strtod(r->p, &end);
		if (end == r->p)
			return fail(r, "bad number");
		r->p = end;
		struct json *j = new_value(r, JSON_NUM);
		if (j)
			j->num = v;
		return j;
	}
	return fail(r, "unexpected character");
}

struct json *json_parse(const char *text, char *err, size_t errsz)
{
	struct rd r = {.p = text, .start = text, .err = err, .errsz = errsz};
	struct json *j = read_value(&r, 0);
	if (!j)
		return NULL;
	skip_ws(&r);
	if (*r.p) {
		json_free(j);
		return fail(&r, "trailing text");
	}
	return j;
}

void json_free(struct json *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		json_free(j->items[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->str);
	free(j);
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->items[i];
	return NULL;
}

double json_get_num(const struct json *obj, const char *key, double dflt)
{
	const struct json *v = json_get(obj, key);
	return v && v->type == JSON_NUM ? v->num : dflt;
}

const char *json_get_str(const struct json *obj, const char *key, const char *dflt)
{
	const struct json *v = json_get(obj, key);
	return v && v->type == JSON_STR ? v->str : dflt;
}
