/*
 * ack_track - acknowledgment expectations, reconciliation, duplicates and
 * the overdue check. See ack_track.h for the rules.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ack_track.h"
#include "edi_reader.h"
#include "envelope.h"
#include "partner.h"

static int
fail(struct store_error *err, enum store_status code, const char *fmt, ...)
{
	va_list ap;
	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return code;
}

static void
copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}
#define COPY(dst, src) copy((dst), sizeof(dst), (src))

void
ack_track_profile_from_partner(struct ack_track_profile *out, const struct partner *p)
{
	memset(out, 0, sizeof *out);
	COPY(out->partner, p->id);
	COPY(out->ack, p->ack);
	out->ta1 = p->ta1;
	out->sla_hours = p->sla_hours;
}

/* ack.h's names, kept here so tracking needs only the model. */
static const char *
kind_name(ack_kind kind)
{
	switch (kind) {
	case ACK_KIND_TA1:
		return "TA1";
	case ACK_KIND_997:
		return "997";
	case ACK_KIND_999:
		return "999";
	case ACK_KIND_CONTRL:
		return "CONTRL";
	default:
		return "?";
	}
}

/* ---- reading an interchange's envelope --------------------------------- */

struct env_group {
	size_t interchange;       /* index into interchanges */
	char functional_id[7];
	char control[15];
	char version[13];
	uint64_t set_count;
};

struct env_interchange {
	edi_standard standard;
	char control[15];
	char ack_requested[2];
	uint64_t sets;            /* ST / UNH of any kind */
	uint64_t contrl_sets;     /* UNH ... CONTRL */
	int closed;
};

struct env_scan {
	struct env_group *groups;
	size_t ngroups, capgroups;
	struct env_interchange *ichs;
	size_t nichs, capichs;
	int failed_memory;
	size_t fatal;
	char first_problem[240];
	char first_type[8];
	/* duplicate checking runs from the callbacks instead */
	void (*on_group)(struct env_scan *s, const envelope_interchange *i,
	                 const envelope_group *g);
	void (*on_interchange)(struct env_scan *s, const envelope_interchange *i);
	void *ud;
};

static void *
grow(void *arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return arr;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *p = realloc(arr, ncap * size);
	if (p)
		*cap = ncap;
	return p;
}

static struct env_interchange *
current_interchange(struct env_scan *s, const envelope_interchange *i)
{
	/* Interchange numbers are 1-based and consecutive in one stream. */
	while (s->nichs < i->number) {
		struct env_interchange *n = grow(s->ichs, &s->capichs, s->nichs, sizeof *n);
		if (!n) {
			s->failed_memory = 1;
			return NULL;
		}
		s->ichs = n;
		memset(&s->ichs[s->nichs], 0, sizeof *s->ichs);
		s->nichs++;
	}
	struct env_interchange *e = &s->ichs[i->number - 1];
	e->standard = i->standard;
	COPY(e->control, i->control_number);
	COPY(e->ack_requested, i->ack_requested);
	return e;
}

static void
scan_error(void *ctx, const envelope_error *e)
{
	struct env_scan *s = ctx;
	if (e->severity != EDI_SEVERITY_ERROR)
		return;
	if (s->fatal++ == 0)
		snprintf(s->first_problem, sizeof s->first_problem,
		         "line %" PRIu64 ", segment %" PRIu64 ": %s%s%s", e->position.line,
		         e->position.segment_index, e->code, *e->code ? " " : "", e->message);
}

static void
scan_set(void *ctx, const envelope_interchange *i, const envelope_group *g,
         const envelope_set *set)
{
	struct env_scan *s = ctx;
	struct env_interchange *e = current_interchange(s, i);
	(void)g;
	if (!e)
		return;
	e->sets++;
	if (!*s->first_type)
		COPY(s->first_type, set->type);
	if (strcmp(set->type, "CONTRL") == 0)
		e->contrl_sets++;
}

