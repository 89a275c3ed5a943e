/*
 * cmd_validate - `edigate validate [--json] FILE...`: envelope checks.
 *
 * Streams every file (or standard input for "-") through the reader and
 * the envelope validator and prints each problem as
 *     file:line:segment-index: CODE message
 * where CODE is the acknowledgment code (TA1-001, AK9-4, AK5-3, CONTRL-29)
 * or the reader's code name for a tokenizer problem; a warning has
 * " (warning)" after its code, as in `edigate dump`. For standard input the
 * file name is "-".
 *
 * With --json, one compact JSON object per line instead (an interface,
 * fields in this order):
 *   {"type":"problem","file":F,"line":N,"segment":N,"offset":N,
 *    "element":N,"component":N,"tag":"IEA","code":"TA1-001",
 *    "vocabulary":"TA1"|"AK9"|"AK5"|"CONTRL"|"READER","ack_code":"001",
 *    "level":"stream"|"interchange"|"group"|"set",
 *    "severity":"error"|"warning","message":S}
 * per problem, and after each file
 *   {"type":"summary","file":F,"valid":B,"interchanges":N,
 *    "interchanges_accepted":N,"groups":N,"sets":N,"sets_accepted":N,
 *    "errors":N,"warnings":N}
 * ack_code is the bare code for the acknowledgment element (TA105, AK905,
 * AK502/IK502, 0085); for a reader problem it is the reader's code name.
 *
 * Exit status: 0 every file valid, 1 some file invalid, 2 usage or I/O
 * error (which wins over 1). Warnings are printed but keep a file valid.
 *
 * With --partner ID (or --guide for the standard maps alone), every
 * transaction set and message is also checked against its map (the
 * guide: segment order, loops, use, element types, lengths, code lists)
 * with the partner's overrides, and each finding is a problem with the
 * code a 997/999 or CONTRL carries: "AK3-8/AK4-5" for X12, "CONTRL-39"
 * for EDIFACT; vocabulary "GUIDE" in --json.
 *
 * Memory stays flat: files are read in fixed chunks, nothing is kept
 * between problems.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "edi_reader.h"
#include "envelope.h"
#include "map.h"
#include "map_xlate.h"
#include "partner.h"
#include "xlate.h"

typedef struct validate_file {
	const char *name;      /* as printed */
	int json;
	xlate_maps *maps;      /* guide validation, or NULL */
	uint64_t errors;
	uint64_t warnings;
	uint64_t interchanges;
	uint64_t interchanges_accepted;
	uint64_t groups;
	uint64_t sets;
	uint64_t sets_accepted;
} validate_file;

static const char *
level_name(envelope_level level)
{
	switch (level) {
	case ENVELOPE_LEVEL_INTERCHANGE:
		return "interchange";
	case ENVELOPE_LEVEL_GROUP:
		return "group";
	case ENVELOPE_LEVEL_SET:
		return "set";
	default:
		return "stream";
	}
}

static void
print_json_line(json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_ENSURE_ASCII);

	if (text) {
		fputs(text, stdout);
		fputc('\n', stdout);
		free(text);
	}
	json_decref(obj);
}

/* JSON strings must be UTF-8; a file name or a quoted input byte may not
 * be. Copies s with every byte outside ASCII replaced by '?'. */
static const char *
ascii_only(const char *s, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < cap; i++)
		buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

static json_t *
problem_json(const envelope_error *e, const char *label, const char *file,
    const char *message)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:i, s:i, s:s, s:s, s:s, "
	    "s:s, s:s, s:s, s:s}",
	    "type", "problem",
	    "file", file,
	    "line", (json_int_t)e->position.line,
	    "segment", (json_int_t)e->position.segment_index,
	    "offset", (json_int_t)e->position.offset,
	    "element", (int)e->position.element,
	    "component", (int)e->position.component,
	    "tag", e->tag,
	    "code", label,
	    "vocabulary", envelope_vocabulary_name(e->vocabulary),
	    "ack_code", e->code ? e->code : "",
	    "level", level_name(e->level),
	    "severity", e->severity == EDI_SEVERITY_WARNING ? "warning" : "error",
	    "message", message);
}

static void
print_problem_json(const envelope_error *e,
    const char *label, const char *file, const char *message)
{
	char file_buf[4096], message_buf[sizeof(e->message)], tag_ok[4];
	json_t *obj = problem_json(e, label, file, message);

	if (!obj) {
		envelope_error copy = *e;

		memcpy(copy.tag, ascii_only(e->tag, tag_ok, sizeof(tag_ok)),
		    sizeof(copy.tag));
		obj = problem_json(&copy, label,
		    ascii_only(file, file_buf, sizeof(file_buf)),
		    ascii_only(message, message_buf, sizeof(message_buf)));
	}
	print_json_line(obj);
}

