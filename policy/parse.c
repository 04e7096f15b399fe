/* SPDX-License-Identifier: MIT */
/*
 * parse.c - the rules file parser: a hand-written line parser (syntax in docs/POLICY.md).
 *
 *	# comment
 *	set reject_score 10
 *	rule ID FIELD PATTERN ACTION [ARGS]      e.g.
 *	rule bad-helo helo /^(localhost|\[?127\.)/i reject 550 5.7.1 "Bad HELO"
 *
 * pol_parse() fills a rule set's rules, header names and settings; strings are copied into
 * the set's arena. Literal patterns are turned into Hyperscan expressions here (each byte
 * that is not a letter or digit written as \xHH), regexes are passed through unchanged and
 * checked by the compiler later. pol_hdr_find() looks a header name up (case-insensitive).
 *
 * Errors: -EINVAL with err->msg "FILE:LINE: what is wrong" for the first problem found,
 * -ENOMEM. A failed parse leaves r half-filled: the caller frees it.
 *
 * Limits: POL_RULES_MAX rules; lines of any length; ids of 64 characters; reply texts of 400.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/policy-int.h"

#define POL_RULES_MAX (1u << 20)
#define POL_ID_MAX    64
#define POL_TEXT_MAX  400
#define POL_TAG_MAX   900
#define POL_TOK_MAX   16
#define POL_SCORE_MAX 1000000

enum { T_WORD, T_STRING, T_REGEX };

struct tok {
	uint8_t type;
	const char *src; /* as written */
	size_t srclen;
	char *val; /* WORD: the word; STRING: decoded; REGEX: between the slashes */
	size_t len;
	char flags[8]; /* letters after a closing '"' or '/' */
};

struct pctx {
	struct pol_rules *r;
	struct pol_error *err;
	const char *name;
	uint32_t line;
	char *work; /* decoded token values of the current line */
	struct tok t[POL_TOK_MAX];
	unsigned nt;
	uint32_t set_line[8]; /* line of each "set" key seen, for duplicates */
};

