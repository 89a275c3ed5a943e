/*
 * partner - trading partner profiles. See partner.h.
 */
#include "jtree.h"
#include "partner.h"

#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

typedef struct report {
	char *text;
	size_t len;
} report;

static void
add(report *r, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	char row[1200];
	int k = snprintf(row, sizeof(row), "%s:%d: %s\n", file, line, msg);
	if (k < 0)
		return;
	if ((size_t)k >= sizeof(row))
		k = sizeof(row) - 1;
	char *t = realloc(r->text, r->len + k + 1);
	if (t == NULL)
		return;
	memcpy(t + r->len, row, k + 1);
	r->text = t;
	r->len += k;
}

typedef struct sink {
	report *r;
	int first_only;
	int count;
} sink;

static void
on_xml_error(void *ctx, xmlErrorPtr e)
{
	sink *s = ctx;
	if (e == NULL || e->level < XML_ERR_ERROR || (s->first_only && s->count))
		return;
	s->count++;
	add(s->r, e->file ? e->file : "(partner)", e->line, "%s%s",
	    s->first_only ? "not well-formed XML: " : "",
	    e->message ? e->message : "invalid");
}

static char *
prop(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	if (v == NULL)
		return NULL;
	char *s = strdup((const char *)v);
	xmlFree(v);
	return s;
}

static void
copy_prop(xmlNodePtr n, const char *name, char *out, size_t cap)
{
	char *v = prop(n, name);
	snprintf(out, cap, "%s", v ? v : "");
	free(v);
}

static char
char_prop(xmlNodePtr n, const char *name)
{
	char *v = prop(n, name);
	char c = v ? v[0] : 0;
	free(v);
	return c;
}

static int
is(xmlNodePtr n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE
	    && strcmp((const char *)n->name, name) == 0;
}

/* ---- SFTP transport (<transport><sftp>) ---------------------------------- */

static char *
resolve(const char *dir, char *v)
{
	if (v == NULL || v[0] == '/')
		return v;
	size_t n = strlen(dir) + strlen(v) + 2;
	char *full = malloc(n);
	if (full)
		snprintf(full, n, "%s/%s", dir, v);
	free(v);
	return full;
}

static unsigned
uint_prop(xmlNodePtr n, const char *name, unsigned dflt)
{
	char *v = prop(n, name);
	unsigned u = v ? (unsigned)strtoul(v, NULL, 10) : dflt;
	free(v);
	return u;
}

static partner_sftp_remote *
read_sftp_remote(partner *p, xmlNodePtr n, const char *dir, int pull, report *r)
{
	partner_sftp_remote *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	const char *what = pull ? "pull" : "push";
	x->line = xmlGetLineNo(n);
	x->host = prop(n, "host");
	x->port = uint_prop(n, "port", 22);
	x->user = prop(n, "user");
	x->key_file = resolve(dir, prop(n, "key-file"));
	x->key_passphrase_file = resolve(dir, prop(n, "key-passphrase-file"));
	x->password_file = resolve(dir, prop(n, "password-file"));
	x->remote_dir = prop(n, "remote-dir");
	if (x->remote_dir == NULL)
		x->remote_dir = strdup(".");
	x->temp_prefix = prop(n, "temp-prefix");
	if (x->temp_prefix == NULL)
		x->temp_prefix = strdup(".edigate-");
	x->poll_seconds = uint_prop(n, "poll-seconds", 300);
	char *after = prop(n, "after-download");
	x->after_move = after && strcmp(after, "move") == 0;
	free(after);
	x->move_to = prop(n, "move-to");
	if ((x->key_file == NULL) == (x->password_file == NULL))
		add(r, p->file, x->line, "sftp %s: give exactly one of key-file "
		    "and password-file", what);
	if (x->key_passphrase_file && x->key_file == NULL)
		add(r, p->file, x->line, "sftp %s: key-passphrase-file needs "
		    "key-file", what);
	if (pull && x->after_move && (x->move_to == NULL || x->move_to[0] == '\0'))
		add(r, p->file, x->line, "sftp pull: after-download=\"move\" needs "
		    "move-to (the remote folder fetched files go to)");
	if (pull && !x->after_move && x->move_to)
		add(r, p->file, x->line, "sftp pull: move-to is set but "
		    "after-download is not \"move\"");
	if (strchr(x->remote_dir, '\n') || (x->move_to && strchr(x->move_to, '\n')))
		add(r, p->file, x->line, "sftp %s: a remote folder must not "
		    "contain a line break", what);
	for (xmlNodePtr k = n->children; k; k = k->next) {
		if (!is(k, "host-key"))
			continue;
		int line = xmlGetLineNo(k);
		copy_prop(k, "type", x->host_key_type, sizeof(x->host_key_type));
		x->host_key_base64 = prop(k, "base64");
		x->host_key_fingerprint = prop(k, "fingerprint");
		int full = x->host_key_type[0] && x->host_key_base64;
		int half = (x->host_key_type[0] != 0) != (x->host_key_base64 != NULL);
		if (half)
			add(r, p->file, line, "sftp %s host-key: type and base64 go "
			    "together (as in known_hosts)", what);
		else if (full == (x->host_key_fingerprint != NULL))
			add(r, p->file, line, "sftp %s host-key: give either type and "
			    "base64, or fingerprint (SHA256:...), not both or neither",
			    what);
	}
	return x;
}