static void
scan_group(void *ctx, const envelope_interchange *i, const envelope_group *g)
{
	struct env_scan *s = ctx;
	if (!current_interchange(s, i))
		return;
	if (s->on_group) {
		s->on_group(s, i, g);
		return;
	}
	struct env_group *n = grow(s->groups, &s->capgroups, s->ngroups, sizeof *n);
	if (!n) {
		s->failed_memory = 1;
		return;
	}
	s->groups = n;
	struct env_group *r = &s->groups[s->ngroups++];
	memset(r, 0, sizeof *r);
	r->interchange = i->number - 1;
	COPY(r->functional_id, g->functional_id);
	COPY(r->control, g->control_number);
	COPY(r->version, g->version);
	r->set_count = g->set_count;
}

static void
scan_interchange(void *ctx, const envelope_interchange *i)
{
	struct env_scan *s = ctx;
	struct env_interchange *e = current_interchange(s, i);
	if (e)
		e->closed = 1;
	if (s->on_interchange)
		s->on_interchange(s, i);
}

/* Reads buf through the reader and the envelope into s. */
static int
scan(struct env_scan *s, const void *buf, size_t len, struct store_error *err)
{
	envelope_callbacks cb = { .error = scan_error, .set_end = scan_set,
		                  .group_end = scan_group,
		                  .interchange_end = scan_interchange };
	edi_reader_callbacks rcb;
	envelope *env = envelope_new(&cb, s);
	if (!env)
		return fail(err, STORE_ENOMEM, "out of memory");
	envelope_reader_callbacks(&rcb);
	edi_reader *r = edi_reader_new(&rcb, env, NULL);
	if (!r) {
		envelope_free(env);
		return fail(err, STORE_ENOMEM, "out of memory");
	}
	edi_reader_feed(r, buf, len);
	edi_reader_finish(r);
	envelope_finish(env);
	edi_reader_free(r);
	envelope_free(env);
	if (s->failed_memory)
		return fail(err, STORE_ENOMEM, "out of memory");
	return STORE_OK;
}

static void
scan_free(struct env_scan *s)
{
	free(s->groups);
	free(s->ichs);
}

/* ---- outbound: expectations -------------------------------------------- */

/* X12 005010 and later answer with a 999, older versions with a 997. */
static const char *
x12_ack_for(const struct ack_track_profile *p, const char *gs08)
{
	if (strcmp(p->ack, "997") == 0 || strcmp(p->ack, "999") == 0)
		return p->ack;
	if (strcmp(p->ack, "none") == 0 || strcmp(p->ack, "CONTRL") == 0)
		return NULL;
	return strncmp(gs08, "005", 3) >= 0 ? "999" : "997";
}

int
ack_track_expect(struct store *st, const struct ack_track_profile *profile,
                 int64_t message_id, const void *buf, size_t len, int64_t sent_us,
                 struct ack_track_expect_summary *out, struct store_error *err)
{
	struct ack_track_expect_summary sum = { 0 };
	struct env_scan s = { 0 };
	int rc;
	if (out)
		memset(out, 0, sizeof *out);
	if (!profile || !*profile->partner)
		return fail(err, STORE_EINVAL, "no partner");
	if (sent_us == 0)
		sent_us = store_now_us();
	int64_t hours = profile->sla_hours ? profile->sla_hours : 24;
	sum.deadline_us = sent_us + hours * ACK_TRACK_HOUR_US;
	if ((rc = scan(&s, buf, len, err)))
		goto done;
	if (s.fatal) {
		rc = fail(err, STORE_EINVAL, "the interchange is not well formed (%zu problem%s),"
		          " first: %s", s.fatal, s.fatal == 1 ? "" : "s", s.first_problem);
		goto done;
	}
	if (s.nichs == 0) {
		rc = fail(err, STORE_EINVAL, "no interchange found");
		goto done;
	}
	sum.interchanges = (unsigned)s.nichs;
	COPY(sum.interchange_control, s.ichs[0].control);
	COPY(sum.message_type, s.first_type);
	sum.groups = (unsigned)s.ngroups;
	if (st && (rc = store_tx_begin(st, err)))
		goto done;
	for (size_t i = 0; i < s.nichs && !rc; i++) {
		const struct env_interchange *ich = &s.ichs[i];
		struct store_ack_expectation e = { .message_id = message_id,
			                           .created_us = sent_us,
			                           .deadline_us = sum.deadline_us };
		COPY(e.partner, profile->partner);
		COPY(e.interchange_control, ich->control);
		if (ich->standard == EDI_STANDARD_EDIFACT) {
			/* One CONTRL answers the whole interchange; a
			 * CONTRL-only interchange is never answered. */
			if (strcmp(profile->ack, "none") == 0 || ich->sets == 0 ||
			    ich->contrl_sets == ich->sets) {
				sum.skipped++;
				continue;
			}
			COPY(e.ack_type, "CONTRL");
			e.set_count = (int64_t)ich->sets;
			if (!st || !(rc = store_ack_expect(st, &e, err)))
				sum.expectations++;
			continue;
		}
		if (profile->ta1 && strcmp(ich->ack_requested, "1") == 0) {
			COPY(e.ack_type, "TA1");
			e.set_count = (int64_t)ich->sets;
			if (st && (rc = store_ack_expect(st, &e, err)))
				break;
			sum.expectations++;
		}
		for (size_t g = 0; g < s.ngroups; g++) {
			const struct env_group *grp = &s.groups[g];
			const char *type;
			if (grp->interchange != i)
				continue;
			type = x12_ack_for(profile, grp->version);
			if (!type || strcmp(grp->functional_id, "FA") == 0) {
				sum.skipped++;
				continue;
			}
			COPY(e.ack_type, type);
			COPY(e.group_control, grp->control);
			COPY(e.functional_id, grp->functional_id);
			e.set_count = (int64_t)grp->set_count;
			if (st && (rc = store_ack_expect(st, &e, err)))
				break;
			sum.expectations++;
		}
	}
	if (rc) {
		store_tx_rollback(st);
		goto done;
	}
	if (st)
		rc = store_tx_commit(st, err);
done:
	scan_free(&s);
	if (!rc && out)
		*out = sum;
	return rc;
}

