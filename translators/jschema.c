/*
 * jschema - the JSON Schema subset of the canonical model. See jschema.h.
 *
 * Loading checks every schema object once (keywords known, patterns
 * compile, $refs resolve), so validation can trust the schema and only
 * has to judge the document.
 */
#include "config.h"

#include <dirent.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jschema.h"

struct jschema_file {
	char *name;
	json_t *root;
};

struct jschema_pattern {
	const char *source;    /* points into the schema (stable) */
	regex_t re;
};

struct jschema_set {
	struct jschema_file *files;
	size_t nfiles;
	struct jschema_pattern *patterns;
	size_t npatterns;
};

static const char *const annotations[] = {
	"$schema", "$id", "title", "description", "format", "examples",
	"$comment", "default", "$defs", NULL
};
static const char *const keywords[] = {
	"type", "properties", "required", "additionalProperties", "items",
	"minItems", "maxItems", "enum", "const", "anyOf", "minLength",
	"maxLength", "minimum", "maximum", "pattern", "$ref", NULL
};

static int
in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return 1;
	return 0;
}

static const struct jschema_file *
find_file(const jschema_set *set, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < set->nfiles; i++)
		if (strlen(set->files[i].name) == len &&
		    !memcmp(set->files[i].name, name, len))
			return &set->files[i];
	return NULL;
}

/* Resolves "#/$defs/x" (in file) or "other.json#/$defs/x". */
static const json_t *
resolve_ref(const jschema_set *set, const struct jschema_file *file,
    const char *ref, const struct jschema_file **in)
{
	const char *hash = strchr(ref, '#');
	const struct jschema_file *f = file;
	const json_t *defs, *target;

	if (hash == NULL)
		return NULL;
	if (hash != ref && (f = find_file(set, ref, (size_t)(hash - ref))) == NULL)
		return NULL;
	*in = f;
	if (hash[1] == '\0')
		return f->root;
	if (strncmp(hash + 1, "/$defs/", 7) != 0 || strchr(hash + 8, '/'))
		return NULL;
	defs = json_object_get(f->root, "$defs");
	target = defs ? json_object_get(defs, hash + 8) : NULL;
	return json_is_object(target) || json_is_boolean(target) ? target : NULL;
}

/* ECMA-262 class escapes to POSIX brackets; refuses ECMA-only syntax. */
/*
 * glibc's regcomp copies the tree of a repeated atom once per repetition,
 * so stacked quantifiers ("a++++") and large counts ("a{1000}") grow
 * memory without bound at load time. Schemas are written by the operator,
 * but a schema edit must not be able to exhaust memory either: refuse
 * patterns longer than 256 bytes, a quantifier right after another, counts
 * above 64 and more than 8 counted repetitions.
 */
static int
translate_pattern(const char *src, char *out, size_t outsize)
{
	size_t o = 0;
	const char *rep;
	int prev_quant = 0, counted = 0, in_bracket = 0;

	if (strlen(src) > 256)
		return -1;
	for (; *src; src++) {
		rep = NULL;
		if (!in_bracket && strchr("*+?{", *src) && *src) {
			if (prev_quant)
				return -1;
			if (*src == '{') {
				char *end;
				long lo = strtol(src + 1, &end, 10), hi = lo;
				if (*end == ',')
					hi = end[1] == '}' ? 0 : strtol(end + 1,
					    &end, 10);
				if (lo > 64 || hi > 64 || ++counted > 8)
					return -1;
			}
		}
		if (in_bracket) {
			if (*src == ']')
				in_bracket = 0;
			prev_quant = 0;
		} else if (*src == '[') {
			in_bracket = 1;
			/* "[]" and "[^]" take the ] as a member. */
			if (src[1] == '^' || src[1] == ']') {
				if (o + 3 >= outsize)
					return -1;
				out[o++] = *src++;
				if (*src == '^' && src[1] == ']')
					out[o++] = *src++;
			}
			prev_quant = 0;
		} else
			prev_quant = *src == '*' || *src == '+' || *src == '?' ||
			    *src == '}';
		if (src[0] == '\\' && src[1] == '\0')
			return -1; /* a trailing backslash escapes nothing */
		if (src[0] == '\\') {
			switch (src[1]) {
			case 'd': rep = "[0-9]"; break;
			case 'w': rep = "[A-Za-z0-9_]"; break;
			case 's': rep = "[ \t\r\n\f\v]"; break;
			case 'D': case 'W': case 'S': case 'b': case 'B':
				return -1;
			default:
				if (src[1] >= '1' && src[1] <= '9')
					return -1; /* backreference */
				break;
			}
		}
		if (src[0] == '(' && src[1] == '?')
			return -1; /* lookaround, non-capturing groups */
		if (rep) {
			size_t n = strlen(rep);
			if (o + n >= outsize)
				return -1;
			memcpy(out + o, rep, n);
			o += n;
			src++;
			continue;
		}
		if (o + 2 >= outsize)
			return -1;
		out[o++] = *src;
		if (src[0] == '\\')
			out[o++] = *++src;
	}
	out[o] = '\0';
	return 0;
}