static void
free_sftp_remote(partner_sftp_remote *x)
{
	if (x == NULL)
		return;
	free(x->host);
	free(x->user);
	free(x->key_file);
	free(x->key_passphrase_file);
	free(x->password_file);
	free(x->remote_dir);
	free(x->temp_prefix);
	free(x->host_key_base64);
	free(x->host_key_fingerprint);
	free(x->move_to);
	free(x);
}

static void
free_sftp(partner_sftp *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->key_count; i++)
		free(s->keys[i]);
	free(s->keys);
	free_sftp_remote(s->push);
	free_sftp_remote(s->pull);
	free(s);
}

/* Trims the blanks XML indentation leaves around a key. */
static char *
key_line(xmlNodePtr k)
{
	xmlChar *t = xmlNodeGetContent(k);
	if (t == NULL)
		return NULL;
	const char *a = (const char *)t;
	while (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r')
		a++;
	size_t n = strlen(a);
	while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t' || a[n - 1] == '\n'
	    || a[n - 1] == '\r'))
		n--;
	char *s = strndup(a, n);
	xmlFree(t);
	return s;
}

static void
read_sftp(partner *p, xmlNodePtr transport, const char *dir, report *r)
{
	for (xmlNodePtr n = transport->children; n; n = n->next) {
		if (!is(n, "sftp"))
			continue;
		if (p->sftp) {
			add(r, p->file, xmlGetLineNo(n), "<sftp> is given twice");
			continue;
		}
		partner_sftp *s = p->sftp = calloc(1, sizeof(*s));
		if (s == NULL)
			return;
		s->line = xmlGetLineNo(n);
		s->stable_seconds = 10;
		snprintf(s->temp_suffix, sizeof(s->temp_suffix), ".part");
		for (xmlNodePtr c = n->children; c; c = c->next) {
			if (is(c, "inbound")) {
				s->inbound = 1;
				char *user = prop(c, "user");
				if (user)
					snprintf(s->user, sizeof(s->user), "%s", user);
				else if (p->id && strlen(p->id) + 4 < sizeof(s->user))
					snprintf(s->user, sizeof(s->user), "edi-%s", p->id);
				else
					add(r, p->file, xmlGetLineNo(c), "sftp inbound: the "
					    "partner id is too long for a login name: set "
					    "user=\"...\" (32 characters at most)");
				free(user);
				char *up = prop(c, "upload");
				s->upload = up == NULL || strcmp(up, "rename") == 0
				    ? PARTNER_SFTP_RENAME : strcmp(up, "close") == 0
				    ? PARTNER_SFTP_CLOSE : PARTNER_SFTP_STABLE;
				free(up);
				char *suffix = prop(c, "temp-suffix");
				if (suffix)
					snprintf(s->temp_suffix, sizeof(s->temp_suffix), "%s", suffix);
				free(suffix);
				s->stable_seconds = uint_prop(c, "stable-seconds", 10);
				for (xmlNodePtr k = c->children; k; k = k->next) {
					if (!is(k, "key"))
						continue;
					char *line = key_line(k);
					char **ks = realloc(s->keys, (s->key_count + 1) * sizeof(*ks));
					if (line == NULL || ks == NULL) {
						free(line);
						return;
					}
					s->keys = ks;
					for (size_t i = 0; i < s->key_count; i++)
						if (strcmp(ks[i], line) == 0)
							add(r, p->file, xmlGetLineNo(k), "sftp "
							    "inbound: this key is listed twice");
					ks[s->key_count++] = line;
				}
			} else if (is(c, "push")) {
				s->push = read_sftp_remote(p, c, dir, 0, r);
			} else if (is(c, "pull")) {
				s->pull = read_sftp_remote(p, c, dir, 1, r);
			}
		}
	}
}