/* ---- inbound: reconciliation -------------------------------------------- */

enum store_ack_state
ack_track_state_of(ack_kind kind, const char *code)
{
	if (!code || !*code || code[1])
		return STORE_ACK_PENDING;
	if (kind == ACK_KIND_CONTRL) {
		switch (code[0]) {
		case '1':
		case '7':
		case '8':
			return STORE_ACK_ACCEPTED;
		case '4':
			return STORE_ACK_REJECTED;
		}
		return STORE_ACK_PENDING;
	}
	switch (code[0]) {
	case 'A':
		return STORE_ACK_ACCEPTED;
	case 'E':
		return STORE_ACK_ACCEPTED_WITH_ERRORS;
	case 'P':
		return kind == ACK_KIND_TA1 ? STORE_ACK_PENDING : STORE_ACK_PARTIALLY_ACCEPTED;
	case 'R':
		return STORE_ACK_REJECTED;
	case 'M':
	case 'W':
	case 'X':
		return kind == ACK_KIND_TA1 ? STORE_ACK_PENDING : STORE_ACK_REJECTED;
	}
	return STORE_ACK_PENDING;
}

/* The AK3/AK4 (IK3/IK4, UCS/UCD) detail of a set, as a JSON object. */
static char *
set_detail(const ack_set_result *r)
{
	json_t *o = json_object();
	if (r->code_count) {
		json_t *codes = json_array();
		for (size_t i = 0; i < r->code_count && i < ACK_MAX_CODES; i++)
			json_array_append_new(codes, json_string(r->codes[i]));
		json_object_set_new(o, "codes", codes);
	}
	if (*r->service_tag) {
		json_object_set_new(o, "service_segment", json_string(r->service_tag));
		json_object_set_new(o, "service_element", json_integer(r->service_element));
	}
	if (r->segment_count) {
		json_t *segs = json_array();
		for (size_t i = 0; i < r->segment_count; i++) {
			const ack_segment_error *s = &r->segments[i];
			json_t *js = json_pack("{s:I}", "position", (json_int_t)s->position);
			if (*s->tag)
				json_object_set_new(js, "segment", json_string(s->tag));
			if (*s->loop_id)
				json_object_set_new(js, "loop", json_string(s->loop_id));
			if (*s->code)
				json_object_set_new(js, "code", json_string(s->code));
			if (s->element_count) {
				json_t *els = json_array();
				for (size_t k = 0; k < s->element_count; k++) {
					const ack_element_error *e = &s->elements[k];
					json_t *je = json_pack("{s:I}", "element",
					                       (json_int_t)e->element);
					if (e->component)
						json_object_set_new(je, "component",
						                    json_integer(e->component));
					if (*e->reference)
						json_object_set_new(je, "reference",
						                    json_string(e->reference));
					if (*e->code)
						json_object_set_new(je, "code", json_string(e->code));
					if (*e->bad_data)
						json_object_set_new(je, "bad_data",
						                    json_string(e->bad_data));
					json_array_append_new(els, je);
				}
				json_object_set_new(js, "elements", els);
			}
			json_array_append_new(segs, js);
		}
		json_object_set_new(o, "errors", segs);
	}
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return text;
}

