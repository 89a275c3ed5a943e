/*
 * bench_map - EDI -> canonical and canonical -> EDI throughput of the map
 * engine, with the reader in front, on a generated file of orders.
 *
 *   tests/bench/bench_map [MAPS_DIR [SIZE_MB]]
 *
 * Prints one Markdown table: input, MB/s, documents/s, peak RSS, the
 * ratio to the reference measured in the same run, and the ratio to the
 * 200 MB/s target. The reference is the reader alone over the same bytes
 * (every segment tokenized, nothing translated): on a shared machine
 * absolute figures drift from run to run, the ratio much less; memcpy of
 * the same bytes is the other bound. The input is an 850 transaction set
 * repeated.
 *
 * EDI -> canonical is measured twice: as JSON text (xlate's text mode,
 * what `edigate translate` writes) and as jansson trees (tree mode).
 * Canonical -> EDI parses one document's text with jansson and writes its
 * segments back to a buffer, once per document translated; the parse and
 * the map walk are also timed alone, since the parse sets the bound.
 * jparse (our parser into an arena jtree) is timed alone too, the walk
 * over its tree (map_out_jtree) alone, and both together: the path
 * without jansson.
 *
 * BENCH_ROWS=text,json_t (either or both) runs only those EDI -> canonical
 * rows and prints them with the references: for profiling one path
 * (perf record -g tests/bench/bench_map maps 30).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>

#include "edi_reader.h"
#include "jparse.h"
#include "map.h"
#include "map_xlate.h"
#include "xlate.h"
#include "xlate_out.h"

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
	size_t json_bytes;  /* canonical text written */
	char *keep_text;    /* one document's text, kept for the way back */
	size_t keep_len;
	xlate *x;
} bench;