static void
on_error(void *ctx, const envelope_error *e)
{
	validate_file *vf = ctx;
	char label[48];
	int warning = e->severity == EDI_SEVERITY_WARNING;

	if (warning)
		vf->warnings++;
	else
		vf->errors++;
	envelope_error_label(e, label, sizeof(label));
	if (!vf->json) {
		printf("%s:%llu:%llu: %s%s %s\n", vf->name,
		    (unsigned long long)e->position.line,
		    (unsigned long long)e->position.segment_index, label,
		    warning ? " (warning)" : "", e->message);
		return;
	}
	print_problem_json(e, label, vf->name, e->message);
}

static void
on_set_end(void *ctx, const envelope_interchange *ich, const envelope_group *grp,
    const envelope_set *set)
{
	validate_file *vf = ctx;

	vf->sets++;
	if (set->accepted)
		vf->sets_accepted++;
}

static void
on_group_end(void *ctx, const envelope_interchange *ich, const envelope_group *grp)
{
	validate_file *vf = ctx;

	vf->groups++;
}

static void
on_interchange_end(void *ctx, const envelope_interchange *ich)
{
	validate_file *vf = ctx;

	vf->interchanges++;
	if (ich->accepted)
		vf->interchanges_accepted++;
}

static json_t *
summary_json(const validate_file *vf, const char *file)
{
	return json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "type", "summary",
	    "file", file,
	    "valid", vf->errors == 0,
	    "interchanges", (json_int_t)vf->interchanges,
	    "interchanges_accepted", (json_int_t)vf->interchanges_accepted,
	    "groups", (json_int_t)vf->groups,
	    "sets", (json_int_t)vf->sets,
	    "sets_accepted", (json_int_t)vf->sets_accepted,
	    "errors", (json_int_t)vf->errors,
	    "warnings", (json_int_t)vf->warnings);
}

static void
print_summary(const validate_file *vf)
{
	char file_buf[4096];
	json_t *obj;

	if (!vf->json)
		return;
	obj = summary_json(vf, vf->name);
	if (!obj)
		obj = summary_json(vf, ascii_only(vf->name, file_buf,
		    sizeof(file_buf)));
	print_json_line(obj);
}

/* An empty file, or one of blank lines, holds nothing a partner could
 * have meant as EDI: it is not a valid interchange. */
static void
report_no_interchange(validate_file *vf)
{
	envelope_error e;

	memset(&e, 0, sizeof(e));
	e.vocabulary = ENVELOPE_VOCAB_READER;
	e.level = ENVELOPE_LEVEL_STREAM;
	e.severity = EDI_SEVERITY_ERROR;
	e.code = "NO_INTERCHANGE";
	snprintf(e.message, sizeof(e.message), "no ISA, UNA or UNB found");
	on_error(vf, &e);
}

/* ---- guide validation: the reader's segments go to the envelope checks
 * and to the map engine. */
typedef struct guide_tee {
	envelope *env;
	xlate *x;
	validate_file *vf;
	edi_standard standard;
} guide_tee;

static int
tee_segment(void *ctx, const edi_segment *seg)
{
	guide_tee *t = ctx;
	t->standard = seg->delimiters->standard;
	int rc = envelope_segment(t->env, seg);
	if (t->x)
		xlate_segment(t->x, seg);
	return rc;
}

static void
tee_error(void *ctx, const edi_error *e)
{
	guide_tee *t = ctx;
	envelope_reader_error(t->env, e);
}

