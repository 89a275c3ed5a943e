/*
 * configfile - parse and check edigate.conf. See configfile.h.
 *
 * The parser is table-driven: each key names its section, its type and
 * where its value goes, so adding a setting is one line in keys[] plus a
 * field, and the error messages stay uniform.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configfile.h"
#include "log.h"

#define CONFIG_MAX_FILE (1024 * 1024)
#define CONFIG_MAX_LINE 4096
#define CONFIG_MAX_LISTENERS 32

enum section { SEC_GENERAL, SEC_STORE, SEC_LIMITS, SEC_TLS, SEC_LISTEN,
	SEC_SFTP, SEC_AS2, SEC_MODULE };

/*
 * Sections other modules own: the parser keeps their keys as written and
 * the module checks them (with file:line from the entries). A name ending
 * in '.' is a prefix: [webhook.erp]. One line per module.
 */
static const char *const module_sections[] = {
	"api", "delivery", "route", "webhook.", "route.", "token.",
	"inbound",
	"reconcile",
	"recovery",
	NULL
};
#define CONFIG_MAX_SECTIONS 256
#define CONFIG_MAX_SECTION_ENTRIES 256

enum type {
	T_PATH, T_STRING, T_BOOL, T_UINT, T_SIZE, T_DURATION, T_LOGLEVEL,
	T_TLSVERSION, T_ADDRESS, T_PROTOCOL, T_USERNAME, T_ROUTES
};

struct key {
	enum section section;
	const char *name;
	enum type type;
	size_t offset;          /* into struct config, or struct config_listener */
	unsigned long min, max; /* T_UINT, T_SIZE, T_DURATION (ms) */
};

#define C(f) offsetof(struct config, f)
#define L(f) offsetof(struct config_listener, f)