static int
bool_prop(xmlNodePtr n, const char *name, int dflt)
{
	char *v = prop(n, name);
	int b = dflt;
	if (v)
		b = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
	free(v);
	return b;
}

/* A number of seconds ("0.5", "60"; the schema checked the form) times
 * scale, or an integer count with scale 1. */
static unsigned long
ms_prop(xmlNodePtr n, const char *name, unsigned long dflt,
    unsigned long scale)
{
	char *v = prop(n, name);
	unsigned long whole = 0, frac = 0, div = 1;
	const char *s;

	if (v == NULL)
		return dflt;
	for (s = v; *s >= '0' && *s <= '9'; s++)
		whole = whole * 10 + (unsigned long)(*s - '0');
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9' && div < 1000; s++) {
			frac = frac * 10 + (unsigned long)(*s - '0');
			div *= 10;
		}
	free(v);
	return whole * scale + frac * scale / div;
}

/* A file named in the profile, resolved against its folder. Opening it
 * is the AS2 module's part (edigated -t and every reload report a file
 * that cannot be read, with this profile's file:line). */
static char *
profile_file(xmlNodePtr n, const char *attr, const char *dir,
    const char *file, report *r)
{
	(void)file;   /* the opener reports, with the profile's file:line */
	(void)r;
	char *v = prop(n, attr);
	if (v == NULL)
		return NULL;
	char full[8192];
	snprintf(full, sizeof(full), "%s%s%s", v[0] == '/' ? "" : dir,
	    v[0] == '/' ? "" : "/", v);
	free(v);
	return strdup(full);
}

