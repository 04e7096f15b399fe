/* SPDX-License-Identifier: MIT */
/*
 * json_min.h - a small strict JSON parser for tests (objects, arrays, strings with every
 * escape including surrogate pairs, integers, true/false/null). Strings decode to UTF-8.
 * Allocates; tests only. json_parse() returns NULL on any syntax error.
 */
#ifndef SLUICE_TESTS_JSON_MIN_H
#define SLUICE_TESTS_JSON_MIN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jt t;
	int b;
	long long num;
	char *s; /* J_STR: decoded octets (NUL added) */
	size_t n;
	struct jv **items; /* J_ARR, J_OBJ values */
	char **keys;       /* J_OBJ */
	size_t count;
};

struct jp {
	const char *p, *end;
};

static struct jv *j_value(struct jp *j);

static void json_free(struct jv *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->count; i++) {
		json_free(v->items[i]);
		free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->s);
	free(v);
}

static void j_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static void j_put_utf8(char *o, size_t *n, uint32_t cp)
{
	if (cp < 0x80) {
		o[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		o[(*n)++] = (char)(0xc0 | cp >> 6);
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		o[(*n)++] = (char)(0xe0 | cp >> 12);
		o[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		o[(*n)++] = (char)(0xf0 | cp >> 18);
		o[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static int j_hex4(struct jp *j, uint32_t *v)
{
	*v = 0;
	if (j->end - j->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = *j->p++;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

static char *j_string(struct jp *j, size_t *len)
{
	char *o = malloc((size_t)(j->end - j->p) + 1);
	size_t n = 0;

	if (!o || j->p >= j->end || *j->p++ != '"')
		return free(o), NULL;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p++;
		uint32_t cp, lo;

		if (c < 0x20)
			return free(o), NULL;
		if (c != '\\') {
			o[n++] = (char)c;
			continue;
		}
		if (j->p >= j->end)
			return free(o), NULL;
		c = (unsigned char)*j->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			o[n++] = (char)c;
			break;
		case 'b':
			o[n++] = '\b';
			break;
		case 'f':
			o[n++] = '\f';
			break;
		case 'n':
			o[n++] = '\n';
			break;
		case 'r':
			o[n++] = '\r';
			break;
		case 't':
			o[n++] = '\t';
			break;
		case 'u':
			if (j_hex4(j, &cp))
				return free(o), NULL;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
					return free(o), NULL;
				j->p += 2;
				if (j_hex4(j, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return free(o), NULL;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				return free(o), NULL;
			}
			j_put_utf8(o, &n, cp);
			break;
		default:
			return free(o), NULL;
		}
	}
	if (j->p >= j->end)
		return free(o), NULL;
	j->p++;
	o[n] = 0;
	*len = n;
	return o;
}

static struct jv *j_new(enum jt t)
{
	struct jv *v = calloc(1, sizeof(*v));

	if (v)
		v->t = t;
	return v;
}

static int j_push(struct jv *v, struct jv *item, char *key)
{
	v->items = realloc(v->items, (v->count + 1) * sizeof(*v->items));
	v->keys = realloc(v->keys, (v->count + 1) * sizeof(*v->keys));
	if (!v->items || !v->keys)
		return -1;
	v->items[v->count] = item;
	v->keys[v->count++] = key;
	return 0;
}

static struct jv *j_container(struct jp *j, int obj)
{
	struct jv *v = j_new(obj ? J_OBJ : J_ARR);

	j->p++;
	j_ws(j);
	if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
		j->p++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		size_t kn;
		struct jv *item;

		j_ws(j);
		if (obj) {
			if (!(key = j_string(j, &kn)))
				return json_free(v), NULL;
			j_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return json_free(v), free(key), NULL;
		}
		if (!(item = j_value(j)))
			return json_free(v), free(key), NULL;
		if (j_push(v, item, key))
			return json_free(v), json_free(item), free(key), NULL;
		j_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
			j->p++;
			return v;
		}
		return json_free(v), NULL;
	}
}

static struct jv *j_value(struct jp *j)
{
	struct jv *v;

	j_ws(j);
	if (j->p >= j->end)
		return NULL;
	if (*j->p == '{' || *j->p == '[')
		return j_container(j, *j->p == '{');
	if (*j->p == '"') {
		v = j_new(J_STR);
		return (v->s = j_string(j, &v->n)) ? v : (json_free(v), NULL);
	}
	if (j->end - j->p >= 4 && !memcmp(j->p, "true", 4))
		return j->p += 4, v = j_new(J_BOOL), v->b = 1, v;
	if (j->end - j->p >= 5 && !memcmp(j->p, "false", 5))
		return j->p += 5, j_new(J_BOOL);
	if (j->end - j->p >= 4 && !memcmp(j->p, "null", 4))
		return j->p += 4, j_new(J_NULL);
	if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
		char *e;

		v = j_new(J_NUM);
		v->num = strtoll(j->p, &e, 10);
		j->p = e;
		return v;
	}
	return NULL;
}

static struct jv *json_parse(const char *p, size_t n)
{
	struct jp j = {p, p + n};
	struct jv *v = j_value(&j);

	j_ws(&j);
	if (v && j.p != j.end) {
		json_free(v);
		v = NULL;
	}
	return v;
}

static const struct jv *json_get(const struct jv *o, const char *key)
{
	for (size_t i = 0; o && o->t == J_OBJ && i < o->count; i++)
		if (strcmp(o->keys[i], key) == 0)
			return o->items[i];
	return NULL;
}

#endif
