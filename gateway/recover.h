/*
 * recover - gives inbound messages cut short by a dead node back to the
 * inbound pipeline, on one node or on several sharing one PostgreSQL.
 *
 * The pipeline claims a message before working on it (inbound.h,
 * store_message_claim): state "processing", an owner id unique to the
 * process ("<host>:<pid>:<start>") and a lease end. Every sweep (each
 * [recovery] interval, 30 s by default) this module, on a worker with its
 * own store connection:
 *   1. pushes the lease of every claim this process holds to now + lease
 *      (5 min by default), so a live node keeps what it works on however
 *      long a run takes;
 *   2. hands every inbound message whose lease ran out back to
 *      "received" (store_message_release_claim: a conditional UPDATE, on
 *      PostgreSQL under FOR UPDATE SKIP LOCKED, with a "message.state"
 *      event {"reason":"lease expired"}), so two nodes sweeping at once
 *      release a message once;
 *   3. on the loop thread, resubmits what it released, and inbound
 *      messages "received" for a whole interval (handed back by `edigate
 *      store requeue`, or left by a full worker queue) (inbound_submit);
 *      whichever node claims it first runs it, and the pipeline stores
 *      nothing twice (inbound.h IDEMPOTENCE).
 *
 * INVARIANTS
 *   A lease only runs out when its owner did not renew it for a whole
 *   lease: the lease must be longer than the interval (checked), and
 *   several times longer so that one slow sweep or a short store outage
 *   does not hand away a live node's work.
 *
 * NEVER
 *   Releases a message whose lease still runs, touches outbound messages,
 *   or blocks the loop thread on the store.
 */
#ifndef EDIGATE_RECOVER_H
#define EDIGATE_RECOVER_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct daemon;
struct inbound;
struct store;
struct store_error;

#define RECOVER_INTERVAL_DEFAULT_US (30LL * 1000000)
#define RECOVER_BATCH 256          /* messages released per sweep */

struct recover_options {
	int64_t interval_us;   /* 0: no sweep */
	int64_t lease_us;
};

/*
 * Reads [recovery] (keys interval and lease, durations as
 * inbound_parse_window reads them; interval may be "off"). Defaults
 * RECOVER_INTERVAL_DEFAULT_US and INBOUND_CLAIM_LEASE_DEFAULT_US. 0, or
 * -1 with "file:line: message" in err.
 */
int recover_configure(const struct config *cfg, struct recover_options *o,
    char *err, size_t errsize);

/*
 * One sweep on st, for tests: renews the claims of owner (NULL: none),
 * then releases up to limit messages whose lease ended before now_us,
 * then (idle_before_us > 0) adds inbound "received" messages created
 * before idle_before_us. The ids to submit go to ids (room for limit),
 * their number to *n. *renewed (may be NULL) gets the number of claims
 * renewed. Store status codes.
 */
int recover_sweep(struct store *st, const char *owner, int64_t lease_us,
    int64_t now_us, int64_t idle_before_us, unsigned limit, int64_t *ids,
    size_t *n, int64_t *renewed, struct store_error *err);

/*
 * Reads [recovery], gives in its lease (inbound_set_claim_lease) and
 * starts the sweep timer on d's loop. Call before the first
 * inbound_submit(). NULL with a message in err on failure. On SIGHUP
 * [recovery] is read again (a wrong value keeps the running one): the
 * interval and the lease change, "off" stops the sweep; the first sweep
 * opens the store connection, on a worker.
 */
struct recover *recover_start(struct daemon *d, struct inbound *in,
    char *err, size_t errsize);
/* Stops the timer: before daemon_free (the event base goes with it). */
void recover_stop(struct recover *r);
/* After daemon_free (a sweep still running uses the store). */
void recover_free(struct recover *r);

#endif