static void
on_doc(void *ctx, const xlate_result *r)
{
	bench *b = ctx;
	b->docs++;
	if (r->text) {
		b->json_bytes += r->text_len + 1;
		if (b->keep_text == NULL) {
			b->keep_text = strndup(r->text, r->text_len);
			b->keep_len = r->text_len;
		}
	} else if (r->doc && b->keep_text == NULL) {
		b->keep_text = json_dumps(r->doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
		b->keep_len = strlen(b->keep_text);
	}
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

	/* References: memcpy and the reader alone over the same bytes. */
	/* memcpy through one 1 MiB buffer, the chunk size the reader gets:
	 * no page faults, no RSS, just moving the bytes once. */
	char *copy = malloc(1 << 20);
	double c0 = 0, c1 = 0;
	for (int pass = 0; pass < 2; pass++) { /* the first pass warms up */
		c0 = now();
		for (size_t off = 0; off < len; off += 1 << 20) {
			size_t chunk = len - off < (1u << 20) ? len - off : 1u << 20;
			memcpy(copy, data + off, chunk);
			__asm__ volatile("" : : "r"(copy) : "memory");
		}
		c1 = now();
	}
	free(copy);

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

	/* EDI -> canonical, twice: JSON text (the path `edigate translate`
	 * takes), then jansson trees (for callers that want a json_t). */
	double t_in[2];
	long rss[7];
	bench b = {0};
	const char *only = getenv("BENCH_ROWS");
	int run_mode[2] = {1, 1};
	if (only && *only) {
		run_mode[0] = strstr(only, "text") != NULL;
		run_mode[1] = strstr(only, "json_t") != NULL;
	}
	for (int mode = 0; mode < 2; mode++) {
		if (!run_mode[mode]) {
			t_in[mode] = 0;
			rss[mode] = 0;
			continue;
		}
		bench bm = {0};
		bm.x = xlate_new(maps, NULL, NULL, on_doc, &bm);
		xlate_set_text(bm.x, mode == 0);
		edi_reader_callbacks cb = {.segment = on_segment};
		edi_reader *r = edi_reader_new(&cb, &bm, NULL);
		double t0 = now();
		for (size_t off = 0; off < len; off += 1 << 20) {
			size_t chunk = len - off < (1u << 20) ? len - off : 1u << 20;
			edi_reader_feed(r, data + off, chunk);
		}
		edi_reader_finish(r);
		t_in[mode] = now() - t0;
		rss[mode] = peak_rss_kb();
		edi_reader_free(r);
		xlate_free(bm.x);
		bm.x = NULL;
		if (b.keep_text == NULL) {
			b = bm;
		} else {
			b.docs = bm.docs;
			free(bm.keep_text);
		}
	}
	if (only && *only) {
		printf("| input | MB/s | docs/s | peak RSS | vs reader | vs 200 MB/s |\n");
		printf("|---|---:|---:|---:|---:|---:|\n");
		double ref = len / (r1 - r0) / 1e6;
		printf("| reader alone (ref.) | %.1f | - | - | 1.000 | %.2f |\n", ref, ref / 200);
		const char *nm[2] = {"EDI -> canonical text", "EDI -> canonical json_t"};
		for (int mode = 0; mode < 2; mode++)
			if (run_mode[mode]) {
				double mbs = len / t_in[mode] / 1e6;
				printf("| %s | %.1f | %.0f | %.1f MiB | %.3f | %.2f |\n", nm[mode],
				    mbs, b.docs / t_in[mode], rss[mode] / 1024.0, mbs / ref, mbs / 200);
			}
		free(b.keep_text);
		free(data);
		xlate_maps_free(maps);
		map_loader_free(l);
		return 0;
	}
	if (b.keep_text == NULL) {
		fprintf(stderr, "bench: no document translated\n");
		return 1;
	}

	/* Canonical -> EDI: the kept document, parsed by jansson and written
	 * back as many times as there were documents, timed in parts. */
	const map *m = xlate_maps_find(maps, MAP_X12, "004010", "850", NULL);
	sinkbuf s = {.buf = malloc(1 << 20), .cap = 1 << 20};
	char e[256];
	json_error_t je;
	double p0 = now();
	for (size_t i = 0; i < b.docs; i++) {
		json_t *d = json_loadb(b.keep_text, b.keep_len, 0, &je);
		if (d == NULL) {
			fprintf(stderr, "bench: %s\n", je.text);
			return 1;
		}
		json_decref(d);
	}
	double p1 = now();
	rss[2] = peak_rss_kb();
	json_t *keep = json_loadb(b.keep_text, b.keep_len, 0, &je);
	size_t out_bytes = 0;
	double t2 = now();
	for (size_t i = 0; i < b.docs; i++) {
		size_t before = s.len;
		if (map_out_document(m, keep, sink, &s, e, sizeof(e)) < 0) {
			fprintf(stderr, "bench: %s\n", e);
			return 1;
		}
		out_bytes += s.len >= before ? s.len - before : s.len;
	}
	double t3 = now();
	rss[3] = peak_rss_kb();
	double w0 = now();
	for (size_t i = 0; i < b.docs; i++) {
		json_t *d = json_loadb(b.keep_text, b.keep_len, 0, &je);
		if (d == NULL || map_out_document(m, d, sink, &s, e, sizeof(e)) < 0) {
			fprintf(stderr, "bench: %s\n", d ? e : je.text);
			return 1;
		}
		json_decref(d);
	}
	double w1 = now();
	rss[4] = peak_rss_kb();

	/* Our parser into the arena, reset per document as a caller would. */
	jtree_arena *ar = jtree_arena_new();
	jparse_error pe;
	double q0 = now();
	for (size_t i = 0; i < b.docs; i++) {
		jtree_arena_reset(ar);
		if (jparse(ar, b.keep_text, b.keep_len, 0, 0, NULL, &pe) == NULL) {
			fprintf(stderr, "bench: jparse: %s at %zu\n", pe.text, pe.offset);
			return 1;
		}
	}
	double q1 = now();
	rss[5] = peak_rss_kb();
	jtree_arena *keep_ar = jtree_arena_new();
	jtree *kt = jparse(keep_ar, b.keep_text, b.keep_len, 0, 0, NULL, &pe);
	double u0 = now();
	for (size_t i = 0; i < b.docs; i++) {
		if (kt == NULL || map_out_jtree(m, kt, sink, &s, e, sizeof(e)) < 0) {
			fprintf(stderr, "bench: %s\n", kt ? e : pe.text);
			return 1;
		}
	}
	double u1 = now();
	long rss_u = peak_rss_kb();
	jtree_arena_free(keep_ar);
	double v0 = now();
	for (size_t i = 0; i < b.docs; i++) {
		jtree_arena_reset(ar);
		jtree *t = jparse(ar, b.keep_text, b.keep_len, 0, 0, NULL, &pe);
		if (t == NULL || map_out_jtree(m, t, sink, &s, e, sizeof(e)) < 0) {
			fprintf(stderr, "bench: %s\n", t ? e : pe.text);
			return 1;
		}
	}
	double v1 = now();
	long rss_v = peak_rss_kb();
	jtree_arena_free(ar);

	/* What `edigate translate --to x12 FILE` does once the file is read:
	 * the documents, one per line, parsed one at a time and written with
	 * the envelope through the EDI writer into memory. */
	size_t all_len = b.docs * (b.keep_len + 1);
	char *all = malloc(all_len);
	for (size_t i = 0; i < b.docs; i++) {
		memcpy(all + i * (b.keep_len + 1), b.keep_text, b.keep_len);
		all[i * (b.keep_len + 1) + b.keep_len] = '\n';
	}
	xlate_out_options xo = {.standard = MAP_X12, .date = "20261124", .time = "0800"};
	edi_writer_memory mem = {0};
	double x0 = now();
	if (xlate_out_text(maps, all, all_len, &xo, edi_writer_memory_sink, &mem, e,
	    sizeof(e), &je) < 0) {
		fprintf(stderr, "bench: translate --to: %s %s\n", e, je.text);
		return 1;
	}
	double x1 = now();
	long rss_x = peak_rss_kb();
	size_t x_bytes = mem.len;
	edi_writer_memory_free(&mem);
	free(all);

	double json_mb = (double)b.keep_len * b.docs / 1e6;
	double ref_mbs = len / (r1 - r0) / 1e6;
	double rows_mbs[] = {
		len / (c1 - c0) / 1e6, ref_mbs, len / t_in[0] / 1e6, len / t_in[1] / 1e6,
		out_bytes / (p1 - p0) / 1e6, out_bytes / (t3 - t2) / 1e6,
		out_bytes / (w1 - w0) / 1e6, out_bytes / (q1 - q0) / 1e6,
		out_bytes / (u1 - u0) / 1e6, out_bytes / (v1 - v0) / 1e6,
		x_bytes / (x1 - x0) / 1e6,
	};
	double rows_docs[] = {
		0, 0, b.docs / t_in[0], b.docs / t_in[1], b.docs / (p1 - p0),
		b.docs / (t3 - t2), b.docs / (w1 - w0), b.docs / (q1 - q0),
		b.docs / (u1 - u0), b.docs / (v1 - v0), b.docs / (x1 - x0),
	};
	const char *names[] = {
		"memcpy (ref.)", "reader alone (ref.)", "EDI -> canonical text",
		"EDI -> canonical json_t", "  jansson json_loadb",
		"  map_out_document (json_t copied to a jtree + walk)",
		"canonical text -> EDI (json_loadb + map_out_document)",
		"  jparse into jtree", "  map_out_jtree walk",
		"canonical text -> EDI (jparse + map_out_jtree)",
		"translate --to x12 (xlate_out_text: jparse + envelope + walk)",
	};
	long rows_rss[] = {0, 0, rss[0], rss[1], rss[2], rss[3], rss[4], rss[5], rss_u, rss_v, rss_x};
	printf("| input | MB/s | docs/s | peak RSS | vs reader | vs 200 MB/s |\n");
	printf("|---|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char d[32] = "-", r[32] = "-";
		if (rows_docs[i] > 0)
			snprintf(d, sizeof(d), "%.0f", rows_docs[i]);
		if (rows_rss[i] > 0)
			snprintf(r, sizeof(r), "%.1f MiB", rows_rss[i] / 1024.0);
		printf("| %s | %.1f | %s | %s | %.3f | %.2f |\n", names[i], rows_mbs[i], d, r,
		    rows_mbs[i] / ref_mbs, rows_mbs[i] / 200);
	}
	printf("\n# MB/s per CPU second of one core (CLOCK_THREAD_CPUTIME_ID), MB = 10^6 bytes\n");
	printf("# EDI -> canonical rows: MB of EDI read; canonical -> EDI rows: MB of EDI\n");
	printf("# written (the json_loadb and jparse rows too, to compare; they parsed %.1f MB\n"
	    "# of JSON: jansson %.1f MB/s, jparse %.1f MB/s of JSON text)\n",
	    json_mb, json_mb / (p1 - p0), json_mb / (q1 - q0));
	printf("# peak RSS: ru_maxrss so far (the %.0f MB input buffer included)\n", len / 1e6);
	printf("# %zu documents, %.1f MB EDI in, %.1f MB JSON, %.1f MB EDI out\n", b.docs,
	    len / 1e6, b.json_bytes / 1e6, out_bytes / 1e6);
	json_decref(keep);
	free(b.keep_text);
	free(s.buf);
	free(data);
	xlate_maps_free(maps);
	map_loader_free(l);
	return 0;
}
