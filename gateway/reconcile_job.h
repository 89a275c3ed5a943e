/*
 * reconcile_job - the order-to-cash reconciliation (reconcile.h) as a
 * periodic job of edigated, beside `edigate report reconcile`.
 *
 * OWNS
 *   The [reconcile] section: interval (a duration with s, m or h; 0 turns
 *   the job off; default 1h), response_days (2), ship_days (5),
 *   invoice_days (3) and ack_hours (24), the SLAs the CLI takes as
 *   options. Every interval one run, on a worker with the job's own store
 *   connection, builds the report at the current time and publishes
 *     edigate_reconcile_orders          orders in the report
 *     edigate_reconcile_complete        chains complete
 *     edigate_reconcile_exceptions{reason}  no-response, no-shipment,
 *                                       no-invoice, no-ack
 *     edigate_reconcile_runs_total{result}  ok, failed
 *   and logs one warning per exception (partner, order number, reason,
 *   the document waited for, since when), at most
 *   RECONCILE_JOB_LOG_MAX per run, then a summary line.
 *
 * NEVER
 *   Changes the store, runs two reports at once, or blocks the event
 *   loop: a run that is still going when the timer fires is not doubled.
 */
#ifndef EDIGATE_RECONCILE_JOB_H
#define EDIGATE_RECONCILE_JOB_H

#include <stddef.h>

struct daemon;
struct config;
struct reconcile_job;

#define RECONCILE_JOB_LOG_MAX 50

/* Checks [reconcile] of cfg: 0, or -1 with "file:line: what" in err. */
int reconcile_job_check(const struct config *cfg, char *err, size_t errsize);

/*
 * Reads [reconcile], opens its store connection and arms its timer on the
 * daemon's loop (call after privileges were dropped). With interval 0 it
 * returns a job that does nothing. NULL with the reason in err.
 */
struct reconcile_job *reconcile_job_new(struct daemon *d, char *err,
    size_t errsize);
/* Stops the timer; call before the daemon's event base is freed, and
 * reconcile_job_free after the workers were drained. */
void reconcile_job_stop(struct reconcile_job *j);
void reconcile_job_free(struct reconcile_job *j);

#endif