static int
add_pattern(jschema_set *set, const char *source, char *err, size_t errsize,
    const char *file)
{
	char buf[1024];
	struct jschema_pattern *np;

	if (translate_pattern(source, buf, sizeof(buf)) != 0) {
		snprintf(err, errsize, "%s: pattern \"%s\" uses syntax outside "
		    "POSIX extended regular expressions", file, source);
		return -1;
	}
	np = realloc(set->patterns, (set->npatterns + 1) * sizeof(*np));
	if (np == NULL) {
		snprintf(err, errsize, "%s: out of memory", file);
		return -1;
	}
	set->patterns = np;
	if (regcomp(&np[set->npatterns].re, buf, REG_EXTENDED | REG_NOSUB) != 0) {
		snprintf(err, errsize, "%s: pattern \"%s\" does not compile",
		    file, source);
		return -1;
	}
	np[set->npatterns++].source = source;
	return 0;
}

static const regex_t *
find_pattern(const jschema_set *set, const char *source)
{
	size_t i;

	for (i = 0; i < set->npatterns; i++)
		if (set->patterns[i].source == source)
			return &set->patterns[i].re;
	return NULL;
}

static int check_schema(jschema_set *set, const struct jschema_file *f,
    const json_t *s, int depth, char *err, size_t errsize);

static int
check_schema(jschema_set *set, const struct jschema_file *f, const json_t *s,
    int depth, char *err, size_t errsize)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_boolean(s))
		return 0;
	if (!json_is_object(s)) {
		snprintf(err, errsize, "%s: a schema must be an object or a "
		    "boolean", f->name);
		return -1;
	}
	if (depth > 4 * JSCHEMA_MAX_DEPTH) {
		snprintf(err, errsize, "%s: schema nested too deeply", f->name);
		return -1;
	}
	json_object_foreach((json_t *)s, key, v) {
		if (in_list(annotations, key)) {
			if (!strcmp(key, "$defs")) {
				const char *k2;
				json_t *d;
				if (!json_is_object(v)) {
					snprintf(err, errsize, "%s: $defs must "
					    "be an object", f->name);
					return -1;
				}
				json_object_foreach(v, k2, d)
					if (check_schema(set, f, d, depth + 1,
					    err, errsize))
						return -1;
			}
			continue;
		}
		if (!in_list(keywords, key)) {
			snprintf(err, errsize, "%s: keyword \"%s\" is not "
			    "supported by edigate's validator (see "
			    "translators/jschema.h)", f->name, key);
			return -1;
		}
		if (!strcmp(key, "properties")) {
			const char *k2;
			json_t *d;
			if (!json_is_object(v))
				goto bad;
			json_object_foreach(v, k2, d)
				if (check_schema(set, f, d, depth + 1, err,
				    errsize))
					return -1;
		} else if (!strcmp(key, "additionalProperties") ||
		    !strcmp(key, "items")) {
			if (check_schema(set, f, v, depth + 1, err, errsize))
				return -1;
		} else if (!strcmp(key, "anyOf")) {
			if (!json_is_array(v) || json_array_size(v) == 0)
				goto bad;
			for (i = 0; i < json_array_size(v); i++)
				if (check_schema(set, f, json_array_get(v, i),
				    depth + 1, err, errsize))
					return -1;
		} else if (!strcmp(key, "required")) {
			if (!json_is_array(v))
				goto bad;
			for (i = 0; i < json_array_size(v); i++)
				if (!json_is_string(json_array_get(v, i)))
					goto bad;
		} else if (!strcmp(key, "enum")) {
			if (!json_is_array(v))
				goto bad;
		} else if (!strcmp(key, "type")) {
			if (!json_is_string(v) && !json_is_array(v))
				goto bad;
		} else if (!strcmp(key, "pattern")) {
			if (!json_is_string(v))
				goto bad;
			if (add_pattern(set, json_string_value(v), err, errsize,
			    f->name))
				return -1;
		} else if (!strcmp(key, "$ref")) {
			const struct jschema_file *in;
			if (!json_is_string(v) ||
			    resolve_ref(set, f, json_string_value(v), &in) == NULL) {
				snprintf(err, errsize, "%s: $ref \"%s\" does not "
				    "resolve", f->name, json_is_string(v) ?
				    json_string_value(v) : "?");
				return -1;
			}
		} else if (!strcmp(key, "minLength") || !strcmp(key, "maxLength")
		    || !strcmp(key, "minItems") || !strcmp(key, "maxItems")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				goto bad;
		} else if (!strcmp(key, "minimum") || !strcmp(key, "maximum")) {
			if (!json_is_number(v))
				goto bad;
		}
		continue;
bad:
		snprintf(err, errsize, "%s: keyword \"%s\" has a value of the "
		    "wrong kind", f->name, key);
		return -1;
	}
	return 0;
}