void pol_err(struct pol_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* An error about the current line: "FILE:LINE: ...". Returns -EINVAL. */
static int perr(struct pctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct pctx *x, const char *fmt, ...)
{
	char m[POL_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	pol_err(x->err, "%s:%u: %s", x->name, x->line, m);
	return -EINVAL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode a "..." string starting at s[0] == '"'. Returns chars consumed, or -EINVAL. */
static long tok_string(struct pctx *x, const char *s, size_t n, struct tok *t, char **out)
{
	size_t i = 1;
	char *o = *out;

	t->val = o;
	while (i < n && s[i] != '"') {
		unsigned char c = (unsigned char)s[i];

		if (c != '\\') {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (i + 1 >= n)
			break;
		switch (s[i + 1]) {
		case '\\':
			*o++ = '\\';
			i += 2;
			break;
		case '"':
			*o++ = '"';
			i += 2;
			break;
		case 'n':
			*o++ = '\n';
			i += 2;
			break;
		case 'r':
			*o++ = '\r';
			i += 2;
			break;
		case 't':
			*o++ = '\t';
			i += 2;
			break;
		case 'x':
			if (i + 3 >= n || hexval(s[i + 2]) < 0 || hexval(s[i + 3]) < 0)
				return perr(x, "bad escape in string: \\x needs two hex digits");
			*o++ = (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
			i += 4;
			break;
		default:
			return perr(
			    x, "unknown escape \\%c in string (use \\\\ \\\" \\n \\r \\t \\xHH)",
			    s[i + 1]);
		}
	}
	if (i >= n)
		return perr(x, "unterminated string (missing closing '\"')");
	t->len = (size_t)(o - t->val);
	*o++ = '\0';
	*out = o;
	return (long)i + 1;
}

/* A /regex/ starting at s[0] == '/'. Returns chars consumed, or -EINVAL. */
static long tok_regex(struct pctx *x, const char *s, size_t n, struct tok *t, char **out)
{
	size_t i = 1;

	while (i < n && s[i] != '/')
		i += (s[i] == '\\' && i + 1 < n) ? 2 : 1;
	if (i >= n)
		return perr(x, "unterminated regex (missing closing '/')");
	t->val = *out;
	t->len = i - 1;
	memcpy(t->val, s + 1, t->len);
	t->val[t->len] = '\0';
	*out += t->len + 1;
	return (long)i + 1;
}

/* Split one line (no line end) into tokens. 0 or -EINVAL. */
static int tokenize(struct pctx *x, const char *s, size_t n)
{
	char *out = x->work;
	size_t i = 0;

	x->nt = 0;
	for (;;) {
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i >= n || s[i] == '#')
			return 0;
		if (x->nt == POL_TOK_MAX)
			return perr(x, "too many words on the line");
		struct tok *t = &x->t[x->nt++];
		long k;

		memset(t, 0, sizeof(*t));
		t->src = s + i;
		if (s[i] == '"' || s[i] == '/') {
			t->type = s[i] == '"' ? T_STRING : T_REGEX;
			k = t->type == T_STRING ? tok_string(x, s + i, n - i, t, &out)
			                        : tok_regex(x, s + i, n - i, t, &out);
			if (k < 0)
				return (int)k;
			i += (size_t)k;
			for (unsigned f = 0; i < n && isalpha((unsigned char)s[i]); f++, i++) {
				if (f + 1 >= sizeof(t->flags))
					return perr(x, "too many pattern flags");
				t->flags[f] = s[i];
			}
		} else {
			t->type = T_WORD;
			t->val = out;
			while (i < n && s[i] != ' ' && s[i] != '\t')
				*out++ = s[i++];
			t->len = (size_t)(out - t->val);
			*out++ = '\0';
		}
		t->srclen = (size_t)(s + i - t->src);
		if (i < n && s[i] != ' ' && s[i] != '\t')
			return perr(x, "expected a space after %.*s", (int)t->srclen, t->src);
	}
}

/* [-+]digits[.ddd] in thousandths. */
static int parse_score(struct pctx *x, const struct tok *t, int32_t *out)
{
	const char *s = t->val;
	long long ip = 0;
	int fv = 0, fd = 0, neg = 0, digits = 0;

	if (t->type != T_WORD)
		return perr(x, "expected a number, got %.*s", (int)t->srclen, t->src);
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; isdigit((unsigned char)*s) && ip <= POL_SCORE_MAX; s++, digits++)
		ip = ip * 10 + (*s - '0');
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s) && fd < 3; s++, fd++)
			fv = fv * 10 + (*s - '0');
	if (!digits || *s || ip > POL_SCORE_MAX || (s[-1] == '.'))
		return perr(x, "bad number '%s' (up to 3 decimals, at most %d)", t->val,
		            POL_SCORE_MAX);
	for (; fd < 3; fd++)
		fv *= 10;
	*out = (int32_t)(neg ? -(ip * 1000 + fv) : ip * 1000 + fv);
	return 0;
}

static int printable(const char *s, size_t n, int tab_ok)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && !(tab_ok && c == '\t')) || c > 0x7e)
			return 0;
	}
	return 1;
}

static int is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static int header_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > POL_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_ftext((unsigned char)s[i]))
			return 0;
	return 1;
}

/* "Name: value", printable, no line breaks. */
static int check_header_line(struct pctx *x, const struct tok *t, const char *what)
{
	const char *colon = t->type == T_STRING ? memchr(t->val, ':', t->len) : NULL;

	if (!colon || !header_name_ok(t->val, (size_t)(colon - t->val)) ||
	    !printable(t->val, t->len, 1) || t->len > POL_TAG_MAX)
		return perr(x,
		            "%s must be a quoted \"Name: value\" header line (printable, at most "
		            "%u characters), got %.*s",
		            what, POL_TAG_MAX, (int)t->srclen, t->src);
	return 0;
}