/* [tls] keys are stored in a listener-shaped template. */
static const struct key keys[] = {
	{ SEC_GENERAL, "state_dir", T_PATH, C(state_dir), 0, 0 },
	{ SEC_GENERAL, "partners_dir", T_PATH, C(partners_dir), 0, 0 },
	{ SEC_GENERAL, "maps_dir", T_PATH, C(maps_dir), 0, 0 },
	{ SEC_GENERAL, "user", T_USERNAME, C(user), 0, 0 },
	{ SEC_GENERAL, "group", T_USERNAME, C(group), 0, 0 },
	{ SEC_GENERAL, "allow_root", T_BOOL, C(allow_root), 0, 0 },
	{ SEC_GENERAL, "workers", T_UINT, C(workers), 1, 256 },
	{ SEC_GENERAL, "queue_size", T_UINT, C(queue_size), 1, 1000000 },
	{ SEC_GENERAL, "log_level", T_LOGLEVEL, C(log_level), 0, 0 },
	{ SEC_GENERAL, "shutdown_grace", T_DURATION, C(shutdown_grace_ms),
	    0, 3600000 },
	{ SEC_GENERAL, "debug_endpoints", T_BOOL, C(debug_endpoints), 0, 0 },
	{ SEC_STORE, "url", T_STRING, C(store_url), 0, 0 },
	{ SEC_STORE, "spool_dir", T_PATH, C(spool_dir), 0, 0 },
	{ SEC_LIMITS, "max_body_size", T_SIZE, C(max_body_size),
	    1024, 0 },
	{ SEC_LIMITS, "max_header_size", T_SIZE, C(max_header_size),
	    1024, 16 * 1024 * 1024 },
	{ SEC_LIMITS, "read_timeout", T_DURATION, C(read_timeout_ms),
	    100, 86400000 },
	{ SEC_LIMITS, "write_timeout", T_DURATION, C(write_timeout_ms),
	    100, 86400000 },
	{ SEC_TLS, "certificate", T_PATH, L(certificate), 0, 0 },
	{ SEC_TLS, "key", T_PATH, L(key), 0, 0 },
	{ SEC_TLS, "ciphers", T_STRING, L(ciphers), 0, 0 },
	{ SEC_TLS, "ciphersuites", T_STRING, L(ciphersuites), 0, 0 },
	{ SEC_TLS, "min_tls_version", T_TLSVERSION, L(min_tls_version), 0, 0 },
	{ SEC_LISTEN, "address", T_ADDRESS, 0, 0, 0 },
	{ SEC_LISTEN, "protocol", T_PROTOCOL, L(https), 0, 0 },
	{ SEC_LISTEN, "certificate", T_PATH, L(certificate), 0, 0 },
	{ SEC_LISTEN, "key", T_PATH, L(key), 0, 0 },
	{ SEC_LISTEN, "ciphers", T_STRING, L(ciphers), 0, 0 },
	{ SEC_LISTEN, "ciphersuites", T_STRING, L(ciphersuites), 0, 0 },
	{ SEC_LISTEN, "min_tls_version", T_TLSVERSION, L(min_tls_version),
	    0, 0 },
	{ SEC_LISTEN, "routes", T_ROUTES, L(routes), 0, 0 },
	{ SEC_LISTEN, "stream_bodies", T_BOOL, L(stream_bodies), 0, 0 },
	{ SEC_LIMITS, "body_in_memory", T_SIZE, C(body_in_memory), 0, 0 },
	{ SEC_SFTP, "root", T_PATH, C(sftp_root), 0, 0 },
	{ SEC_SFTP, "scan_interval", T_DURATION, C(sftp_scan_interval_ms),
	    100, 86400000 },
	{ SEC_SFTP, "push_attempts", T_UINT, C(sftp_push_attempts), 1, 100 },
	{ SEC_AS2, "path", T_STRING, C(as2_path), 0, 0 },
	{ SEC_AS2, "max_decompressed_size", T_SIZE, C(as2_max_decompressed),
	    1024, 0 },
	{ SEC_AS2, "unwrap_in_memory", T_SIZE, C(as2_unwrap_in_memory), 0, 0 },
	{ SEC_AS2, "async_mdn_attempts", T_UINT, C(as2_async_mdn_attempts),
	    1, 100 },
	{ SEC_AS2, "async_mdn_retry", T_DURATION, C(as2_async_mdn_retry_ms),
	    10, 86400000 },
	{ SEC_AS2, "async_mdn_timeout", T_DURATION,
	    C(as2_async_mdn_timeout_ms), 100, 3600000 },
	{ SEC_AS2, "certificate_warning_days", T_UINT,
	    C(as2_cert_warning_days), 0, 3650 },
	{ SEC_AS2, "certificate_check_interval", T_DURATION,
	    C(as2_cert_check_interval_ms), 1000, 604800000 },
	{ SEC_AS2, "mdn_wait", T_DURATION, C(as2_mdn_wait_ms), 1000,
	    2592000000UL },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const section_names[] = {
	"general settings", "[store]", "[limits]", "[tls]", "[listen.*]",
	"[sftp]", "[as2]", "a module section"
};

struct parser {
	const char *file;
	char *basedir;           /* for relative paths; NULL: as written */
	struct config *cfg;
	struct config_listener tls; /* [tls] defaults */
	struct config_error *err;
	unsigned line;
	enum section section;
	struct config_listener *listener; /* current [listen.NAME] */
	struct config_section *module;    /* current module section */
	unsigned seen[NKEYS];    /* line a key was set on, per section */
};

static int
fail(struct parser *p, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct parser *p, unsigned line, const char *fmt, ...)
{
	va_list ap;

	snprintf(p->err->file, sizeof(p->err->file), "%s", p->file);
	p->err->line = line;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static char *
resolve_path(struct parser *p, const char *value)
{
	char *out;
	size_t n;

	if (value[0] == '/' || p->basedir == NULL)
		return strdup(value);
	n = strlen(p->basedir) + strlen(value) + 2;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", p->basedir, value);
	return out;
}

/* Digits then an optional suffix from the table; overflow is an error. */
static int
parse_scaled(const char *v, const char *const *suffixes,
    const unsigned long *factors, unsigned long long *out)
{
	unsigned long long n = 0;
	size_t i = 0, s;

	if (v[0] < '0' || v[0] > '9')
		return -1;
	for (; v[i] >= '0' && v[i] <= '9'; i++) {
		if (n > (ULLONG_MAX - 9) / 10)
			return -1;
		n = n * 10 + (unsigned long long)(v[i] - '0');
	}
	for (s = 0; suffixes[s]; s++)
		if (strcmp(v + i, suffixes[s]) == 0) {
			if (factors[s] && n > ULLONG_MAX / factors[s])
				return -1;
			*out = n * factors[s];
			return 0;
		}
	return -1;
}

static int
parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on"))
		*out = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int
parse_address(struct parser *p, const char *v, struct config_listener *l)
{
	const char *colon, *host_start = v, *host_end;
	unsigned long port;
	char *end;

	if (v[0] == '[') {
		host_start = v + 1;
		host_end = strchr(v, ']');
		if (host_end == NULL || host_end[1] != ':')
			return fail(p, p->line, "address: expected [IPv6]:PORT, "
			    "found \"%s\"", v);
		colon = host_end + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL || strchr(v, ':') != colon)
			return fail(p, p->line, "address: expected HOST:PORT "
			    "(IPv6 as [ADDR]:PORT), found \"%s\"", v);
		host_end = colon;
	}
	if (host_end == host_start)
		return fail(p, p->line, "address: the host is missing in "
		    "\"%s\" (use 0.0.0.0 or [::] for all addresses)", v);
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno ||
	    port < 1 || port > 65535)
		return fail(p, p->line, "address: port must be 1 to 65535, "
		    "found \"%s\"", colon + 1);
	free(l->host);
	l->host = strndup(host_start, (size_t)(host_end - host_start));
	l->port = (unsigned)port;
	return l->host ? 0 : fail(p, p->line, "out of memory");
}