/* The sets of a group (997/999) or of an interchange (CONTRL). */
struct set_list {
	const ack_set_result **sets;
	size_t n;
};

static int
collect_sets(const ack_document *doc, struct set_list *l)
{
	const ack_interchange_result *r = &doc->result;
	size_t total = r->message_count;
	for (size_t g = 0; g < r->group_count; g++)
		total += r->groups[g].set_count;
	l->n = 0;
	l->sets = total ? calloc(total, sizeof *l->sets) : NULL;
	if (total && !l->sets)
		return -1;
	for (size_t g = 0; g < r->group_count; g++)
		for (size_t i = 0; i < r->groups[g].set_count; i++)
			l->sets[l->n++] = &r->groups[g].sets[i];
	for (size_t i = 0; i < r->message_count; i++)
		l->sets[l->n++] = &r->messages[i];
	return 0;
}

/*
 * The state of a group (997/999) or an interchange (CONTRL) from its own
 * code, or from its sets when the code says nothing. sent is how many
 * sets the expectation covers (0: unknown). A CONTRL lists only the
 * messages it reports on (UCI 0083 "7": the others are accepted), and a
 * 997 may carry AK2 only for sets in error, so rejecting every listed set
 * rejects the whole only when those are all that was sent.
 */
static enum store_ack_state
overall_state(ack_kind kind, const char *code, const struct set_list *l, int64_t sent)
{
	size_t rejected = 0, with_errors = 0;
	for (size_t i = 0; i < l->n; i++) {
		enum store_ack_state s = ack_track_state_of(kind, l->sets[i]->status_code);
		if (s == STORE_ACK_REJECTED)
			rejected++;
		else if (s == STORE_ACK_ACCEPTED_WITH_ERRORS || l->sets[i]->code_count ||
		         l->sets[i]->segment_count)
			with_errors++;
	}
	enum store_ack_state own = ack_track_state_of(kind, code);
	if (own == STORE_ACK_REJECTED || own == STORE_ACK_PARTIALLY_ACCEPTED)
		return own;
	if (own == STORE_ACK_PENDING && l->n == 0)
		return STORE_ACK_PENDING;
	if (rejected) {
		int64_t total = sent > (int64_t)l->n ? sent : (int64_t)l->n;
		return (int64_t)rejected >= total ? STORE_ACK_REJECTED
		                                  : STORE_ACK_PARTIALLY_ACCEPTED;
	}
	if (with_errors || own == STORE_ACK_ACCEPTED_WITH_ERRORS)
		return STORE_ACK_ACCEPTED_WITH_ERRORS;
	return STORE_ACK_ACCEPTED;
}

