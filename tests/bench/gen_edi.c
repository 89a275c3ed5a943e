/*
 * gen_edi - writes a realistic purchase-order interchange of a given size.
 *
 * USAGE
 *   gen_edi x12|edifact SIZE > FILE
 *   SIZE is in bytes, with an optional k, M or G suffix (powers of 1000).
 *
 * WHAT IT WRITES
 *   x12:     one ISA/IEA interchange (version 00401, '*' '>' '~', no line
 *            breaks) with one GS/GE group of 850 purchase orders.
 *   edifact: one UNA/UNB/UNZ interchange (UNOC, D96A) of ORDERS messages,
 *            one segment per line, with release characters in free text.
 *   Orders have 1 to 40 lines drawn from a fixed pseudo-random sequence, so
 *   the same command always writes the same bytes. The envelope is valid:
 *   control numbers match and SE01/UNT01, GE01/UNZ01 and IEA01 count right,
 *   so the benchmark's validation figures measure a clean run. The file
 *   stops after the first message that reaches SIZE, then closes the
 *   envelope, so it is slightly larger than SIZE.
 *
 * NEVER
 *   Writes anything but standard output. It exists for tests/bench only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_BUFFER (1u << 20)

static char gen_buf[GEN_BUFFER];
static size_t gen_len;
static uint64_t gen_total;
static uint64_t gen_state = 0x9e3779b97f4a7c15ULL;

static void
gen_flush(void)
{
	if (gen_len > 0 && fwrite(gen_buf, 1, gen_len, stdout) != gen_len) {
		perror("gen_edi: write");
		exit(1);
	}
	gen_len = 0;
}

static void
gen_put(const char *s, size_t n)
{
	if (gen_len + n > sizeof gen_buf)
		gen_flush();
	memcpy(gen_buf + gen_len, s, n);
	gen_len += n;
	gen_total += n;
}

static void
gen_str(const char *s)
{
	gen_put(s, strlen(s));
}

/* Unsigned decimal, zero-padded to width (0 = no padding). */
static void
gen_num(uint64_t v, int width)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n < width && n < (int)sizeof tmp)
		tmp[sizeof tmp - 1 - n++] = '0';
	gen_put(tmp + sizeof tmp - n, (size_t)n);
}

static uint32_t
gen_random(uint32_t bound)
{
	/* xorshift64*: fixed seed, so the files are reproducible. */
	gen_state ^= gen_state >> 12;
	gen_state ^= gen_state << 25;
	gen_state ^= gen_state >> 27;
	return (uint32_t)((gen_state * 0x2545f4914f6cdd1dULL) >> 32) % bound;
}

static const char *const gen_items[] = {
	"WIDGET BLUE LARGE", "GASKET RUBBER 40MM", "PALLET WRAP 500M",
	"COFFEE BEANS 1KG", "LED BULB E27 9W", "HEX BOLT M8X40",
	"PAPER A4 80G", "CABLE TIE 200MM", "SAFETY GLOVES L",
};
#define GEN_ITEMS (sizeof gen_items / sizeof gen_items[0])

static const char *const gen_units[] = { "EA", "CA", "BX", "PK" };

/* Price as an exact decimal with two places, never a float. */
static void
gen_price(void)
{
	uint32_t cents = 50 + gen_random(99950);

	gen_num(cents / 100, 0);
	gen_put(".", 1);
	gen_num(cents % 100, 2);
}

static uint64_t
gen_x12_order(uint64_t set)
{
	uint32_t lines = 1 + gen_random(40), i;
	uint64_t segments = 0, qty;

	gen_str("ST*850*");
	gen_num(set, 4);
	gen_str("~BEG*00*SA*PO");
	gen_num(set, 8);
	gen_str("**20261123~REF*DP*");
	gen_num(gen_random(1000), 3);
	gen_str("~DTM*002*202612");
	gen_num(1 + gen_random(28), 2);
	gen_str("~N1*ST*STORE ");
	qty = gen_random(10000);
	gen_num(qty, 0);
	gen_str("*92*");
	gen_num(qty, 4);
	gen_str("~N3*100 MAIN ST~N4*SPRINGFIELD*IL*62701*US~");
	segments = 7;
	for (i = 1; i <= lines; i++) {
		gen_str("PO1*");
		gen_num(i, 0);
		gen_put("*", 1);
		gen_num(1 + gen_random(500), 0);
		gen_put("*", 1);
		gen_str(gen_units[gen_random(4)]);
		gen_put("*", 1);
		gen_price();
		gen_str("**UP*0123456");
		gen_num(gen_random(100000), 5);
		gen_str("*VN*SKU");
		gen_num(gen_random(1000000), 0);
		gen_str("~PID*F****");
		gen_str(gen_items[gen_random(GEN_ITEMS)]);
		gen_put("~", 1);
		segments += 2;
	}
	gen_str("CTT*");
	gen_num(lines, 0);
	gen_str("~SE*");
	gen_num(segments + 2, 0); /* CTT and SE itself */
	gen_put("*", 1);
	gen_num(set, 4);
	gen_put("~", 1);
	return segments;
}