static int
set_value(struct parser *p, const struct key *k, const char *v)
{
	static const char *const size_suffixes[] = { "", "K", "M", "G", NULL };
	static const unsigned long size_factors[] = { 1, 1024, 1024 * 1024,
	    1024UL * 1024 * 1024 };
	static const char *const dur_suffixes[] = { "", "s", "ms", "m", "h",
	    "d", NULL };
	static const unsigned long dur_factors[] = { 1000, 1000, 1, 60000,
	    3600000, 86400000 };
	char *base;
	unsigned long long n;
	char *end;
	int b;
	size_t i;

	if (k->section == SEC_LISTEN)
		base = (char *)p->listener;
	else if (k->section == SEC_TLS)
		base = (char *)&p->tls;
	else
		base = (char *)p->cfg;

	if (v[0] == '\0')
		return fail(p, p->line, "%s: a value is required", k->name);

	switch (k->type) {
	case T_PATH:
	case T_STRING: {
		char **slot = (char **)(base + k->offset);
		free(*slot);
		*slot = k->type == T_PATH ? resolve_path(p, v) : strdup(v);
		if (*slot == NULL)
			return fail(p, p->line, "out of memory");
		return 0;
	}
	case T_USERNAME: {
		char **slot = (char **)(base + k->offset);
		for (i = 0; v[i]; i++)
			if (!((v[i] >= 'a' && v[i] <= 'z') ||
			    (v[i] >= 'A' && v[i] <= 'Z') ||
			    (v[i] >= '0' && v[i] <= '9') || v[i] == '_' ||
			    v[i] == '-' || v[i] == '.') || i >= 32)
				return fail(p, p->line, "%s: expected a user or "
				    "group name, found \"%s\"", k->name, v);
		free(*slot);
		*slot = strdup(v);
		return *slot ? 0 : fail(p, p->line, "out of memory");
	}
	case T_BOOL:
		if (parse_bool(v, &b) != 0)
			return fail(p, p->line, "%s: expected yes or no, "
			    "found \"%s\"", k->name, v);
		*(int *)(base + k->offset) = b;
		return 0;
	case T_UINT:
		errno = 0;
		n = strtoull(v, &end, 10);
		if (v[0] < '0' || v[0] > '9' || *end || errno ||
		    n < k->min || n > k->max)
			return fail(p, p->line, "%s: expected a whole number "
			    "from %lu to %lu, found \"%s\"", k->name, k->min,
			    k->max, v);
		*(unsigned *)(base + k->offset) = (unsigned)n;
		return 0;
	case T_SIZE:
		if (parse_scaled(v, size_suffixes, size_factors, &n) != 0 ||
		    n > SIZE_MAX / 2)
			return fail(p, p->line, "%s: expected a size in bytes "
			    "with an optional K, M or G suffix, found \"%s\"",
			    k->name, v);
		if (n < k->min || (k->max && n > k->max))
			return fail(p, p->line, "%s: %s is out of range "
			    "(%lu to %lu bytes)", k->name, v, k->min,
			    k->max ? k->max : (unsigned long)(SIZE_MAX / 2));
		*(size_t *)(base + k->offset) = (size_t)n;
		return 0;
	case T_DURATION:
		if (parse_scaled(v, dur_suffixes, dur_factors, &n) != 0)
			return fail(p, p->line, "%s: expected a duration "
			    "(seconds, or with a ms, s, m, h or d suffix), found "
			    "\"%s\"", k->name, v);
		if (n < k->min || n > k->max)
			return fail(p, p->line, "%s: %s is out of range "
			    "(%lums to %lums)", k->name, v, k->min, k->max);
		*(unsigned *)(base + k->offset) = (unsigned)n;
		return 0;
	case T_LOGLEVEL:
		b = log_level_parse(v);
		if (b < 0)
			return fail(p, p->line, "%s: expected error, warn, info "
			    "or debug, found \"%s\"", k->name, v);
		*(int *)(base + k->offset) = b;
		return 0;
	case T_TLSVERSION:
		if (!strcmp(v, "1.2") || !strcmp(v, "TLSv1.2"))
			b = 12;
		else if (!strcmp(v, "1.3") || !strcmp(v, "TLSv1.3"))
			b = 13;
		else
			return fail(p, p->line, "%s: expected 1.2 or 1.3, found "
			    "\"%s\" (older TLS versions are not offered)",
			    k->name, v);
		*(int *)(base + k->offset) = b;
		return 0;
	case T_PROTOCOL:
		if (!strcmp(v, "http"))
			b = 0;
		else if (!strcmp(v, "https"))
			b = 1;
		else
			return fail(p, p->line, "%s: expected http or https, "
			    "found \"%s\"", k->name, v);
		*(int *)(base + k->offset) = b;
		return 0;
	case T_ADDRESS:
		return parse_address(p, v, p->listener);
	case T_ROUTES: {
		char **slot = (char **)(base + k->offset);
		const char *t = v;
		size_t len;
		while (*t) {
			while (*t == ' ' || *t == '\t')
				t++;
			if (*t == '\0')
				break;
			len = strcspn(t, " \t");
			if (*t != '/' || len >= 128)
				return fail(p, p->line, "%s: expected path prefixes "
				    "starting with /, found \"%.*s\"", k->name,
				    (int)len, t);
			t += len;
		}
		free(*slot);
		*slot = strdup(v);
		return *slot ? 0 : fail(p, p->line, "out of memory");
	}
	}
	return fail(p, p->line, "internal error: key type");
}