static void
read_as2(partner *p, xmlNodePtr n, const char *dir, report *r)
{
	partner_as2 *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return;
	p->as2 = a;
	a->line = xmlGetLineNo(n);
	a->id = prop(n, "id");
	a->our_id = prop(n, "our-id");
	a->url = prop(n, "url");
	a->require_signed = bool_prop(n, "require-signed", 1);
	a->require_encrypted = bool_prop(n, "require-encrypted", 0);
	a->async_mdn = bool_prop(n, "async-mdn", 1);
	a->compress = bool_prop(n, "compress", 0);
	copy_prop(n, "mdn-signing", a->mdn_signing, sizeof(a->mdn_signing));
	if (a->mdn_signing[0] == '\0')
		snprintf(a->mdn_signing, sizeof(a->mdn_signing), "as-requested");
	copy_prop(n, "ack-transport", a->ack_transport, sizeof(a->ack_transport));
	copy_prop(n, "sign", a->sign, sizeof(a->sign));
	copy_prop(n, "encrypt", a->encrypt, sizeof(a->encrypt));
	copy_prop(n, "request-mdn", a->request_mdn, sizeof(a->request_mdn));
	if (a->request_mdn[0] == '\0')
		snprintf(a->request_mdn, sizeof(a->request_mdn), "sync");
	copy_prop(n, "mdn-micalg", a->mdn_micalg, sizeof(a->mdn_micalg));
	a->receipt_url = prop(n, "receipt-url");
	a->retry_attempts = (unsigned)ms_prop(n, "retry-attempts", 10, 1);
	a->retry_delay_ms = (unsigned)ms_prop(n, "retry-delay", 60000, 1000);
	a->retry_max_delay_ms = (unsigned)ms_prop(n, "retry-max-delay", 3600000,
	    1000);
	a->timeout_ms = (unsigned)ms_prop(n, "timeout", 300000, 1000);
	if (a->timeout_ms == 0)
		a->timeout_ms = 300000;
	if (xmlHasProp(n, (const xmlChar *)"tls-ca"))
		a->tls_ca = profile_file(n, "tls-ca", dir, p->file, r);
	for (xmlNodePtr c = n->children; c; c = c->next) {
		if (is(c, "their-certificate")) {
			char **t = realloc(a->their_certs,
			    (a->their_cert_count + 1) * sizeof(*t));
			if (t == NULL)
				return;
			a->their_certs = t;
			t[a->their_cert_count] = profile_file(c, "file", dir, p->file, r);
			if (t[a->their_cert_count])
				a->their_cert_count++;
		} else if (is(c, "our-certificate")) {
			char **ce = realloc(a->our_certs, (a->our_count + 1) * sizeof(*ce));
			if (ce == NULL)
				return;
			a->our_certs = ce;
			char **ke = realloc(a->our_keys, (a->our_count + 1) * sizeof(*ke));
			if (ke == NULL)
				return;
			a->our_keys = ke;
			ce[a->our_count] = profile_file(c, "file", dir, p->file, r);
			ke[a->our_count] = profile_file(c, "key", dir, p->file, r);
			if (ce[a->our_count] && ke[a->our_count])
				a->our_count++;
			else {
				free(ce[a->our_count]);
				free(ke[a->our_count]);
			}
		}
	}
	if (a->require_encrypted && a->our_count == 0)
		add(r, p->file, a->line,
		    "as2 require-encrypted=\"true\" needs an <our-certificate> to decrypt with");
	if (strcmp(a->mdn_signing, "always") == 0 && a->our_count == 0)
		add(r, p->file, a->line,
		    "as2 mdn-signing=\"always\" needs an <our-certificate> to sign with");
	if (a->url == NULL && strcmp(a->ack_transport, "as2") == 0)
		add(r, p->file, a->line,
		    "as2 ack-transport=\"as2\" needs a url to send the acknowledgments to");
}