static int
resolve_with_sets(struct store *st, const struct store_ack_expectation *e,
                  enum store_ack_state state, const char *code, int64_t ack_message_id,
                  int64_t received_us, const struct set_list *l, struct store_error *err)
{
	struct store_ack_set_result *rows = l->n ? calloc(l->n, sizeof *rows) : NULL;
	char **details = l->n ? calloc(l->n, sizeof *details) : NULL;
	int rc = STORE_OK;
	if (l->n && (!rows || !details)) {
		free(rows);
		free(details);
		return fail(err, STORE_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < l->n; i++) {
		const ack_set_result *r = l->sets[i];
		COPY(rows[i].set_control, r->control_number);
		COPY(rows[i].set_type, r->id);
		COPY(rows[i].code, r->status_code);
		details[i] = set_detail(r);
		if (!details[i]) {
			rc = fail(err, STORE_ENOMEM, "out of memory");
			break;
		}
		rows[i].detail_json = details[i];
	}
	if (!rc)
		rc = store_ack_resolve(st, e->id, state, code, ack_message_id, received_us,
		                       rows, l->n, err);
	for (size_t i = 0; i < l->n; i++)
		free(details[i]);
	free(details);
	free(rows);
	return rc;
}

struct open_ids {
	const char *interchange;
	int64_t *ids;
	size_t n, cap;
	int nomem;
};

static int
collect_open_groups(void *ud, const struct store_ack_expectation *e)
{
	struct open_ids *o = ud;
	if (strcmp(e->interchange_control, o->interchange) != 0 ||
	    (e->state != STORE_ACK_PENDING && e->state != STORE_ACK_OVERDUE) ||
	    (strcmp(e->ack_type, "997") != 0 && strcmp(e->ack_type, "999") != 0))
		return 0;
	int64_t *n = grow(o->ids, &o->cap, o->n, sizeof *n);
	if (!n) {
		o->nomem = 1;
		return 1;
	}
	o->ids = n;
	o->ids[o->n++] = e->id;
	return 0;
}

/* Records doc as unmatched, with the reason, inside the open transaction. */
static int
record_unmatched(struct store *st, const char *partner_id, const ack_document *doc,
                 const char *type, const char *interchange, const char *group,
                 const char *code, int64_t ack_message_id, int64_t received_us,
                 struct ack_track_outcome *out, struct store_error *err)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "reason", out->reason, "status", code,
	                      "ack_interchange", doc->interchange_control);
	if (*doc->set_control)
		json_object_set_new(o, "ack_set", json_string(doc->set_control));
	if (doc->problem_count)
		json_object_set_new(o, "problem", json_string(doc->problem));
	char *detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!detail)
		return fail(err, STORE_ENOMEM, "out of memory");
	int rc = store_ack_unmatched(st, ack_message_id, partner_id, type, interchange, group,
	                             received_us, detail, &out->unmatched_id, err);
	free(detail);
	return rc;
}

/* Looks up the open expectation; a closed one or none leaves a reason. */
static int
find_open(struct store *st, const char *partner_id, ack_kind kind, const char *interchange,
          const char *group, struct store_ack_expectation *e,
          struct ack_track_outcome *out, struct store_error *err)
{
	int rc;
	if (kind == ACK_KIND_997 || kind == ACK_KIND_999) {
		/* A partner may answer with the other X12 ack than its profile
		 * says (a 999 to a 004010 group): the group number decides. */
		const char *first = kind == ACK_KIND_997 ? "997" : "999";
		const char *other = kind == ACK_KIND_997 ? "999" : "997";
		rc = store_ack_find_group(st, partner_id, first, group, e, err);
		if (rc == STORE_ENOTFOUND)
			rc = store_ack_find_group(st, partner_id, other, group, e, err);
	} else {
		rc = store_ack_find(st, partner_id, kind == ACK_KIND_TA1 ? "TA1" : "CONTRL",
		                    interchange, "", e, err);
	}
	if (rc == STORE_ENOTFOUND) {
		if (kind == ACK_KIND_997 || kind == ACK_KIND_999)
			snprintf(out->reason, sizeof out->reason,
			         "no %s was expected from %s for group %s", kind_name(kind),
			         partner_id, group);
		else
			snprintf(out->reason, sizeof out->reason,
			         "no %s was expected from %s for interchange %s",
			         kind_name(kind), partner_id, interchange);
		return STORE_ENOTFOUND;
	}
	if (rc)
		return rc;
	if (e->state != STORE_ACK_PENDING && e->state != STORE_ACK_OVERDUE) {
		snprintf(out->reason, sizeof out->reason,
		         "expectation %" PRId64 " (%s for interchange %s group %s) is already %s"
		         " by ack message %" PRId64, e->id, e->ack_type, e->interchange_control,
		         e->group_control, store_ack_state_name(e->state), e->ack_message_id);
		return STORE_ENOTFOUND;
	}
	return STORE_OK;
}

