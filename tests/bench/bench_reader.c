/*
 * bench_reader - measures the reader on a file, the way the gateway uses it.
 *
 * USAGE
 *   bench_reader [--validate] FILE
 *   Reads FILE in 1 MiB chunks with read(2), pushes every chunk through
 *   the streaming reader and counts segments; with --validate the segments
 *   go through the envelope validator as well, as in edigate validate.
 *   Prints "bytes=N segments=N errors=N seconds=S" on standard output
 *   (errors: reader errors, or with --validate every problem of severity
 *   error), and the first few problems on standard error.
 *
 * WHY
 *   Same I/O as memchr_scan, so the ratio between the two is the cost of
 *   tokenizing alone. The segment callback does nothing but count: this is
 *   the floor every consumer (dump, envelope, maps) builds on.
 *
 * NEVER
 *   Maps the file or reads it whole: memory must stay that of the reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edi_reader.h"
#include "envelope.h"

#define BENCH_CHUNK (1u << 20)
#define BENCH_SHOWN_ERRORS 5

typedef struct bench_counts {
	uint64_t segments;
	uint64_t errors;
} bench_counts;

static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
bench_on_segment(void *ctx, const edi_segment *segment)
{
	bench_counts *c = ctx;

	(void)segment;
	c->segments++;
	return 0;
}

static void
bench_on_error(void *ctx, const edi_error *e)
{
	bench_counts *c = ctx;

	if (c->errors++ < BENCH_SHOWN_ERRORS)
		fprintf(stderr, "bench_reader: offset %llu line %llu: %s: %s\n",
		    (unsigned long long)e->offset, (unsigned long long)e->line,
		    edi_error_code_name(e->code), e->message);
}

static void
bench_on_envelope_error(void *ctx, const envelope_error *e)
{
	bench_counts *c = ctx;
	char label[64];

	if (e->severity != EDI_SEVERITY_ERROR)
		return;
	if (c->errors++ < BENCH_SHOWN_ERRORS) {
		envelope_error_label(e, label, sizeof label);
		fprintf(stderr, "bench_reader: offset %llu line %llu: %s: %s\n",
		    (unsigned long long)e->position.offset,
		    (unsigned long long)e->position.line, label, e->message);
	}
}

int
main(int argc, char **argv)
{
	static char buf[BENCH_CHUNK];
	static const edi_reader_callbacks cb = { bench_on_segment, bench_on_error };
	static const envelope_callbacks ecb = { bench_on_envelope_error, NULL,
	    NULL, NULL };
	bench_counts counts = { 0, 0 };
	edi_reader_callbacks vcb;
	envelope *env = NULL;
	uint64_t bytes = 0;
	edi_reader *reader;
	const char *path;
	double start;
	ssize_t n;
	int fd;

	if (argc == 3 && strcmp(argv[1], "--validate") == 0) {
		env = envelope_new(&ecb, &counts);
		if (env == NULL) {
			fprintf(stderr, "bench_reader: out of memory\n");
			return 2;
		}
		envelope_reader_callbacks(&vcb);
		path = argv[2];
	} else if (argc == 2) {
		path = argv[1];
	} else {
		fprintf(stderr, "usage: bench_reader [--validate] FILE\n");
		return 2;
	}
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "bench_reader: %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (env != NULL)
		reader = edi_reader_new(&vcb, env, NULL);
	else
		reader = edi_reader_new(&cb, &counts, NULL);
	if (reader == NULL) {
		fprintf(stderr, "bench_reader: out of memory\n");
		return 2;
	}
	start = bench_now();
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "bench_reader: read: %s\n", strerror(errno));
			return 2;
		}
		edi_reader_feed(reader, buf, (size_t)n);
		bytes += (uint64_t)n;
	}
	edi_reader_finish(reader);
	if (env != NULL) {
		envelope_finish(env);
		counts.segments = edi_reader_segment_count(reader);
	}
	printf("bytes=%llu segments=%llu errors=%llu seconds=%.6f\n",
	    (unsigned long long)bytes, (unsigned long long)counts.segments,
	    (unsigned long long)counts.errors, bench_now() - start);
	edi_reader_free(reader);
	envelope_free(env);
	close(fd);
	return 0;
}