static int
add_file(jschema_set *set, const char *name, json_t *root)
{
	struct jschema_file *nf;

	nf = realloc(set->files, (set->nfiles + 1) * sizeof(*nf));
	if (nf == NULL)
		return -1;
	set->files = nf;
	nf[set->nfiles].name = strdup(name);
	if (nf[set->nfiles].name == NULL)
		return -1;
	nf[set->nfiles++].root = root;
	return 0;
}

static jschema_set *
finish_load(jschema_set *set, char *err, size_t errsize)
{
	size_t i;

	for (i = 0; i < set->nfiles; i++)
		if (check_schema(set, &set->files[i], set->files[i].root, 0, err,
		    errsize)) {
			jschema_set_free(set);
			return NULL;
		}
	return set;
}

jschema_set *
jschema_set_from_text(const char *name, const char *text, size_t len,
    char *err, size_t errsize)
{
	jschema_set *set = calloc(1, sizeof(*set));
	json_error_t je;
	json_t *root;

	if (set == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, errsize, "%s:%d: %s", name, je.line, je.text);
		free(set);
		return NULL;
	}
	if (add_file(set, name, root)) {
		json_decref(root);
		jschema_set_free(set);
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	return finish_load(set, err, errsize);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

jschema_set *
jschema_set_load(const char *dir, char *err, size_t errsize)
{
	jschema_set *set = calloc(1, sizeof(*set));
	DIR *d;
	struct dirent *de;
	char **names = NULL, path[4096];
	size_t n = 0, i;
	json_error_t je;
	json_t *root;

	if (set == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errsize, "%s: cannot open the folder", dir);
		free(set);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char **nn;
		if (l < 13 || strcmp(de->d_name + l - 12, ".schema.json"))
			continue;
		nn = realloc(names, (n + 1) * sizeof(*nn));
		if (nn == NULL || (nn[n] = strdup(de->d_name)) == NULL) {
			names = nn ? nn : names;
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	/* File order decides nothing, but errors should be reproducible. */
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
		if (root == NULL) {
			snprintf(err, errsize, "%s:%d: %s", path, je.line,
			    je.text);
			break;
		}
		if (add_file(set, names[i], root)) {
			json_decref(root);
			snprintf(err, errsize, "out of memory");
			break;
		}
	}
	for (size_t j = 0; j < n; j++)
		free(names[j]);
	free(names);
	if (i < n) {
		jschema_set_free(set);
		return NULL;
	}
	if (n == 0) {
		snprintf(err, errsize, "%s: no *.schema.json files", dir);
		jschema_set_free(set);
		return NULL;
	}
	return finish_load(set, err, errsize);
}

void
jschema_set_free(jschema_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->nfiles; i++) {
		free(set->files[i].name);
		json_decref(set->files[i].root);
	}
	for (i = 0; i < set->npatterns; i++)
		regfree(&set->patterns[i].re);
	free(set->files);
	free(set->patterns);
	free(set);
}

int
jschema_has(const jschema_set *set, const char *name)
{
	return find_file(set, name, strlen(name)) != NULL;
}

