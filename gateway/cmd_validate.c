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

typedef struct validate_file {
	const char *name;      /* as printed */
	int json;
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

	env = envelope_new(&ecb, vf);
	envelope_reader_callbacks(&rcb);
	reader = env ? edi_reader_new(&rcb, env, NULL) : NULL;
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
	envelope_free(env);
	return status;
}

static void
validate_usage(FILE *out)
{
	fputs("usage: edigate validate [--json] FILE...\n"
	    "  Checks interchange envelopes (ISA/GS/ST, UNB/UNG/UNH and their\n"
	    "  trailers). '-' reads standard input. Exit status: 0 all valid,\n"
	    "  1 some invalid, 2 usage or I/O error.\n", out);
}

int
cmd_validate(int argc, char **argv)
{
	int json = 0, i, first, worst = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
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
	for (i = first; i < argc; i++) {
		validate_file vf;
		int status;

		memset(&vf, 0, sizeof(vf));
		vf.name = argv[i];
		vf.json = json;
		status = validate_path(argv[i], &vf);
		if (status > worst)
			worst = status;
		fflush(stdout);
	}
	return worst;
}