static int
open_module_section(struct parser *p, const char *name)
{
	struct config_section *ns;
	size_t i;

	if (strlen(name) > 96)
		return fail(p, p->line, "[%s]: section name too long", name);
	for (i = 0; name[i]; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
		    name[i] == '-' || name[i] == '.'))
			return fail(p, p->line, "[%s]: section names use a-z, "
			    "0-9, _, - and .", name);
	for (i = 0; i < p->cfg->nsections; i++)
		if (!strcmp(p->cfg->sections[i].name, name))
			return fail(p, p->line, "[%s]: section already defined "
			    "at line %u", name, p->cfg->sections[i].line);
	if (p->cfg->nsections >= CONFIG_MAX_SECTIONS)
		return fail(p, p->line, "[%s]: at most %d such sections", name,
		    CONFIG_MAX_SECTIONS);
	ns = realloc(p->cfg->sections, (p->cfg->nsections + 1) * sizeof(*ns));
	if (ns == NULL)
		return fail(p, p->line, "out of memory");
	p->cfg->sections = ns;
	p->module = &ns[p->cfg->nsections++];
	memset(p->module, 0, sizeof(*p->module));
	p->module->line = p->line;
	if ((p->module->name = strdup(name)) == NULL)
		return fail(p, p->line, "out of memory");
	p->section = SEC_MODULE;
	return 0;
}