/* [CODE [ENH]] ["text"] from token k on; class is '4' or '5'. Returns tokens used. */
static int parse_reply(struct pctx *x, unsigned k, char cls, uint16_t *code, const char **enh,
                       const char **text)
{
	unsigned k0 = k;
	struct tok *t = &x->t[k];

	if (k < x->nt && t->type == T_WORD && isdigit((unsigned char)t->val[0])) {
		if (t->len != 3 || t->val[0] != cls || !isdigit((unsigned char)t->val[1]) ||
		    !isdigit((unsigned char)t->val[2]))
			return perr(x, "reply code '%s' must be %cxx", t->val, cls);
		*code = (uint16_t)atoi(t->val);
		t = &x->t[++k];
	}
	if (k < x->nt && t->type == T_WORD && isdigit((unsigned char)t->val[0])) {
		unsigned a, b, c;
		int used = 0;

		if (sscanf(t->val, "%1u.%3u.%3u%n", &a, &b, &c, &used) != 3 ||
		    (size_t)used != t->len || t->val[0] != cls)
			return perr(x, "enhanced status code '%s' must be %c.x.y", t->val, cls);
		if (!(*enh = pol_arena_strndup(&x->r->arena, t->val, t->len)))
			return -ENOMEM;
		t = &x->t[++k];
	}
	if (k < x->nt && t->type == T_STRING) {
		if (!t->len || t->len > POL_TEXT_MAX || !printable(t->val, t->len, 0))
			return perr(x, "reply text must be printable ASCII, 1 to %u characters",
			            POL_TEXT_MAX);
		if (!(*text = pol_arena_strndup(&x->r->arena, t->val, t->len)))
			return -ENOMEM;
		k++;
	}
	return (int)(k - k0);
}

/* ---- Header names: a small open-addressing table ---- */

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint32_t)tolower((unsigned char)s[i])) * 16777619u;
	return h;
}

int pol_hdr_find(const struct pol_rules *r, const char *name, size_t len)
{
	if (!r->hslot)
		return -1;
	for (uint32_t i = name_hash(name, len) & r->hmask;; i = (i + 1) & r->hmask) {
		uint32_t s = r->hslot[i];

		if (!s)
			return -1;
		if (r->hdr[s - 1].len == len && !strncasecmp(r->hdr[s - 1].name, name, len))
			return (int)(s - 1);
	}
}

