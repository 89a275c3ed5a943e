/*
 * bench_map - EDI -> canonical and canonical -> EDI throughput of the map
 * engine, with the reader in front, on a generated file of orders.
 *
 *   tests/bench/bench_map [MAPS_DIR [SIZE_MB]]
 *
 * Prints one table: direction, MB/s, documents/s, peak RSS, the ratio to
 * the reference measured in the same run, and the ratio to the 200 MB/s
 * target. The reference is the reader alone over the same bytes (every
 * segment tokenized, nothing translated): on a shared machine absolute
 * figures drift from run to run, the ratio much less. The input is an 850
 * transaction set repeated; canonical -> EDI writes the same segments back
 * to a buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>

#include "edi_reader.h"
#include "map.h"
#include "map_xlate.h"
#include "xlate.h"

/* CPU time of this thread: the target is per core, and on a shared
 * machine wall-clock time mostly measures the neighbours. */
static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long
peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static const char header[] =
    "ISA*00*          *00*          *ZZ*RETAILCO       *ZZ*EDIGATE        "
    "*261123*1000*U*00401*000000101*0*T*>~\n"
    "GS*PO*RETAILCO*EDIGATE*20261123*1000*101*X*004010~\n";
static const char set[] =
    "ST*850*0001~\nBEG*00*SA*PO12345**20261123~\nREF*DP*042~\n"
    "PER*BD*JANE BUYER*TE*5551234567~\nDTM*002*20261201~\n"
    "N1*ST*STORE 42*92*0042~\nN3*100 MAIN ST~\nN4*SPRINGFIELD*IL*62701*US~\n"
    "PO1*1*12*EA*3.50*PE*UP*012345678905*VN*SKU1~\nPID*F****BLUE WIDGET~\n"
    "PO1*2*2*CA*40*PE*UP*012345678912*IN*B-99~\nPID*F****RED WIDGET CASE~\n"
    "PO1*3*7*EA*1.25*PE*UP*012345678929*VN*SKU3~\nPID*F****GREEN WIDGET~\n"
    "PO1*4*1*EA*99.99*PE*UP*012345678936*VN*SKU4~\nPID*F****GOLD WIDGET~\n"
    "CTT*4*22~\nSE*19*0001~\n";
static const char trailer[] = "GE*1*101~\nIEA*1*000000101~\n";

typedef struct bench {
	size_t docs;
	json_t *keep;   /* one document kept for the way back */
	xlate *x;
} bench;

static void
on_doc(void *ctx, const xlate_result *r)
{
	bench *b = ctx;
	b->docs++;
	if (b->keep == NULL && r->doc)
		b->keep = json_incref(r->doc);
}

static int
count_segment(void *ctx, const edi_segment *s)
{
	(*(size_t *)ctx) += s->element_count;
	return 0;
}

static int
on_segment(void *ctx, const edi_segment *s)
{
	bench *b = ctx;
	return xlate_segment(b->x, s);
}

typedef struct sinkbuf {
	char *buf;
	size_t len, cap;
} sinkbuf;

static const edi_delimiters x12 = {
	.standard = EDI_STANDARD_X12, .element = '*', .component = '>',
	.decimal = '.', .terminator_len = 1, .terminator = "~",
	.suffix_len = 1, .suffix = "\n",
};

