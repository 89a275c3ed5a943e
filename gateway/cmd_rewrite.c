/*
 * cmd_rewrite - `edigate rewrite`: re-serialise interchanges with other
 * delimiters.
 *
 *   edigate rewrite [--delimiters ECT[R]] [--una CEDRPT] [--line STYLE] FILE...
 *
 * --delimiters applies to X12 interchanges: element separator, component
 * separator, segment terminator and, optionally, repetition separator, in
 * that order ('*:~^'). Without a repetition separator an interchange keeps
 * its own ISA11. --una applies to EDIFACT interchanges: the six UNA
 * characters in UNA order (component, element, decimal mark, release,
 * repetition, terminator; a space as repetition means none, as in syntax
 * 3). --line none|lf|crlf sets what follows each terminator; by default
 * every interchange keeps its own line style. An interchange of a standard
 * without an option keeps its delimiters.
 *
 * The output goes to standard output; "-" reads standard input. Input is
 * streamed through the reader and written back through the writer, so
 * memory stays flat for any file size, and the output reads back to the
 * same segments: a value that cannot be written in the new delimiters (X12
 * has no release character) stops the rewrite with its position.
 *
 * Exit status: 0 done, 1 the input had errors or a value could not be
 * written, 2 usage or I/O error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "edi_rewrite.h"
#include "edi_writer.h"

struct rewrite_state {
	const char *path;
	edi_writer *writer;
	edi_rewriter *rewriter;
	int input_errors;
	int write_failed;
	int output_failed;
};

static const char usage_text[] =
    "usage: edigate rewrite [--delimiters ECT[R]] [--una CEDRPT]\n"
    "                       [--line none|lf|crlf] FILE...\n"
    "Writes each interchange again with other delimiters; '-' reads standard\n"
    "input, the result goes to standard output.\n"
    "  --delimiters ECT[R]  X12: element, component, terminator[, repetition]\n"
    "                       e.g. '*:~^' (\\n, \\r, \\t, \\\\ may be escaped)\n"
    "  --una CEDRPT         EDIFACT: component, element, decimal mark, release,\n"
    "                       repetition (space = none), terminator, e.g. ':+.? '\\''\n"
    "  --line STYLE         none, lf or crlf after each terminator\n"
    "                       (default: each interchange keeps its own)\n";

static int
stdout_sink(void *ctx, const char *data, size_t len)
{
	struct rewrite_state *st = ctx;

	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "edigate rewrite: standard output: %s\n",
			    strerror(errno));
			st->output_failed = 1;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
rewrite_segment(void *ctx, const edi_segment *seg)
{
	struct rewrite_state *st = ctx;
	const edi_write_error *e;

	if (edi_rewrite_segment(st->rewriter, seg) == EDI_WRITE_OK)
		return 0;
	e = edi_writer_error(st->writer);
	if (!st->output_failed)
		fprintf(stderr, "%s:%llu:%llu: %s %s\n", st->path,
		    (unsigned long long)seg->line,
		    (unsigned long long)seg->index,
		    edi_write_status_name(e->code), e->message);
	st->write_failed = 1;
	return 1;
}

static void
rewrite_error(void *ctx, const edi_error *e)
{
	struct rewrite_state *st = ctx;

	if (e->code == EDI_ERR_STOPPED)
		return;
	if (e->severity == EDI_SEVERITY_ERROR)
		st->input_errors++;
	cli_print_reader_error(st->path, e);
}

/* --name VALUE or --name=VALUE; returns the value or NULL. */
static const char *
option_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0' || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static int
parse_line_style(const char *text, int *style)
{
	if (strcmp(text, "none") == 0)
		*style = EDI_LINE_NONE;
	else if (strcmp(text, "lf") == 0)
		*style = EDI_LINE_LF;
	else if (strcmp(text, "crlf") == 0)
		*style = EDI_LINE_CRLF;
	else
		return 0;
	return 1;
}

int
cmd_rewrite(int argc, char **argv)
{
	static struct rewrite_state st;
	edi_reader_callbacks cb = { rewrite_segment, rewrite_error };
	edi_rewrite_options options;
	edi_reader *reader;
	const char *files[argc > 0 ? argc : 1];
	char why[160];
	int i, nfiles = 0, status = 0;

	memset(&options, 0, sizeof options);
	options.line_style = EDI_REWRITE_KEEP_LINES;
	for (i = 1; i < argc; i++) {
		const char *value;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if ((value = option_value(argc, argv, &i, "--delimiters"))) {
			if (!edi_rewrite_parse_x12(&options, value, why,
			    sizeof why)) {
				fprintf(stderr, "edigate rewrite: %s\n", why);
				return EXIT_USAGE;
			}
		} else if ((value = option_value(argc, argv, &i, "--una"))) {
			if (!edi_rewrite_parse_una(&options, value, why,
			    sizeof why)) {
				fprintf(stderr, "edigate rewrite: %s\n", why);
				return EXIT_USAGE;
			}
		} else if ((value = option_value(argc, argv, &i, "--line"))) {
			if (!parse_line_style(value, &options.line_style)) {
				fprintf(stderr, "edigate rewrite: --line takes "
				    "none, lf or crlf, not '%s'\n", value);
				return EXIT_USAGE;
			}
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "edigate rewrite: unknown option or "
			    "missing value: %s\n\n%s", argv[i], usage_text);
			return EXIT_USAGE;
		} else {
			files[nfiles++] = argv[i];
		}
	}
	if (nfiles == 0) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}

	memset(&st, 0, sizeof st);
	st.writer = edi_writer_new(stdout_sink, &st);
	reader = edi_reader_new(&cb, &st, NULL);
	if (st.writer == NULL || reader == NULL) {
		fprintf(stderr, "edigate rewrite: out of memory\n");
		edi_writer_free(st.writer);
		edi_reader_free(reader);
		return EXIT_USAGE;
	}
	for (i = 0; i < nfiles && !st.write_failed; i++) {
		/* Interchange numbers restart with every file. */
		st.rewriter = edi_rewrite_new(st.writer, &options);
		if (st.rewriter == NULL) {
			fprintf(stderr, "edigate rewrite: out of memory\n");
			status = EXIT_USAGE;
			break;
		}
		st.path = files[i];
		if (cli_feed_file(files[i], reader) != 0)
			status = EXIT_USAGE;
		edi_rewrite_free(st.rewriter);
		st.rewriter = NULL;
	}
	if (!st.write_failed && edi_writer_flush(st.writer) != EDI_WRITE_OK)
		st.write_failed = 1;
	if (st.output_failed)
		status = EXIT_USAGE;
	else if (status == 0 && (st.write_failed || st.input_errors > 0))
		status = EXIT_INVALID;
	edi_reader_free(reader);
	edi_writer_free(st.writer);
	return status;
}
