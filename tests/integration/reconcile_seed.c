/*
 * reconcile_seed - records messages in a store the way the pipelines do,
 * for tests of `edigate report reconcile` while no CLI receives canonical
 * documents. One message per line of standard input:
 *   in|out PARTNER TYPE CORRELATION FILE [ACK_HOURS accepted|pending]
 * FILE's bytes go to the spool; with ACK_HOURS an outbound message gets a
 * 997 expectation due that many hours after now, resolved when
 * "accepted". Prints each message id. Exit 0, or 2 on any failure.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static int
slurp(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 1 << 16;
	*buf = malloc(cap);
	*len = fread(*buf, 1, cap, f);
	int bad = ferror(f) || !feof(f);
	fclose(f);
	return bad ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct store *st;
	struct store_error err;
	char line[1024];
	if (argc != 2) {
		fprintf(stderr, "usage: reconcile_seed STORE < lines\n");
		return 2;
	}
	if (store_open(&st, argv[1], NULL, &err)) {
		fprintf(stderr, "reconcile_seed: %s\n", err.message);
		return 2;
	}
	while (fgets(line, sizeof line, stdin)) {
		char dir[8], partner[STORE_PARTNER_MAX + 1], type[STORE_NAME_MAX + 1],
		     corr[STORE_CORRELATION_MAX + 1], file[512], ack[16] = "";
		int hours = -1;
		int got = sscanf(line, "%7s %64s %32s %64s %511s %d %15s", dir, partner, type,
		                 corr, file, &hours, ack);
		if (got < 5)
			continue;
		char *buf;
		size_t len;
		struct spool_error serr;
		struct store_message m = { .direction = strcmp(dir, "in") ? STORE_OUT : STORE_IN };
		if (slurp(file, &buf, &len) ||
		    spool_put(store_spool(st), buf, len, m.payload_hash, &serr)) {
			fprintf(stderr, "reconcile_seed: cannot spool %s\n", file);
			return 2;
		}
		free(buf);
		m.size = (int64_t)len;
		snprintf(m.partner, sizeof m.partner, "%s", partner);
		snprintf(m.transport, sizeof m.transport, "cli");
		snprintf(m.message_type, sizeof m.message_type, "%s", type);
		snprintf(m.correlation_id, sizeof m.correlation_id, "%s", corr);
		if (store_message_put(st, &m, NULL, &err)) {
			fprintf(stderr, "reconcile_seed: %s\n", err.message);
			return 2;
		}
		if (hours >= 0) {
			struct store_ack_expectation e = { .message_id = m.id, .set_count = 1 };
			snprintf(e.partner, sizeof e.partner, "%s", partner);
			snprintf(e.ack_type, sizeof e.ack_type, "997");
			snprintf(e.interchange_control, sizeof e.interchange_control, "%09lld",
			         (long long)m.id);
			snprintf(e.group_control, sizeof e.group_control, "%lld", (long long)m.id);
			e.deadline_us = store_now_us() + (int64_t)hours * 3600000000LL;
			if (store_ack_expect(st, &e, &err) ||
			    (strcmp(ack, "accepted") == 0 &&
			     store_ack_resolve(st, e.id, STORE_ACK_ACCEPTED, "A", 0,
			                       store_now_us(), NULL, 0, &err))) {
				fprintf(stderr, "reconcile_seed: %s\n", err.message);
				return 2;
			}
		}
		printf("%lld\n", (long long)m.id);
	}
	store_close(st);
	return 0;
}