static void
read_profile(partner *p, xmlNodePtr root, map_loader *maps, report *r)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", p->file);
	char *d = dirname(dir);
	p->id = prop(root, "id");
	p->name = prop(root, "name");
	for (xmlNodePtr c = root->children; c; c = c->next) {
		if (is(c, "identity")) {
			for (xmlNodePtr i = c->children; i; i = i->next) {
				if (is(i, "x12")) {
					copy_prop(i, "isa-qualifier", p->isa_qualifier, sizeof(p->isa_qualifier));
					copy_prop(i, "isa-id", p->isa_id, sizeof(p->isa_id));
					copy_prop(i, "gs-id", p->gs_id, sizeof(p->gs_id));
				} else if (is(i, "edifact")) {
					copy_prop(i, "unb-id", p->unb_id, sizeof(p->unb_id));
					copy_prop(i, "unb-qualifier", p->unb_qualifier, sizeof(p->unb_qualifier));
					copy_prop(i, "syntax", p->syntax, sizeof(p->syntax));
				}
			}
		} else if (is(c, "messages")) {
			for (xmlNodePtr m = c->children; m; m = m->next) {
				if (!is(m, "message"))
					continue;
				partner_message *ms = realloc(p->messages,
				    (p->message_count + 1) * sizeof(*ms));
				if (ms == NULL)
					return;
				p->messages = ms;
				partner_message *pm = &ms[p->message_count++];
				memset(pm, 0, sizeof(*pm));
				char *dirn = prop(m, "direction"), *std = prop(m, "standard");
				pm->inbound = dirn && strcmp(dirn, "in") == 0;
				pm->standard = std && strcmp(std, "edifact") == 0 ? MAP_EDIFACT : MAP_X12;
				free(dirn);
				free(std);
				pm->version = prop(m, "version");
				pm->type = prop(m, "type");
				char *ov = prop(m, "override");
				int line = xmlGetLineNo(m);
				for (size_t k = 0; k + 1 < p->message_count; k++) {
					partner_message *o = &p->messages[k];
					if (o->inbound == pm->inbound && o->standard == pm->standard
					    && strcmp(o->version, pm->version) == 0
					    && strcmp(o->type, pm->type) == 0)
						add(r, p->file, line, "message %s %s %s is listed twice",
						    pm->inbound ? "in" : "out", pm->type, pm->version);
				}
				if (ov) {
					char full[8192];
					snprintf(full, sizeof(full), "%s%s%s", ov[0] == '/' ? "" : d,
					    ov[0] == '/' ? "" : "/", ov);
					pm->override_path = strdup(full);
					char *err = NULL;
					if (maps && map_check(maps, full, &err) != 0) {
						add(r, p->file, line, "override %s is not a valid map override:", ov);
						if (err) {
							char *t = realloc(r->text, r->len + strlen(err) + 1);
							if (t) {
								memcpy(t + r->len, err, strlen(err) + 1);
								r->text = t;
								r->len += strlen(err);
							}
						}
					}
					free(err);
					free(ov);
				}
			}
		} else if (is(c, "outbound")) {
			p->element = char_prop(c, "element");
			p->component = char_prop(c, "component");
			p->repetition = char_prop(c, "repetition");
			p->release = char_prop(c, "release");
			p->terminator = char_prop(c, "terminator");
			copy_prop(c, "line-style", p->line_style, sizeof(p->line_style));
			char set[5] = {p->element, p->component, p->repetition, p->terminator, 0};
			for (int i = 0; i < 4; i++)
				for (int j = i + 1; j < 4; j++)
					if (set[i] && set[i] == set[j])
						add(r, p->file, xmlGetLineNo(c),
						    "outbound delimiters must differ: '%c' is used twice", set[i]);
		} else if (is(c, "acknowledgment")) {
			copy_prop(c, "type", p->ack, sizeof(p->ack));
			copy_prop(c, "duplicate-window", p->duplicate_window,
			          sizeof(p->duplicate_window));
			char *ta1 = prop(c, "ta1"), *sla = prop(c, "sla-hours");
			p->ta1 = ta1 && (strcmp(ta1, "true") == 0 || strcmp(ta1, "1") == 0);
			p->sla_hours = sla ? (unsigned)strtoul(sla, NULL, 10) : 24;
			free(ta1);
			free(sla);
		} else if (is(c, "transport")) {
			for (xmlNodePtr t = c->children; t; t = t->next) {
				if (!is(t, "as2"))
					continue;
				if (p->as2)
					add(r, p->file, xmlGetLineNo(t),
					    "<as2> is given twice; one per partner");
				else
					read_as2(p, t, d, r);
			}
			read_sftp(p, c, d, r);
		} else if (is(c, "xref")) {
			for (xmlNodePtr x = c->children; x; x = x->next) {
				if (x->type != XML_ELEMENT_NODE)
					continue;
				partner_xref *xs = realloc(p->xrefs, (p->xref_count + 1) * sizeof(*xs));
				if (xs == NULL)
					return;
				p->xrefs = xs;
				partner_xref *e = &xs[p->xref_count++];
				snprintf(e->kind, sizeof(e->kind), "%s", (const char *)x->name);
				e->theirs = prop(x, "partner");
				e->ours = prop(x, "ours");
			}
		}
	}
	if (p->isa_id[0] == '\0' && p->unb_id[0] == '\0')
		add(r, p->file, xmlGetLineNo(root), "the identity names neither an X12 nor an EDIFACT id");
}