static void
gen_x12(uint64_t size)
{
	const char *isa =
	    "ISA*00*          *00*          *ZZ*EDIGATEBUYER   "
	    "*ZZ*EDIGATESELLER  *261123*1000*U*00401*000000001*0*P*>~";
	uint64_t set = 0;

	if (strlen(isa) != 106) {
		fprintf(stderr, "gen_edi: ISA is not 106 characters\n");
		exit(1);
	}
	gen_str(isa);
	gen_str("GS*PO*EDIGATEBUYER*EDIGATESELLER*20261123*1000*1*X*004010~");
	while (gen_total < size && set < 999999)
		gen_x12_order(++set);
	gen_str("GE*");
	gen_num(set, 0);
	gen_str("*1~IEA*1*000000001~");
}

static void
gen_edifact_order(uint64_t msg)
{
	uint32_t lines = 1 + gen_random(40), i;
	uint64_t segments;

	gen_str("UNH+");
	gen_num(msg, 0);
	gen_str("+ORDERS:D:96A:UN'\nBGM+220+PO");
	gen_num(msg, 8);
	gen_str("+9'\nDTM+137:20261123:102'\nDTM+2:202612");
	gen_num(1 + gen_random(28), 2);
	gen_str(":102'\nFTX+AAI+++DELIVER TO DOCK ");
	gen_num(1 + gen_random(9), 0);
	gen_str("?+ CALL AHEAD?: 555 0100'\nNAD+BY+5412345000013::9'\n"
	    "NAD+DP+54123450");
	gen_num(gen_random(100000), 5);
	gen_str("::9'\nCUX+2:EUR:9'\n");
	segments = 8;
	for (i = 1; i <= lines; i++) {
		gen_str("LIN+");
		gen_num(i, 0);
		gen_str("++40008621");
		gen_num(gen_random(100000), 5);
		gen_str(":SRS'\nIMD+F++:::");
		gen_str(gen_items[gen_random(GEN_ITEMS)]);
		gen_str("'\nQTY+21:");
		gen_num(1 + gen_random(500), 0);
		gen_str("'\nPRI+AAA:");
		gen_price();
		gen_str("'\n");
		segments += 4;
	}
	gen_str("UNS+S'\nCNT+2:");
	gen_num(lines, 0);
	gen_str("'\nUNT+");
	gen_num(segments + 3, 0); /* UNS, CNT and UNT itself */
	gen_put("+", 1);
	gen_num(msg, 0);
	gen_str("'\n");
}

static void
gen_edifact(uint64_t size)
{
	uint64_t msg = 0;

	gen_str("UNA:+.? '\nUNB+UNOC:3+5412345000013:14+4012345000009:14+"
	    "261123:1000+REF00000001'\n");
	while (gen_total < size && msg < 999999)
		gen_edifact_order(++msg);
	gen_str("UNZ+");
	gen_num(msg, 0);
	gen_str("+REF00000001'\n");
}

static int
gen_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return -1;
	if (*end == 'k')
		v *= 1000ULL, end++;
	else if (*end == 'M')
		v *= 1000000ULL, end++;
	else if (*end == 'G')
		v *= 1000000000ULL, end++;
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t size;

	if (argc != 3 || gen_parse_size(argv[2], &size) != 0) {
		fprintf(stderr, "usage: gen_edi x12|edifact SIZE[k|M|G]\n");
		return 2;
	}
	if (strcmp(argv[1], "x12") == 0)
		gen_x12(size);
	else if (strcmp(argv[1], "edifact") == 0)
		gen_edifact(size);
	else {
		fprintf(stderr, "gen_edi: unknown standard %s\n", argv[1]);
		return 2;
	}
	gen_flush();
	if (fflush(stdout) != 0) {
		perror("gen_edi: write");
		return 1;
	}
	return 0;
}