static void
on_guide(void *ctx, const xlate_result *r)
{
	guide_tee *t = ctx;
	validate_file *vf = t->vf;
	int x12 = t->standard != EDI_STANDARD_EDIFACT;
	if (r->error) {
		/* A message without a map is not a guide finding of its own. */
		return;
	}
	for (size_t i = 0; i < r->issue_count; i++) {
		const map_issue *is = &r->issues[i];
		char label[48];
		int el = map_issue_x12_element_code(is->kind);
		if (x12 && el)
			snprintf(label, sizeof(label), "AK3-%d/AK4-%d",
			    map_issue_x12_segment_code(is->kind), el);
		else if (x12)
			snprintf(label, sizeof(label), "AK3-%d", map_issue_x12_segment_code(is->kind));
		else
			snprintf(label, sizeof(label), "CONTRL-%d", map_issue_edifact_code(is->kind));
		vf->errors++;
		if (!vf->json) {
			printf("%s:%llu:%u: %s %s", vf->name, (unsigned long long)r->line,
			    is->position, label, is->tag);
			if (is->element)
				printf("%02u", is->element);
			if (is->component)
				printf("-%u", is->component);
			printf(": %s\n", is->message);
			continue;
		}
		char code[16];
		snprintf(code, sizeof(code), "%d", x12 ? (el ? el : map_issue_x12_segment_code(is->kind))
		    : map_issue_edifact_code(is->kind));
		json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:i, s:i, s:s, s:s, s:s, "
		    "s:s, s:s, s:s, s:s}",
		    "type", "problem", "file", vf->name,
		    "line", (json_int_t)r->line, "segment", (json_int_t)is->position,
		    "offset", (json_int_t)0, "element", (int)is->element,
		    "component", (int)is->component, "tag", is->tag, "code", label,
		    "vocabulary", "GUIDE", "ack_code", code, "level", "set",
		    "severity", "error", "message", is->message);
		if (o)
			print_json_line(o);
	}
}

/* Returns 0 valid, EXIT_INVALID, or EXIT_USAGE for an I/O error. */
static int
validate_path(const char *path, validate_file *vf)
{
	envelope_callbacks ecb = {
		.error = on_error,
		.set_end = on_set_end,
		.group_end = on_group_end,
		.interchange_end = on_interchange_end,
	};
	edi_reader_callbacks rcb;
	envelope *env;
	edi_reader *reader;
	int status = 0;

	guide_tee tee = {.vf = vf};
	env = envelope_new(&ecb, vf);
	tee.env = env;
	rcb.segment = tee_segment;
	rcb.error = tee_error;
	if (vf->maps)
		tee.x = xlate_new(vf->maps, NULL, NULL, on_guide, &tee);
	reader = env ? edi_reader_new(&rcb, &tee, NULL) : NULL;
	if (!reader) {
		fprintf(stderr, "edigate validate: %s: out of memory\n", path);
		envelope_free(env);
		return EXIT_USAGE;
	}
	if (cli_feed_file(path, reader) != 0)
		status = EXIT_USAGE;
	else {
		envelope_finish(env);
		if (envelope_interchange_count(env) == 0 && vf->errors == 0)
			report_no_interchange(vf);
		if (vf->errors > 0)
			status = EXIT_INVALID;
		print_summary(vf);
	}
	edi_reader_free(reader);
	xlate_free(tee.x);
	envelope_free(env);
	return status;
}

static void
validate_usage(FILE *out)
{
	fputs("usage: edigate validate [--json] [--partner ID | --guide] [--maps DIR]\n"
	    "                        [--partners DIR] FILE...\n"
	    "  Checks interchange envelopes (ISA/GS/ST, UNB/UNG/UNH and their\n"
	    "  trailers); with --partner or --guide also every message against\n"
	    "  its map and the partner's overrides. '-' reads standard input.\n"
	    "  Exit status: 0 all valid, 1 some invalid, 2 usage or I/O error.\n", out);
}

int
cmd_validate(int argc, char **argv)
{
	int json = 0, guide = 0, i, first, worst = 0;
	const char *partner_id = NULL, *maps_arg = NULL, *partners_arg = NULL;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--guide") == 0)
			guide = 1;
		else if (strcmp(argv[i], "--partner") == 0 && i + 1 < argc)
			partner_id = argv[++i], guide = 1;
		else if (strcmp(argv[i], "--maps") == 0 && i + 1 < argc)
			maps_arg = argv[++i];
		else if (strcmp(argv[i], "--partners") == 0 && i + 1 < argc)
			partners_arg = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			validate_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "edigate validate: unknown option '%s'\n",
			    argv[i]);
			validate_usage(stderr);
			return EXIT_USAGE;
		} else
			break;
	}
	first = i;
	if (first >= argc) {
		validate_usage(stderr);
		return EXIT_USAGE;
	}
	map_loader *loader = NULL;
	xlate_maps *maps = NULL;
	partner *prof = NULL;
	if (guide) {
		if (cli_open_maps(maps_arg, partners_arg, partner_id, &loader, &maps, &prof) != 0)
			return EXIT_USAGE;
	}
	for (i = first; i < argc; i++) {
		validate_file vf;
		int status;

		memset(&vf, 0, sizeof(vf));
		vf.name = argv[i];
		vf.json = json;
		vf.maps = maps;
		status = validate_path(argv[i], &vf);
		if (status > worst)
			worst = status;
		fflush(stdout);
	}
	xlate_maps_free(maps);
	partner_free(prof);
	map_loader_free(loader);
	return worst;
}