partner *
partner_load(const char *xsd_path, map_loader *maps, const char *path, char **errors)
{
	report r = {0};
	sink s = {.r = &r};
	partner *p = NULL;
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(xsd_path);
	xmlSchemaPtr schema = NULL;
	if (pc) {
		xmlSchemaSetParserStructuredErrors(pc, on_xml_error, &s);
		schema = xmlSchemaParse(pc);
		xmlSchemaFreeParserCtxt(pc);
	}
	if (schema == NULL) {
		if (r.len == 0)
			add(&r, xsd_path, 0, "cannot read the partner schema");
		goto out;
	}
	sink first = {.r = &r, .first_only = 1};
	xmlSetStructuredErrorFunc(&first, on_xml_error);
	xmlDocPtr doc = xmlReadFile(path, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (doc == NULL) {
		if (r.len == 0)
			add(&r, path, 0, "cannot read the profile");
		xmlSchemaFree(schema);
		goto out;
	}
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
	xmlSchemaSetValidStructuredErrors(vc, on_xml_error, &s);
	int rc = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaFreeValidCtxt(vc);
	if (rc == 0) {
		p = calloc(1, sizeof(*p));
		p->file = strdup(path);
		read_profile(p, xmlDocGetRootElement(doc), maps, &r);
	} else if (r.len == 0) {
		add(&r, path, 0, "does not follow partner.xsd");
	}
	xmlFreeDoc(doc);
	xmlSchemaFree(schema);
out:
	if (r.len && p) {
		partner_free(p);
		p = NULL;
	}
	if (errors)
		*errors = r.text;
	else
		free(r.text);
	if (p && errors)
		*errors = NULL;
	return p;
}

void
partner_free(partner *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->message_count; i++) {
		free(p->messages[i].version);
		free(p->messages[i].type);
		free(p->messages[i].override_path);
	}
	for (size_t i = 0; i < p->xref_count; i++) {
		free(p->xrefs[i].theirs);
		free(p->xrefs[i].ours);
	}
	if (p->as2) {
		partner_as2 *a = p->as2;
		for (size_t i = 0; i < a->their_cert_count; i++)
			free(a->their_certs[i]);
		for (size_t i = 0; i < a->our_count; i++) {
			free(a->our_certs[i]);
			free(a->our_keys[i]);
		}
		free(a->their_certs);
		free(a->our_certs);
		free(a->our_keys);
		free(a->id);
		free(a->our_id);
		free(a->url);
		free(a->receipt_url);
		free(a->tls_ca);
		free(a);
	}
	free(p->messages);
	free(p->xrefs);
	free_sftp(p->sftp);
	free(p->id);
	free(p->name);
	free(p->file);
	free(p);
}

const partner_message *
partner_find_message(const partner *p, int inbound, map_standard standard,
    const char *version, const char *type)
{
	for (size_t i = 0; i < p->message_count; i++) {
		const partner_message *m = &p->messages[i];
		size_t n = standard == MAP_X12 ? 6 : strlen(m->version) + 1;
		if (m->inbound == inbound && m->standard == standard
		    && strncmp(m->version, version, n) == 0 && strcmp(m->type, type) == 0)
			return m;
	}
	return NULL;
}

const char *
partner_xref_ours(const partner *p, const char *kind, const char *theirs)
{
	for (size_t i = 0; i < p->xref_count; i++)
		if (strcmp(p->xrefs[i].kind, kind) == 0
		    && strcmp(p->xrefs[i].theirs, theirs) == 0)
			return p->xrefs[i].ours;
	return NULL;
}

const char *
partner_xref_theirs(const partner *p, const char *kind, const char *ours)
{
	for (size_t i = 0; i < p->xref_count; i++)
		if (strcmp(p->xrefs[i].kind, kind) == 0
		    && strcmp(p->xrefs[i].ours, ours) == 0)
			return p->xrefs[i].theirs;
	return NULL;
}

static int
is_unit_key(const char *k)
{
	return strcmp(k, "unit") == 0 || strcmp(k, "unit_ordered") == 0
	    || strcmp(k, "size_unit") == 0 || strcmp(k, "weight_unit") == 0
	    || strcmp(k, "volume_unit") == 0;
}

static size_t
xref_value(const partner *p, json_t *obj, const char *key, json_t *v,
    const char *kind, int inbound)
{
	if (!json_is_string(v))
		return 0;
	const char *to = inbound ? partner_xref_ours(p, kind, json_string_value(v))
	    : partner_xref_theirs(p, kind, json_string_value(v));
	if (to == NULL)
		return 0;
	json_object_set_new(obj, key, json_string(to));
	return 1;
}