static int
module_entry(struct parser *p, const char *key, const char *value)
{
	struct config_section *sec = p->module;
	struct config_entry *ne;
	size_t i;

	for (i = 0; i < sec->nentries; i++)
		if (!strcmp(sec->entries[i].key, key))
			return fail(p, p->line, "%s: already set at line %u",
			    key, sec->entries[i].line);
	if (sec->nentries >= CONFIG_MAX_SECTION_ENTRIES)
		return fail(p, p->line, "[%s]: at most %d keys", sec->name,
		    CONFIG_MAX_SECTION_ENTRIES);
	ne = realloc(sec->entries, (sec->nentries + 1) * sizeof(*ne));
	if (ne == NULL)
		return fail(p, p->line, "out of memory");
	sec->entries = ne;
	ne = &ne[sec->nentries];
	ne->line = p->line;
	ne->key = strdup(key);
	ne->value = strdup(value);
	if (ne->key == NULL || ne->value == NULL) {
		free(ne->key);
		free(ne->value);
		return fail(p, p->line, "out of memory");
	}
	sec->nentries++;
	return 0;
}

static int
open_section(struct parser *p, char *name)
{
	const char *id;
	size_t i;

	p->listener = NULL;
	p->module = NULL;
	for (i = 0; module_sections[i]; i++) {
		size_t n = strlen(module_sections[i]);
		int prefix = module_sections[i][n - 1] == '.';
		if (prefix ? strncmp(name, module_sections[i], n) != 0 ||
		    name[n] == '\0' : strcmp(name, module_sections[i]) != 0)
			continue;
		return open_module_section(p, name);
	}
	if (!strcmp(name, "store"))
		p->section = SEC_STORE;
	else if (!strcmp(name, "limits"))
		p->section = SEC_LIMITS;
	else if (!strcmp(name, "tls"))
		p->section = SEC_TLS;
	else if (!strcmp(name, "sftp"))
		p->section = SEC_SFTP;
	else if (!strcmp(name, "as2"))
		p->section = SEC_AS2;
	else if (!strncmp(name, "listen.", 7)) {
		struct config_listener *nl;
		id = name + 7;
		if (id[0] == '\0' || strlen(id) > 32)
			return fail(p, p->line, "[%s]: a listener needs a name "
			    "of 1 to 32 characters, e.g. [listen.as2]", name);
		for (i = 0; id[i]; i++)
			if (!((id[i] >= 'a' && id[i] <= 'z') ||
			    (id[i] >= '0' && id[i] <= '9') || id[i] == '_' ||
			    id[i] == '-'))
				return fail(p, p->line, "[%s]: listener names "
				    "use a-z, 0-9, _ and -", name);
		for (i = 0; i < p->cfg->nlisteners; i++)
			if (!strcmp(p->cfg->listeners[i].name, id))
				return fail(p, p->line, "[%s]: listener already "
				    "defined at line %u", name,
				    p->cfg->listeners[i].line);
		if (p->cfg->nlisteners >= CONFIG_MAX_LISTENERS)
			return fail(p, p->line, "[%s]: at most %d listeners",
			    name, CONFIG_MAX_LISTENERS);
		nl = realloc(p->cfg->listeners,
		    (p->cfg->nlisteners + 1) * sizeof(*nl));
		if (nl == NULL)
			return fail(p, p->line, "out of memory");
		p->cfg->listeners = nl;
		p->listener = &nl[p->cfg->nlisteners++];
		memset(p->listener, 0, sizeof(*p->listener));
		p->listener->line = p->line;
		p->listener->name = strdup(id);
		if (p->listener->name == NULL)
			return fail(p, p->line, "out of memory");
		p->section = SEC_LISTEN;
		for (i = 0; i < NKEYS; i++)
			if (keys[i].section == SEC_LISTEN)
				p->seen[i] = 0;
	} else
		return fail(p, p->line, "unknown section [%s] (expected "
		    "[store], [limits], [tls], [listen.NAME], [as2], [sftp], "
		    "[api], [delivery], [route], [webhook.NAME], [route.NAME], "
		    "[token.NAME], [inbound], [reconcile] or [recovery])", name);
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
parse_line(struct parser *p, char *line)
{
	char *s = trim(line), *eq, *key, *value, *hash;
	size_t i;

	if (*s == '\0' || *s == '#')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (close == NULL || trim(close + 1)[0] != '\0')
			return fail(p, p->line, "expected [section], found "
			    "\"%s\"", s);
		*close = '\0';
		return open_section(p, trim(s + 1));
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return fail(p, p->line, "expected key = value, found \"%s\"", s);
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (*value == '"') {
		char *q = strchr(value + 1, '"');
		if (q == NULL)
			return fail(p, p->line, "%s: unterminated quoted value",
			    key);
		*q = '\0';
		if (trim(q + 1)[0] != '\0' && trim(q + 1)[0] != '#')
			return fail(p, p->line, "%s: text after the closing "
			    "quote", key);
		value++;
	} else {
		/* A comment after a value needs a blank before the #. */
		for (hash = value; (hash = strchr(hash, '#')) != NULL; hash++)
			if (hash > value && (hash[-1] == ' ' || hash[-1] == '\t')) {
				*hash = '\0';
				value = trim(value);
				break;
			}
	}
	if (p->section == SEC_MODULE)
		return module_entry(p, key, value);
	for (i = 0; i < NKEYS; i++) {
		if (keys[i].section != p->section || strcmp(keys[i].name, key))
			continue;
		if (p->seen[i])
			return fail(p, p->line, "%s: already set at line %u",
			    key, p->seen[i]);
		p->seen[i] = p->line;
		return set_value(p, &keys[i], value);
	}
	if (p->section == SEC_LISTEN)
		return fail(p, p->line, "unknown key \"%s\" in [listen.%s]",
		    key, p->listener->name);
	return fail(p, p->line, "unknown key \"%s\" in %s", key,
	    section_names[p->section]);
}

static char *
default_path(const char *dir, const char *leaf)
{
	size_t n = strlen(dir) + strlen(leaf) + 2;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s/%s", dir, leaf);
	return s;
}

static int
inherit(char **slot, const char *from)
{
	if (*slot == NULL && from != NULL && (*slot = strdup(from)) == NULL)
		return -1;
	return 0;
}

/* Defaults and cross-key checks once the whole file is read. */
static int
finish(struct parser *p)
{
	struct config *c = p->cfg;
	size_t i;

	if (c->state_dir == NULL)
		return fail(p, 0, "state_dir: required, not set (the "
		    "directory edigated keeps its store and spool in)");
	if ((c->partners_dir == NULL &&
	    !(c->partners_dir = default_path(c->state_dir, "partners"))) ||
	    (c->maps_dir == NULL &&
	    !(c->maps_dir = default_path(c->state_dir, "maps"))) ||
	    (c->store_url == NULL &&
	    !(c->store_url = default_path(c->state_dir, "edigate.db"))))
		return fail(p, 0, "out of memory");
	/* PostgreSQL holds no payloads: they go to a spool directory, which
	 * nodes sharing the database must share too (docs/cluster.md). */
	if (c->spool_dir == NULL && (!strncmp(c->store_url, "postgresql://", 13) ||
	    !strncmp(c->store_url, "postgres://", 11)) &&
	    !(c->spool_dir = default_path(c->state_dir, "spool")))
		return fail(p, 0, "out of memory");
	if (c->group && !c->user)
		return fail(p, 0, "group: set without user");
	if (c->as2_path == NULL && (c->as2_path = strdup("/as2")) == NULL)
		return fail(p, 0, "out of memory");
	if (c->as2_path[0] != '/' || strlen(c->as2_path) > 100 ||
	    strpbrk(c->as2_path, "?# ") != NULL)
		return fail(p, 0, "[as2] path: \"%s\" must start with / and "
		    "hold no blank, ? or # (at most 100 characters)",
		    c->as2_path);
	if (c->nlisteners == 0)
		return fail(p, 0, "no listener: add a [listen.NAME] section "
		    "with an address");
	for (i = 0; i < c->nlisteners; i++) {
		struct config_listener *l = &c->listeners[i];
		if (l->host == NULL)
			return fail(p, l->line, "[listen.%s]: address is "
			    "required", l->name);
		if (inherit(&l->certificate, p->tls.certificate) ||
		    inherit(&l->key, p->tls.key) ||
		    inherit(&l->ciphers, p->tls.ciphers) ||
		    inherit(&l->ciphersuites, p->tls.ciphersuites))
			return fail(p, 0, "out of memory");
		if (l->min_tls_version == 0)
			l->min_tls_version = p->tls.min_tls_version ?
			    p->tls.min_tls_version : 12;
		if (l->https && (l->certificate == NULL || l->key == NULL))
			return fail(p, l->line, "[listen.%s]: protocol https "
			    "needs certificate and key (here or in [tls])",
			    l->name);
	}
	return 0;
}

static void
listener_clear(struct config_listener *l)
{
	free(l->name);
	free(l->host);
	free(l->certificate);
	free(l->key);
	free(l->ciphers);
	free(l->ciphersuites);
	free(l->routes);
}

int
config_parse(const char *file, const char *text, size_t len,
    struct config **out, struct config_error *err)
{
	struct parser p;
	const char *slash, *cur = text, *end = text + len, *nl;
	char line[CONFIG_MAX_LINE + 1];
	size_t n;
	int rc = 0;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	memset(err, 0, sizeof(*err));
	p.file = file;
	p.err = err;
	p.cfg = calloc(1, sizeof(*p.cfg));
	slash = strrchr(file, '/');
	if (slash)
		p.basedir = strndup(file, (size_t)(slash - file) ?
		    (size_t)(slash - file) : 1);
	if (p.cfg == NULL || (slash && p.basedir == NULL) ||
	    (p.cfg->path = strdup(file)) == NULL) {
		rc = fail(&p, 0, "out of memory");
		goto done;
	}
	p.cfg->workers = 2;
	p.cfg->queue_size = 1024;
	p.cfg->log_level = LOG_LEVEL_INFO;
	p.cfg->shutdown_grace_ms = 30000;
	p.cfg->sftp_scan_interval_ms = 30000;
	p.cfg->sftp_push_attempts = 5;
	p.cfg->max_body_size = 64 * 1024 * 1024;
	p.cfg->as2_max_decompressed = 1024UL * 1024 * 1024;
	p.cfg->as2_unwrap_in_memory = 1024UL * 1024;
	p.cfg->body_in_memory = 1024UL * 1024;
	p.cfg->as2_async_mdn_attempts = 6;
	p.cfg->as2_async_mdn_retry_ms = 10000;
	p.cfg->as2_async_mdn_timeout_ms = 60000;
	p.cfg->as2_cert_warning_days = 30;
	p.cfg->as2_cert_check_interval_ms = 86400000;
	p.cfg->as2_mdn_wait_ms = 86400000;
	p.cfg->max_header_size = 64 * 1024;
	p.cfg->read_timeout_ms = 60000;
	p.cfg->write_timeout_ms = 60000;

	while (cur < end && rc == 0) {
		p.line++;
		nl = memchr(cur, '\n', (size_t)(end - cur));
		n = (size_t)((nl ? nl : end) - cur);
		if (n > CONFIG_MAX_LINE)
			rc = fail(&p, p.line, "line longer than %d bytes",
			    CONFIG_MAX_LINE);
		else if (memchr(cur, '\0', n))
			rc = fail(&p, p.line, "NUL byte in the line");
		else {
			memcpy(line, cur, n);
			line[n] = '\0';
			rc = parse_line(&p, line);
		}
		cur = nl ? nl + 1 : end;
	}
	if (rc == 0)
		rc = finish(&p);
done:
	listener_clear(&p.tls);
	free(p.basedir);
	if (rc != 0) {
		config_free(p.cfg);
		return -1;
	}
	*out = p.cfg;
	return 0;
}

int
config_load(const char *path, struct config **out, struct config_error *err)
{
	FILE *f;
	char *buf;
	size_t len;
	int rc;

	*out = NULL;
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", path);
	f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err->message, sizeof(err->message), "cannot open: %s",
		    strerror(errno));
		return -1;
	}
	buf = malloc(CONFIG_MAX_FILE + 1);
	if (buf == NULL) {
		fclose(f);
		snprintf(err->message, sizeof(err->message), "out of memory");
		return -1;
	}
	len = fread(buf, 1, CONFIG_MAX_FILE + 1, f);
	if (ferror(f) || len > CONFIG_MAX_FILE) {
		snprintf(err->message, sizeof(err->message), ferror(f) ?
		    "read error" : "larger than %d bytes", CONFIG_MAX_FILE);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	rc = config_parse(path, buf, len, out, err);
	free(buf);
	return rc;
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nlisteners; i++)
		listener_clear(&cfg->listeners[i]);
	free(cfg->listeners);
	for (i = 0; i < cfg->nsections; i++) {
		size_t j;
		for (j = 0; j < cfg->sections[i].nentries; j++) {
			free(cfg->sections[i].entries[j].key);
			free(cfg->sections[i].entries[j].value);
		}
		free(cfg->sections[i].entries);
		free(cfg->sections[i].name);
	}
	free(cfg->sections);
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->as2_path);
	free(cfg->partners_dir);
	free(cfg->maps_dir);
	free(cfg->sftp_root);
	free(cfg->store_url);
	free(cfg->spool_dir);
	free(cfg->user);
	free(cfg->group);
	free(cfg);
}

void
config_error_format(const struct config_error *err, char *buf, size_t size)
{
	if (err->line)
		snprintf(buf, size, "%s:%u: %s", err->file, err->line,
		    err->message);
	else
		snprintf(buf, size, "%s: %s", err->file, err->message);
}

const struct config_listener *
config_listener_find(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nlisteners; i++)
		if (!strcmp(cfg->listeners[i].name, name))
			return &cfg->listeners[i];
	return NULL;
}

const struct config_section *
config_section_find(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nsections; i++)
		if (!strcmp(cfg->sections[i].name, name))
			return &cfg->sections[i];
	return NULL;
}

const struct config_entry *
config_section_entry(const struct config_section *sec, const char *key)
{
	size_t i;

	if (sec == NULL)
		return NULL;
	for (i = 0; i < sec->nentries; i++)
		if (!strcmp(sec->entries[i].key, key))
			return &sec->entries[i];
	return NULL;
}