/* ---- validation -------------------------------------------------------- */

struct vctx {
	const jschema_set *set;
	struct jschema_error *err;
	char path[256];
	size_t pathlen;
	int quiet;             /* inside anyOf: do not report */
};

static int
fail(struct vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct vctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->quiet)
		return -1;
	snprintf(c->err->path, sizeof(c->err->path), "%s", c->path);
	va_start(ap, fmt);
	vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static const char *
kind_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

static int
type_matches(const char *t, const json_t *v)
{
	if (!strcmp(t, "number"))
		return json_is_number(v);
	if (!strcmp(t, "integer"))
		return json_is_integer(v) || (json_is_real(v) &&
		    json_real_value(v) == (double)(long long)json_real_value(v));
	return !strcmp(t, kind_of(v));
}

static size_t
utf8_length(const char *s, size_t n)
{
	size_t i, cp = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			cp++;
	return cp;
}

static size_t
push_key(struct vctx *c, const char *key)
{
	size_t old = c->pathlen;
	int n = snprintf(c->path + old, sizeof(c->path) - old, ".%s", key);

	if (n > 0)
		c->pathlen = old + (size_t)n < sizeof(c->path) ?
		    old + (size_t)n : sizeof(c->path) - 1;
	return old;
}

static size_t
push_index(struct vctx *c, size_t i)
{
	size_t old = c->pathlen;
	int n = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);

	if (n > 0)
		c->pathlen = old + (size_t)n < sizeof(c->path) ?
		    old + (size_t)n : sizeof(c->path) - 1;
	return old;
}

static void
pop(struct vctx *c, size_t old)
{
	c->pathlen = old;
	c->path[old] = '\0';
}

static int validate(struct vctx *c, const struct jschema_file *f,
    const json_t *s, const json_t *v, int depth);

static int
validate_object(struct vctx *c, const struct jschema_file *f,
    const json_t *s, const json_t *v, int depth)
{
	const json_t *props = json_object_get(s, "properties");
	const json_t *addl = json_object_get(s, "additionalProperties");
	const json_t *req = json_object_get(s, "required");
	const char *key;
	json_t *val;
	size_t i, old;

	for (i = 0; req && i < json_array_size(req); i++) {
		const char *name = json_string_value(json_array_get(req, i));
		if (json_object_get(v, name) == NULL) {
			old = push_key(c, name);
			fail(c, "required, missing");
			pop(c, old);
			return -1;
		}
	}
	json_object_foreach((json_t *)v, key, val) {
		const json_t *sub = props ? json_object_get(props, key) : NULL;
		int rc = 0;
		old = push_key(c, key);
		if (sub)
			rc = validate(c, f, sub, val, depth + 1);
		else if (json_is_false(addl))
			rc = fail(c, "not allowed here (no such property)");
		else if (json_is_object(addl))
			rc = validate(c, f, addl, val, depth + 1);
		pop(c, old);
		if (rc)
			return -1;
	}
	return 0;
}