static int hdr_rehash(struct pol_rules *r, uint32_t size)
{
	uint32_t *slot = calloc(size, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	free(r->hslot);
	r->hslot = slot;
	r->hmask = size - 1;
	for (uint32_t h = 0; h < r->nhdr; h++) {
		uint32_t i = name_hash(r->hdr[h].name, r->hdr[h].len) & r->hmask;

		while (slot[i])
			i = (i + 1) & r->hmask;
		slot[i] = h + 1;
	}
	return 0;
}

/* Index of the header name, added if new. */
static int hdr_add(struct pol_rules *r, const char *name, size_t len, uint32_t *out)
{
	int found = pol_hdr_find(r, name, len);

	if (found >= 0) {
		*out = (uint32_t)found;
		return 0;
	}
	if (r->nhdr == r->hdr_cap) {
		uint32_t cap = r->hdr_cap ? r->hdr_cap * 2 : 8;
		struct pol_hdr_name *h = realloc(r->hdr, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		r->hdr = h;
		r->hdr_cap = cap;
	}
	struct pol_hdr_name *h = &r->hdr[r->nhdr];

	if (!(h->name = pol_arena_strndup(&r->arena, name, len)))
		return -ENOMEM;
	h->len = (uint32_t)len;
	h->db = 0;
	*out = r->nhdr++;
	if (2 * r->nhdr > r->hmask)
		return hdr_rehash(r, r->hslot ? 2 * (r->hmask + 1) : 16);
	uint32_t i = name_hash(name, len) & r->hmask;

	while (r->hslot[i])
		i = (i + 1) & r->hmask;
	r->hslot[i] = *out + 1;
	return 0;
}

/* ---- rule lines ---- */

static int parse_field(struct pctx *x, const struct tok *t, struct pol_rule *ru)
{
	static const char *const names[] = {"client", "helo", "mail", "rcpt",
	                                    "header", NULL,   "body"};

	if (t->type == T_WORD) {
		for (unsigned f = 0; f < POL_F__COUNT; f++) {
			if (names[f] && !strcmp(t->val, names[f])) {
				ru->field = (uint8_t)f;
				return 0;
			}
		}
		const char *name = !strcmp(t->val, "subject")       ? "Subject"
		                   : !strncmp(t->val, "header:", 7) ? t->val + 7
		                                                    : NULL;

		if (name && header_name_ok(name, strlen(name))) {
			ru->field = POL_F_HDR_NAMED;
			return hdr_add(x->r, name, strlen(name), &ru->hdr);
		}
	}
	return perr(x,
	            "unknown field %.*s (expected client, helo, mail, rcpt, header, "
	            "header:NAME, subject or body)",
	            (int)t->srclen, t->src);
}

/* The Hyperscan expression and flags of a pattern token. */
static int parse_pattern(struct pctx *x, const struct tok *t, struct pol_rule *ru)
{
	ru->hsflags = HS_FLAG_SINGLEMATCH;
	if (ru->field != POL_F_BODY)
		ru->hsflags |= HS_FLAG_ALLOWEMPTY;
	if (t->type == T_WORD)
		return perr(x, "pattern must be /regex/flags or \"literal\", got %.*s",
		            (int)t->srclen, t->src);
	for (const char *f = t->flags; *f; f++) {
		if (*f == 'i')
			ru->hsflags |= HS_FLAG_CASELESS;
		else if (t->type == T_REGEX && *f == 'm')
			ru->hsflags |= HS_FLAG_MULTILINE;
		else if (t->type == T_REGEX && *f == 's')
			ru->hsflags |= HS_FLAG_DOTALL;
		else if (t->type == T_REGEX && *f == 'u')
			ru->hsflags |= HS_FLAG_UTF8 | HS_FLAG_UCP;
		else
			return perr(x, "unknown flag '%c' after %s (%s)", *f,
			            t->type == T_REGEX ? "a regex" : "a literal",
			            t->type == T_REGEX ? "use i, m, s, u" : "use i");
	}
	if (!t->len)
		return perr(x, "empty pattern");
	if (!(ru->src = pol_arena_strndup(&x->r->arena, t->src, t->srclen)))
		return -ENOMEM;
	if (t->type == T_REGEX) {
		ru->expr = pol_arena_strndup(&x->r->arena, t->val, t->len);
		return ru->expr ? 0 : -ENOMEM;
	}
	char *e = pol_arena_alloc(&x->r->arena, 4 * t->len + 1), *o = e;

	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < t->len; i++) {
		unsigned char c = (unsigned char)t->val[i];

		if (isalnum(c))
			*o++ = (char)c;
		else
			o += sprintf(o, "\\x%02x", c);
	}
	*o = '\0';
	ru->expr = e;
	return 0;
}

static int parse_action(struct pctx *x, unsigned k, struct pol_rule *ru)
{
	static const char *const names[] = {
	    [POL_RA_ACCEPT] = "accept",         [POL_RA_REJECT] = "reject",
	    [POL_RA_TEMPFAIL] = "tempfail",     [POL_RA_DISCARD] = "discard",
	    [POL_RA_QUARANTINE] = "quarantine", [POL_RA_TAG] = "tag",
	    [POL_RA_SCORE] = "score",
	};
	const struct tok *t = &x->t[k];
	unsigned a;
	int used = 0;

	for (a = POL_RA_ACCEPT; a <= POL_RA_SCORE; a++)
		if (t->type == T_WORD && !strcmp(t->val, names[a]))
			break;
	if (a > POL_RA_SCORE)
		return perr(x,
		            "unknown action %.*s (expected accept, reject, tempfail, discard, "
		            "quarantine, tag or score)",
		            (int)t->srclen, t->src);
	ru->action = (uint8_t)a;
	k++;
	if (a == POL_RA_REJECT || a == POL_RA_TEMPFAIL) {
		used = parse_reply(x, k, a == POL_RA_REJECT ? '5' : '4', &ru->code, &ru->enh,
		                   &ru->text);
	} else if (a == POL_RA_TAG && k < x->nt) {
		used = check_header_line(x, &x->t[k], "the tag");
		if (!used && !(ru->tag = pol_arena_strndup(&x->r->arena, x->t[k].val, x->t[k].len)))
			used = -ENOMEM;
		used = used ? used : 1;
	} else if (a == POL_RA_SCORE) {
		if (k >= x->nt)
			return perr(x, "score needs a number");
		used = parse_score(x, &x->t[k], &ru->score);
		used = used ? used : 1;
	}
	if (used < 0)
		return used;
	if (k + (unsigned)used < x->nt)
		return perr(x, "unexpected %.*s after the action", (int)x->t[k + used].srclen,
		            x->t[k + used].src);
	return 0;
}

static int parse_rule(struct pctx *x)
{
	struct pol_rules *r = x->r;
	struct pol_rule *ru;
	const struct tok *id = &x->t[1];
	int rc;

	if (x->nt < 5)
		return perr(x, "a rule is: rule ID FIELD PATTERN ACTION [ARGS]");
	if (id->type != T_WORD || id->len > POL_ID_MAX ||
	    strspn(id->val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") !=
	        id->len)
		return perr(x, "rule id %.*s must be 1 to %d letters, digits, '.', '_', ':' or '-'",
		            (int)id->srclen, id->src, POL_ID_MAX);
	if (r->nrules == POL_RULES_MAX)
		return perr(x, "too many rules (at most %u)", POL_RULES_MAX);
	if (r->nrules == r->rule_cap) {
		uint32_t cap = r->rule_cap ? r->rule_cap * 2 : 64;
		struct pol_rule *p = realloc(r->rule, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		r->rule = p;
		r->rule_cap = cap;
	}
	ru = &r->rule[r->nrules];
	memset(ru, 0, sizeof(*ru));
	ru->line = x->line;
	if (!(ru->id = pol_arena_strndup(&r->arena, id->val, id->len)))
		return -ENOMEM;
	if ((rc = parse_field(x, &x->t[2], ru)) || (rc = parse_pattern(x, &x->t[3], ru)) ||
	    (rc = parse_action(x, 4, ru)))
		return rc;
	r->nrules++;
	return 0;
}

/* ---- set lines ---- */

static const char *const set_keys[] = {"reject_score", "tag_score",     "reject_reply",
                                       "tag_header",   "policy_header", "score_header",
                                       "header_max"};

/* The value of setting key, from token 2 on; *used: tokens it took. */
static int set_value(struct pctx *x, unsigned key, int *used)
{
	struct pol_settings *st = &x->r->set;
	const struct tok *v = &x->t[2];
	int rc = 0;

	*used = 1;
	switch (key) {
	case 0:
	case 1:
		*(key ? &st->has_tag_score : &st->has_reject_score) = 1;
		return parse_score(x, v, key ? &st->tag_score : &st->reject_score);
	case 2:
		rc = parse_reply(x, 2, '5', &st->reject_code, &st->reject_enh, &st->reject_text);
		*used = rc;
		return rc ? (rc < 0 ? rc : 0) : perr(x, "reject_reply needs CODE [ENH] [\"text\"]");
	case 3:
		rc = check_header_line(x, v, "tag_header");
		if (!rc && !(st->tag_header = pol_arena_strndup(&x->r->arena, v->val, v->len)))
			rc = -ENOMEM;
		return rc;
	case 4:
	case 5:
		if (v->type != T_WORD || !header_name_ok(v->val, v->len))
			return perr(x, "%s must be a header name", set_keys[key]);
		if (!(*(key == 4 ? &st->policy_header : &st->score_header) =
		          pol_arena_strndup(&x->r->arena, v->val, v->len)))
			rc = -ENOMEM;
		return rc;
	default: {
		char *end;
		unsigned long n = strtoul(v->val, &end, 10);

		if (v->type != T_WORD || *end || !isdigit((unsigned char)v->val[0]) ||
		    n < POL_HEADER_MAX_MIN || n > POL_HEADER_MAX_MAX)
			return perr(x, "header_max must be %u to %u", POL_HEADER_MAX_MIN,
			            POL_HEADER_MAX_MAX);
		st->header_max = (uint32_t)n;
		return 0;
	}
	}
}

static int parse_set(struct pctx *x)
{
	const unsigned nkeys = sizeof(set_keys) / sizeof(set_keys[0]);
	unsigned key;
	int rc, used;

	if (x->nt < 3 || x->t[1].type != T_WORD)
		return perr(x, "a setting is: set KEY VALUE");
	for (key = 0; key < nkeys; key++)
		if (!strcmp(x->t[1].val, set_keys[key]))
			break;
	if (key == nkeys)
		return perr(x,
		            "unknown setting '%s' (expected reject_score, tag_score, "
		            "reject_reply, tag_header, policy_header, score_header, header_max)",
		            x->t[1].val);
	if (x->set_line[key])
		return perr(x, "'%s' is already set at line %u", set_keys[key], x->set_line[key]);
	x->set_line[key] = x->line;
	if ((rc = set_value(x, key, &used)))
		return rc;
	if (2 + (unsigned)used < x->nt)
		return perr(x, "unexpected %.*s after the value", (int)x->t[2 + used].srclen,
		            x->t[2 + used].src);
	return 0;
}

/* ---- the file ---- */

static int id_cmp(const void *a, const void *b)
{
	const struct pol_rule *x = *(const struct pol_rule *const *)a;
	const struct pol_rule *y = *(const struct pol_rule *const *)b;
	int c = strcmp(x->id, y->id);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int check_duplicates(struct pol_rules *r, const char *name, struct pol_error *err)
{
	const struct pol_rule **v = malloc((r->nrules + 1) * sizeof(*v));
	int rc = 0;

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < r->nrules; i++)
		v[i] = &r->rule[i];
	qsort(v, r->nrules, sizeof(*v), id_cmp);
	for (uint32_t i = 1; i < r->nrules && !rc; i++) {
		if (!strcmp(v[i]->id, v[i - 1]->id)) {
			pol_err(err, "%s:%u: duplicate rule id '%s' (first defined at line %u)",
			        name, v[i]->line, v[i]->id, v[i - 1]->line);
			rc = -EINVAL;
		}
	}
	free(v);
	return rc;
}

static void set_defaults(struct pol_settings *st)
{
	memset(st, 0, sizeof(*st));
	st->reject_code = 550;
	st->reject_enh = "5.7.1";
	st->reject_text = "Message rejected as spam";
	st->tag_header = "X-Sluice-Spam: yes";
	st->policy_header = "X-Sluice-Policy";
	st->score_header = "X-Sluice-Score";
	st->header_max = POL_HEADER_MAX_DEFAULT;
}

static int parse_line(struct pctx *x, const char *s, size_t n)
{
	int rc;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return perr(x, "control character 0x%02x (write it as \\xHH)", c);
	}
	if ((rc = tokenize(x, s, n)) || x->nt == 0)
		return rc;
	if (x->t[0].type == T_WORD && !strcmp(x->t[0].val, "rule"))
		return parse_rule(x);
	if (x->t[0].type == T_WORD && !strcmp(x->t[0].val, "set"))
		return parse_set(x);
	return perr(x, "expected 'rule' or 'set', got %.*s", (int)x->t[0].srclen, x->t[0].src);
}

int pol_parse(struct pol_rules *r, const char *name, const char *text, size_t len,
              struct pol_error *err)
{
	struct pctx x = {.r = r, .err = err, .name = name};
	size_t off = 0;
	int rc = 0;

	set_defaults(&r->set);
	if (!(x.work = malloc(len + 1)))
		return -ENOMEM;
	while (off < len && !rc) {
		const char *s = text + off, *nl = memchr(s, '\n', len - off);
		size_t n = nl ? (size_t)(nl - s) : len - off;

		off += n + (nl != NULL);
		x.line++;
		if (n && s[n - 1] == '\r')
			n--;
		rc = parse_line(&x, s, n);
	}
	free(x.work);
	if (rc == -ENOMEM)
		pol_err(err, "%s: out of memory", name);
	return rc ? rc : check_duplicates(r, name, err);
}