static int
sink(void *ctx, const map_out_segment *g)
{
	sinkbuf *s = ctx;
	if (s->cap - s->len < 4096)
		s->len = 0; /* a ring: only the work counts */
	long n = map_out_format(g, &x12, s->buf + s->len, s->cap - s->len);
	if (n < 0)
		return -1;
	s->len += (size_t)n;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "maps";
	size_t mb = argc > 2 ? strtoul(argv[2], NULL, 10) : 100;
	char xsd[4096];
	snprintf(xsd, sizeof(xsd), "%s/map.xsd", dir);
	char *err = NULL;
	map_loader *l = map_loader_new(xsd, &err);
	if (l == NULL) {
		fprintf(stderr, "%s", err ? err : "no map.xsd\n");
		return 2;
	}
	xlate_maps *maps = xlate_maps_new(dir, l);

	size_t target = mb << 20;
	size_t setlen = strlen(set);
	size_t n = target / setlen + 1;
	size_t len = strlen(header) + n * setlen + strlen(trailer);
	char *data = malloc(len + 1);
	char *p = data;
	p += sprintf(p, "%s", header);
	for (size_t i = 0; i < n; i++) {
		memcpy(p, set, setlen);
		p += setlen;
	}
	p += sprintf(p, "%s", trailer);

	/* The reference: the reader alone. */
	size_t elements = 0;
	edi_reader_callbacks rcb = {.segment = count_segment};
	edi_reader *rr = edi_reader_new(&rcb, &elements, NULL);
	double r0 = now();
	for (size_t off = 0; off < len; off += 1 << 20) {
		size_t chunk = len - off < (1u << 20) ? len - off : 1u << 20;
		edi_reader_feed(rr, data + off, chunk);
	}
	edi_reader_finish(rr);
	double r1 = now();
	edi_reader_free(rr);

	bench b = {0};
	b.x = xlate_new(maps, NULL, NULL, on_doc, &b);
	edi_reader_callbacks cb = {.segment = on_segment};
	edi_reader *r = edi_reader_new(&cb, &b, NULL);
	double t0 = now();
	for (size_t off = 0; off < len; off += 1 << 20) {
		size_t chunk = len - off < (1u << 20) ? len - off : 1u << 20;
		edi_reader_feed(r, data + off, chunk);
	}
	edi_reader_finish(r);
	double t1 = now();
	long rss_in = peak_rss_kb();

	/* Canonical -> EDI: the kept document written as many times. */
	const map *m = xlate_maps_find(maps, MAP_X12, "004010", "850", NULL);
	sinkbuf s = {.buf = malloc(1 << 20), .cap = 1 << 20};
	char e[256];
	double t2 = now();
	size_t out_bytes = 0;
	for (size_t i = 0; i < b.docs; i++) {
		size_t before = s.len;
		if (map_out_document(m, b.keep, sink, &s, e, sizeof(e)) < 0) {
			fprintf(stderr, "bench: %s\n", e);
			return 1;
		}
		out_bytes += s.len >= before ? s.len - before : s.len;
	}
	double t3 = now();
	long rss_out = peak_rss_kb();

	double ref_mbs = len / (r1 - r0) / 1e6;
	double in_mbs = len / (t1 - t0) / 1e6;
	double out_mbs = out_bytes / (t3 - t2) / 1e6;
	printf("%-22s %10s %12s %12s %10s %10s\n", "direction", "MB/s", "docs/s",
	    "peak RSS KiB", "vs reader", "vs 200MB/s");
	printf("%-22s %10.1f %12.0f %12s %9.2fx %9.2fx\n", "reader alone (ref.)", ref_mbs,
	    b.docs / (r1 - r0), "-", 1.0, ref_mbs / 200);
	printf("%-22s %10.1f %12.0f %12ld %9.2fx %9.2fx\n", "EDI -> canonical", in_mbs,
	    b.docs / (t1 - t0), rss_in, in_mbs / ref_mbs, in_mbs / 200);
	printf("%-22s %10.1f %12.0f %12ld %9.2fx %9.2fx\n", "canonical -> EDI", out_mbs,
	    b.docs / (t3 - t2), rss_out, out_mbs / ref_mbs, out_mbs / 200);
	printf("# MB/s per CPU second of one core (CLOCK_THREAD_CPUTIME_ID)\n");
	printf("# %zu documents, %.1f MB in, %.1f MB out\n", b.docs, len / 1e6,
	    out_bytes / 1e6);
	edi_reader_free(r);
	xlate_free(b.x);
	json_decref(b.keep);
	free(s.buf);
	free(data);
	xlate_maps_free(maps);
	map_loader_free(l);
	return 0;
}