static int
validate(struct vctx *c, const struct jschema_file *f, const json_t *s,
    const json_t *v, int depth)
{
	const json_t *k;
	size_t i;

	if (depth > JSCHEMA_MAX_DEPTH)
		return fail(c, "nested deeper than %d levels", JSCHEMA_MAX_DEPTH);
	if (json_is_true(s))
		return 0;
	if (json_is_false(s))
		return fail(c, "no value is allowed here");
	if ((k = json_object_get(s, "$ref")) != NULL) {
		const struct jschema_file *in = f;
		const json_t *target = resolve_ref(c->set, f,
		    json_string_value(k), &in);
		if (target == NULL)
			return fail(c, "schema reference %s does not resolve",
			    json_string_value(k));
		if (validate(c, in, target, v, depth + 1))
			return -1;
	}
	if ((k = json_object_get(s, "type")) != NULL) {
		int ok = 0;
		char want[128] = "";
		if (json_is_string(k)) {
			ok = type_matches(json_string_value(k), v);
			snprintf(want, sizeof(want), "%s", json_string_value(k));
		} else
			for (i = 0; i < json_array_size(k); i++) {
				const char *t = json_string_value(
				    json_array_get(k, i));
				if (t == NULL)
					continue;
				ok |= type_matches(t, v);
				snprintf(want + strlen(want),
				    sizeof(want) - strlen(want), "%s%s",
				    i ? " or " : "", t);
			}
		if (!ok)
			return fail(c, "expected %s, found %s", want, kind_of(v));
	}
	if ((k = json_object_get(s, "const")) != NULL && !json_equal(
	    (json_t *)k, (json_t *)v)) {
		if (json_is_string(k))
			return fail(c, "expected \"%s\"", json_string_value(k));
		return fail(c, "not the one allowed value");
	}
	if ((k = json_object_get(s, "enum")) != NULL) {
		int ok = 0;
		char list[160] = "";
		for (i = 0; i < json_array_size(k) && !ok; i++) {
			ok = json_equal(json_array_get(k, i), (json_t *)v);
			if (json_is_string(json_array_get(k, i)))
				snprintf(list + strlen(list),
				    sizeof(list) - strlen(list), "%s\"%s\"",
				    i ? ", " : "",
				    json_string_value(json_array_get(k, i)));
		}
		if (!ok)
			return fail(c, "expected one of %s", list);
	}
	if ((k = json_object_get(s, "anyOf")) != NULL) {
		int ok = 0, quiet = c->quiet;
		c->quiet = 1;
		for (i = 0; i < json_array_size(k) && !ok; i++)
			ok = validate(c, f, json_array_get(k, i), v,
			    depth + 1) == 0;
		c->quiet = quiet;
		if (!ok)
			return fail(c, "matches none of the allowed forms");
	}
	if (json_is_string(v)) {
		size_t len = utf8_length(json_string_value(v),
		    json_string_length(v));
		if ((k = json_object_get(s, "minLength")) != NULL &&
		    len < (size_t)json_integer_value(k))
			return fail(c, "shorter than %lld characters",
			    (long long)json_integer_value(k));
		if ((k = json_object_get(s, "maxLength")) != NULL &&
		    len > (size_t)json_integer_value(k))
			return fail(c, "longer than %lld characters",
			    (long long)json_integer_value(k));
		if ((k = json_object_get(s, "pattern")) != NULL) {
			const regex_t *re = find_pattern(c->set,
			    json_string_value(k));
			/* A NUL inside the value cannot be matched by regexec:
			 * refuse rather than judge a prefix. */
			if (re == NULL || strlen(json_string_value(v)) !=
			    json_string_length(v) ||
			    regexec(re, json_string_value(v), 0, NULL, 0) != 0)
				return fail(c, "does not match the pattern %s",
				    json_string_value(k));
		}
	}
	if (json_is_number(v)) {
		double x = json_number_value(v);
		if ((k = json_object_get(s, "minimum")) != NULL &&
		    x < json_number_value(k))
			return fail(c, "less than the minimum %g",
			    json_number_value(k));
		if ((k = json_object_get(s, "maximum")) != NULL &&
		    x > json_number_value(k))
			return fail(c, "more than the maximum %g",
			    json_number_value(k));
	}
	if (json_is_array(v)) {
		if ((k = json_object_get(s, "minItems")) != NULL &&
		    json_array_size(v) < (size_t)json_integer_value(k))
			return fail(c, "fewer than %lld elements",
			    (long long)json_integer_value(k));
		if ((k = json_object_get(s, "maxItems")) != NULL &&
		    json_array_size(v) > (size_t)json_integer_value(k))
			return fail(c, "more than %lld elements",
			    (long long)json_integer_value(k));
		if ((k = json_object_get(s, "items")) != NULL)
			for (i = 0; i < json_array_size(v); i++) {
				size_t old = push_index(c, i);
				int rc = validate(c, f, k, json_array_get(v, i),
				    depth + 1);
				pop(c, old);
				if (rc)
					return -1;
			}
	}
	if (json_is_object(v))
		return validate_object(c, f, s, v, depth);
	return 0;
}

int
jschema_validate(const jschema_set *set, const char *name, const json_t *doc,
    struct jschema_error *err)
{
	const struct jschema_file *f = find_file(set, name, strlen(name));
	struct vctx c;

	memset(err, 0, sizeof(*err));
	memset(&c, 0, sizeof(c));
	c.set = set;
	c.err = err;
	c.path[0] = '$';
	c.pathlen = 1;
	if (f == NULL)
		return fail(&c, "no schema %s", name);
	return validate(&c, f, f->root, doc, 0);
}
