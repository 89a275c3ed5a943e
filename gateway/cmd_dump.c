/*
 * cmd_dump - `edigate dump FILE...`: every segment as one JSON array a line.
 *
 * The format is an interface (README, "edigate dump"): the tag, then one
 * entry per element: a string for a simple element, an array of strings
 * for a composite, an array of arrays (one per repetition, each an array of
 * components) for a repeated element. Release characters are removed. ISA
 * and UNA elements are never split.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "json_text.h"

struct dump_state {
	json_out out;
	const char *path;
	int errors;
};

static void
dump_components(json_out *out, edi_slice value, const edi_delimiters *d)
{
	edi_splitter it;
	edi_slice part;
	int first = 1;

	json_out_char(out, '[');
	edi_split_init(&it, value, d->component, d->release);
	while (edi_split_next(&it, &part)) {
		if (!first)
			json_out_char(out, ',');
		first = 0;
		json_out_string(out, part.ptr, part.len, d->release);
	}
	json_out_char(out, ']');
}

static int
dump_segment(void *ctx, const edi_segment *seg)
{
	struct dump_state *st = ctx;
	const edi_delimiters *d = seg->delimiters;
	json_out *out = &st->out;
	size_t i;

	json_out_char(out, '[');
	for (i = 0; i < seg->element_count; i++) {
		edi_slice e = seg->elements[i];
		if (i > 0)
			json_out_char(out, ',');
		if (i == 0 || (seg->flags & EDI_SEGMENT_RAW)) {
			json_out_string(out, e.ptr, e.len, 0);
		} else if (d->repetition &&
		    edi_slice_count(e, d->repetition, d->release) > 1) {
			edi_splitter it;
			edi_slice rep;
			int first = 1;
			json_out_char(out, '[');
			edi_split_init(&it, e, d->repetition, d->release);
			while (edi_split_next(&it, &rep)) {
				if (!first)
					json_out_char(out, ',');
				first = 0;
				dump_components(out, rep, d);
			}
			json_out_char(out, ']');
		} else if (edi_slice_count(e, d->component, d->release) > 1) {
			dump_components(out, e, d);
		} else {
			json_out_string(out, e.ptr, e.len, d->release);
		}
	}
	json_out_raw(out, "]\n", 2);
	return st->out.failed ? 1 : 0;
}

static void
dump_error(void *ctx, const edi_error *e)
{
	struct dump_state *st = ctx;

	/* Keep stdout and stderr in order for a person reading both. */
	json_out_flush(&st->out);
	if (e->severity == EDI_SEVERITY_ERROR)
		st->errors++;
	cli_print_reader_error(st->path, e);
}

int
cmd_dump(int argc, char **argv)
{
	static struct dump_state st;
	edi_reader_callbacks cb = { dump_segment, dump_error };
	edi_reader *reader;
	int i, status = 0, files = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: edigate dump FILE...\n"
			    "Prints each segment as a JSON array on its own line; "
			    "'-' reads standard input.\n");
			return 0;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "edigate dump: unknown option %s\n",
			    argv[i]);
			return EXIT_USAGE;
		}
		files++;
	}
	if (files == 0) {
		fprintf(stderr, "usage: edigate dump FILE...\n");
		return EXIT_USAGE;
	}
	json_out_init(&st.out, stdout);
	reader = edi_reader_new(&cb, &st, NULL);
	if (reader == NULL) {
		fprintf(stderr, "edigate dump: out of memory\n");
		return EXIT_USAGE;
	}
	for (i = 1; i < argc; i++) {
		st.path = argv[i];
		st.errors = 0;
		if (cli_feed_file(argv[i], reader) != 0)
			status = EXIT_USAGE;
		else if (st.errors > 0 && status == 0)
			status = EXIT_INVALID;
		if (st.out.failed)
			break;
	}
	edi_reader_free(reader);
	if (json_out_flush(&st.out) != 0 && status == 0)
		status = EXIT_USAGE;
	return status;
}