int
ack_track_reconcile(struct store *st, const char *partner_id, const ack_document *doc,
                    int64_t ack_message_id, int64_t received_us,
                    struct ack_track_outcome *out, struct store_error *err)
{
	struct ack_track_outcome o = { 0 };
	struct store_ack_expectation e;
	struct set_list sets = { 0 };
	const ack_interchange_result *r = &doc->result;
	const char *type = kind_name(doc->kind);
	const char *interchange = "", *group = "", *code = "";
	enum store_ack_state state = STORE_ACK_PENDING;
	int rc;
	if (out)
		memset(out, 0, sizeof *out);
	if (!partner_id || !*partner_id)
		return fail(err, STORE_EINVAL, "no partner_id");
	if (received_us == 0)
		received_us = store_now_us();
	switch (doc->kind) {
	case ACK_KIND_TA1:
		interchange = r->control_number;
		code = r->status_code;
		state = ack_track_state_of(ACK_KIND_TA1, code);
		break;
	case ACK_KIND_997:
	case ACK_KIND_999:
		if (r->group_count > 0) {
			group = r->groups[0].control_number;
			code = r->groups[0].status_code;
		}
		break;
	case ACK_KIND_CONTRL:
		interchange = r->control_number;
		code = r->status_code;
		break;
	default:
		type = "unknown";
		break;
	}
	if (doc->kind != ACK_KIND_TA1 && collect_sets(doc, &sets))
		return fail(err, STORE_ENOMEM, "out of memory");
	if (doc->kind == ACK_KIND_997 || doc->kind == ACK_KIND_999 || doc->kind == ACK_KIND_CONTRL)
		state = overall_state(doc->kind, code, &sets, 0);
	if ((rc = store_tx_begin(st, err))) {
		free(sets.sets);
		return rc;
	}
	if (doc->kind == ACK_KIND_NONE || (!*interchange && !*group)) {
		snprintf(o.reason, sizeof o.reason, "not an acknowledgment edigate can match%s%.150s",
		         doc->problem_count ? ": " : "", doc->problem_count ? doc->problem : "");
		rc = record_unmatched(st, partner_id, doc, type, interchange, group, code,
		                      ack_message_id, received_us, &o, err);
		goto end;
	}
	if (state == STORE_ACK_PENDING) {
		snprintf(o.reason, sizeof o.reason, "the %s carries no status edigate knows"
		         " ('%s')%s%.150s", type, code, doc->problem_count ? ": " : "",
		         doc->problem_count ? doc->problem : "");
		rc = record_unmatched(st, partner_id, doc, type, interchange, group, code,
		                      ack_message_id, received_us, &o, err);
		goto end;
	}
	rc = find_open(st, partner_id, doc->kind, interchange, group, &e, &o, err);
	if (rc == STORE_OK) {
		if (doc->kind != ACK_KIND_TA1)
			state = overall_state(doc->kind, code, &sets, e.set_count);
		if (doc->kind == ACK_KIND_TA1)
			rc = store_ack_resolve(st, e.id, state, code, ack_message_id, received_us,
			                       NULL, 0, err);
		else
			rc = resolve_with_sets(st, &e, state, code, ack_message_id, received_us,
			                       &sets, err);
		if (!rc) {
			o.matched = 1;
			o.expectation_id = e.id;
			o.state = state;
			o.late = received_us > e.deadline_us;
		}
	} else if (rc == STORE_ENOTFOUND && doc->kind != ACK_KIND_TA1) {
		rc = record_unmatched(st, partner_id, doc, type, interchange, group, code,
		                      ack_message_id, received_us, &o, err);
	} else if (rc == STORE_ENOTFOUND) {
		rc = STORE_OK; /* a TA1 R may still close the groups below */
	}
	if (!rc && doc->kind == ACK_KIND_TA1 && state == STORE_ACK_REJECTED) {
		/* The interchange was refused whole: no 997/999 will come for
		 * its groups, so they are closed as rejected now. */
		struct open_ids ids = { .interchange = interchange };
		struct store_ack_filter f = { .partner = partner_id };
		rc = store_ack_foreach(st, &f, collect_open_groups, &ids, err);
		if (ids.nomem)
			rc = fail(err, STORE_ENOMEM, "out of memory");
		for (size_t i = 0; !rc && i < ids.n; i++) {
			rc = store_ack_resolve(st, ids.ids[i], STORE_ACK_REJECTED, code,
			                       ack_message_id, received_us, NULL, 0, err);
			if (!rc)
				o.closed_by_ta1++;
		}
		free(ids.ids);
	}
	if (!rc && doc->kind == ACK_KIND_TA1 && !o.matched && !o.closed_by_ta1)
		rc = record_unmatched(st, partner_id, doc, type, interchange, group, code,
		                      ack_message_id, received_us, &o, err);
end:
	free(sets.sets);
	if (rc) {
		store_tx_rollback(st);
		return rc;
	}
	if ((rc = store_tx_commit(st, err)))
		return rc;
	if (out)
		*out = o;
	return STORE_OK;
}