static size_t
xref_walk(const partner *p, json_t *j, int inbound, int in_parties)
{
	size_t changed = 0;
	if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v)
			changed += xref_walk(p, v, inbound, 0);
		return changed;
	}
	if (!json_is_object(j))
		return 0;
	const char *key;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(j, tmp, key, v) {
		if (strcmp(key, "meta") == 0 || strcmp(key, "unmapped") == 0)
			continue;
		if (strcmp(key, "item") == 0 && json_is_object(v)) {
			const char *ik;
			json_t *iv;
			void *itmp;
			json_object_foreach_safe(v, itmp, ik, iv)
				changed += xref_value(p, v, ik, iv, "sku", inbound);
		} else if (is_unit_key(key)) {
			changed += xref_value(p, j, key, v, "uom", inbound);
		} else if (strcmp(key, "store_number") == 0 || strcmp(key, "location") == 0) {
			changed += xref_value(p, j, key, v, "location", inbound);
		} else if (in_parties && json_is_object(v)) {
			/* parties.<role>: its id is a location */
			json_t *id = json_object_get(v, "id");
			if (id)
				changed += xref_value(p, v, "id", id, "location", inbound);
			changed += xref_walk(p, v, inbound, 0);
		} else {
			changed += xref_walk(p, v, inbound, strcmp(key, "parties") == 0);
		}
	}
	return changed;
}

size_t
partner_xref_apply(const partner *p, json_t *doc, int inbound)
{
	if (p == NULL || p->xref_count == 0)
		return 0;
	return xref_walk(p, doc, inbound, 0);
}

/* The same walk over an arena tree (what jparse reads): the same keys,
 * the same order, the same values changed. */
static int
key_is(const jtree_member *m, const char *k)
{
	size_t n = strlen(k);
	return m->key_len == n && memcmp(m->key, k, n) == 0;
}

static size_t
xref_value_jtree(const partner *p, jtree_arena *a, jtree_member *m,
    const char *kind, int inbound)
{
	const jtree *v = m->value;
	if (v == NULL || v->kind != JTREE_STRING)
		return 0;
	const char *to = inbound ? partner_xref_ours(p, kind, v->u.string.ptr)
	    : partner_xref_theirs(p, kind, v->u.string.ptr);
	if (to == NULL)
		return 0;
	/* Counted even when the value cannot be set, as with jansson. */
	jtree *s = jtree_string_checked(a, to, strlen(to));
	if (s)
		m->value = s;
	return 1;
}

static size_t
xref_walk_jtree(const partner *p, jtree_arena *a, jtree *j, int inbound,
    int in_parties)
{
	size_t changed = 0;
	if (jtree_is_array(j)) {
		for (size_t i = 0; i < j->u.array.size; i++)
			changed += xref_walk_jtree(p, a, j->u.array.items[i], inbound, 0);
		return changed;
	}
	if (!jtree_is_object(j))
		return 0;
	for (jtree_member *m = j->u.object.first; m; m = m->next) {
		jtree *v = m->value;
		if (key_is(m, "meta") || key_is(m, "unmapped"))
			continue;
		if (key_is(m, "item") && jtree_is_object(v)) {
			for (jtree_member *im = v->u.object.first; im; im = im->next)
				changed += xref_value_jtree(p, a, im, "sku", inbound);
		} else if (is_unit_key(m->key)) {
			changed += xref_value_jtree(p, a, m, "uom", inbound);
		} else if (key_is(m, "store_number") || key_is(m, "location")) {
			changed += xref_value_jtree(p, a, m, "location", inbound);
		} else if (in_parties && jtree_is_object(v)) {
			/* parties.<role>: its id is a location */
			for (jtree_member *im = v->u.object.first; im; im = im->next)
				if (key_is(im, "id")) {
					changed += xref_value_jtree(p, a, im, "location", inbound);
					break;
				}
			changed += xref_walk_jtree(p, a, v, inbound, 0);
		} else {
			changed += xref_walk_jtree(p, a, v, inbound, key_is(m, "parties"));
		}
	}
	return changed;
}

size_t
partner_xref_apply_jtree(const partner *p, jtree_arena *a, jtree *doc, int inbound)
{
	if (p == NULL || p->xref_count == 0)
		return 0;
	return xref_walk_jtree(p, a, doc, inbound, 0);
}
