/* A small JSON reader for what the supervisor answers (admin replies): the
 * text becomes a tree of values; lookups on a missing key or a value of
 * another type give NULL or the caller's default, so a reply with fewer
 * keys than expected still reads. */
#ifndef VOS_CLI_JSON_READ_H
#define VOS_CLI_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json {
	enum json_type type;
	bool b;
	double num;
	char *str;	     /* JSON_STR (decoded, NUL-terminated) */
	char **keys;	     /* JSON_OBJ: n keys */
	struct json **items; /* JSON_ARR / JSON_OBJ: n values */
	size_t n;
};

/* Parses text. Returns the tree (free with json_free), or NULL with a
 * short description of the first problem in err. Nesting deeper than 64
 * levels is refused. */
struct json *json_parse(const char *text, char *err, size_t errsz);
void json_free(struct json *j);

/* obj[key], or NULL if obj is not an object or has no such key. */
const struct json *json_get(const struct json *obj, const char *key);
/* The number at obj[key], or dflt. */
double json_get_num(const struct json *obj, const char *key, double dflt);
/* The string at obj[key], or dflt. */
const char *json_get_str(const struct json *obj, const char *key, const char *dflt);

#endif