struct file_ctx {
	struct store *st;
	const char *partner_id;
	int64_t message_id, received_us;
	ack_track_outcome_fn fn;
	void *ud;
	struct ack_track_file_summary sum;
	int rc;
	struct store_error *err;
};

static void
file_document(void *ud, const ack_document *doc)
{
	struct file_ctx *c = ud;
	struct ack_track_outcome o;
	if (c->rc)
		return;
	c->sum.documents++;
	c->rc = ack_track_reconcile(c->st, c->partner_id, doc, c->message_id, c->received_us,
	                            &o, c->err);
	if (c->rc)
		return;
	if (o.matched || o.closed_by_ta1)
		c->sum.matched++;
	if (o.unmatched_id)
		c->sum.unmatched++;
	if (c->fn)
		c->fn(c->ud, doc, &o);
}

int
ack_track_reconcile_file(struct store *st, const char *partner_id, const void *buf,
                         size_t len, int64_t ack_message_id, int64_t received_us,
                         ack_track_outcome_fn fn, void *ud,
                         struct ack_track_file_summary *out, struct store_error *err)
{
	struct file_ctx c = { .st = st, .partner_id = partner_id, .message_id = ack_message_id,
		              .received_us = received_us ? received_us : store_now_us(),
		              .fn = fn, .ud = ud, .err = err };
	edi_reader_callbacks cb;
	if (out)
		memset(out, 0, sizeof *out);
	ack_reader *ar = ack_reader_new(file_document, &c);
	if (!ar)
		return fail(err, STORE_ENOMEM, "out of memory");
	ack_reader_reader_callbacks(&cb);
	edi_reader *r = edi_reader_new(&cb, ar, NULL);
	if (!r) {
		ack_reader_free(ar);
		return fail(err, STORE_ENOMEM, "out of memory");
	}
	/* After a store error file_document ignores the rest of the file,
	 * so a failing store is not asked again for every document. */
	edi_reader_feed(r, buf, len);
	edi_reader_finish(r);
	ack_reader_finish(ar);
	edi_reader_free(r);
	ack_reader_free(ar);
	if (out)
		*out = c.sum;
	return c.rc;
}

/* ---- inbound: duplicates ------------------------------------------------ */

struct dup_ctx {
	struct store *st;
	const char *sender;
	int64_t message_id, now_us, window_us;
	struct ack_track_duplicates *out;
	int rc;
	struct store_error *err;
};

static void
dup_check(struct dup_ctx *d, const char *level, const char *kind, const char *control,
          const char *ack_code)
{
	int dup = 0;
	int64_t first_id = 0, first_us = 0;
	if (d->rc || !*control)
		return;
	d->rc = store_duplicate_check(d->st, d->sender, kind, control, d->now_us, d->window_us,
	                              d->message_id, &dup, &first_id, &first_us, d->err);
	if (d->rc)
		return;
	d->out->checked++;
	if (!dup)
		return;
	if (d->out->count == ACK_TRACK_MAX_DUPLICATES) {
		d->out->dropped++;
		return;
	}
	struct ack_track_duplicate *x = &d->out->list[d->out->count++];
	COPY(x->level, level);
	COPY(x->kind, kind);
	COPY(x->control, control);
	COPY(x->ack_code, ack_code);
	x->first_message_id = first_id;
	x->first_seen_us = first_us;
	x->group_index = -1;
}

static void
dup_group(struct env_scan *s, const envelope_interchange *i, const envelope_group *g)
{
	struct dup_ctx *d = s->ud;
	dup_check(d, "group", i->standard == EDI_STANDARD_X12 ? "gs06" : "ung0048",
	          g->control_number, "");
}

static void
dup_interchange(struct env_scan *s, const envelope_interchange *i)
{
	struct dup_ctx *d = s->ud;
	if (i->standard == EDI_STANDARD_X12)
		dup_check(d, "interchange", "isa13", i->control_number, "025");
	else
		dup_check(d, "interchange", "unb0020", i->control_number, "26");
}

int
ack_track_check_duplicates(struct store *st, const char *sender, const void *buf,
                           size_t len, int64_t message_id, int64_t now_us,
                           int64_t window_us, struct ack_track_duplicates *out,
                           struct store_error *err)
{
	struct dup_ctx d = { .st = st, .sender = sender, .message_id = message_id,
		             .now_us = now_us ? now_us : store_now_us(),
		             .window_us = window_us, .out = out, .err = err };
	struct env_scan s = { .on_group = dup_group, .on_interchange = dup_interchange,
		              .ud = &d };
	int rc;
	memset(out, 0, sizeof *out);
	if (!sender || !*sender)
		return fail(err, STORE_EINVAL, "no sender");
	/* One transaction: a crash half way must not leave some numbers
	 * recorded, or the resend would look like a duplicate of nothing. */
	if ((rc = store_tx_begin(st, err)))
		return rc;
	rc = scan(&s, buf, len, err);
	scan_free(&s);
	if (!rc)
		rc = d.rc;
	if (rc) {
		store_tx_rollback(st);
		memset(out, 0, sizeof *out);
		return rc;
	}
	return store_tx_commit(st, err);
}

/* One number of ack_track_check_interchange: 1 duplicate (appended to
 * out), 0 new or seen only by message_id itself, < 0 store error. */
static int
dup_one(struct store *st, const char *sender, const char *level, const char *kind,
        const char *control, const char *ack_code, long group_index,
        int64_t message_id, int64_t now_us, int64_t window_us,
        struct ack_track_duplicates *out, struct store_error *err)
{
	int dup = 0, rc;
	int64_t first_id = 0, first_us = 0;
	if (!*control)
		return 0;
	rc = store_duplicate_check(st, sender, kind, control, now_us, window_us, message_id,
	                           &dup, &first_id, &first_us, err);
	if (rc)
		return -rc;
	out->checked++;
	if (!dup || (message_id && first_id == message_id))
		return 0;
	if (out->count == ACK_TRACK_MAX_DUPLICATES) {
		out->dropped++;
		return 1;
	}
	struct ack_track_duplicate *x = &out->list[out->count++];
	COPY(x->level, level);
	COPY(x->kind, kind);
	COPY(x->control, control);
	COPY(x->ack_code, ack_code);
	x->first_message_id = first_id;
	x->first_seen_us = first_us;
	x->group_index = group_index;
	return 1;
}

int
ack_track_check_interchange(struct store *st, const char *sender,
                            const ack_interchange_result *ir, int64_t message_id,
                            int64_t now_us, int64_t window_us,
                            struct ack_track_duplicates *out, struct store_error *err)
{
	int x12 = ir->standard == EDI_STANDARD_X12;
	int rc;
	memset(out, 0, sizeof *out);
	if (!sender || !*sender)
		return fail(err, STORE_EINVAL, "no sender");
	if (ir->only_ta1 || ir->only_acks || ir->status == ACK_STATUS_REJECTED)
		return STORE_OK;
	if (!now_us)
		now_us = store_now_us();
	rc = dup_one(st, sender, "interchange", x12 ? "isa13" : "unb0020", ir->control_number,
	             x12 ? "025" : "26", -1, message_id, now_us, window_us, out, err);
	if (rc)
		return rc < 0 ? -rc : STORE_OK;
	for (size_t g = 0; g < ir->group_count; g++) {
		const ack_group_result *gr = &ir->groups[g];
		if (gr->status == ACK_STATUS_REJECTED || strcmp(gr->functional_id, "FA") == 0)
			continue;
		rc = dup_one(st, sender, "group", x12 ? "gs06" : "ung0048", gr->control_number,
		             x12 ? "" : "26", (long)g, message_id, now_us, window_us, out, err);
		if (rc < 0)
			return -rc;
	}
	return STORE_OK;
}

/* ---- the overdue check -------------------------------------------------- */

int
ack_track_overdue(struct store *st, int64_t now_us, unsigned *count,
                  struct store_error *err)
{
	return store_ack_mark_overdue(st, now_us ? now_us : store_now_us(), count, err);
}
