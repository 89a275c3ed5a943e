/*
 * store - the durable state of edigate, behind one interface with two
 * backends: SQLite (embedded default, one file, WAL, synchronous=FULL) and
 * PostgreSQL (libpq; several nodes may share one database).
 *
 * OWNS
 *   Messages and their states, the audit event log, per-partner control
 *   number counters, acknowledgment expectations and results, idempotency
 *   keys, duplicate-detection keys and the delivery queue. Payload bytes
 *   live in the content-addressed spool (spool.h) that the store opens
 *   beside itself; the store only holds their hash.
 *
 * INVARIANTS
 *   - Every call is one transaction: it happened entirely or not at all.
 *     When a call returns STORE_OK the change is durable (SQLite fsyncs the
 *     WAL on commit; PostgreSQL commits synchronously), unless the caller
 *     grouped calls with store_tx_begin(): then at store_tx_commit().
 *   - store_message_put() refuses a payload hash the spool does not hold,
 *     so no committed message ever points at missing bytes.
 *   - Every state change appends an event in the same transaction. Events
 *     are append-only and hash-chained: event n stores prev_hash (the hash
 *     of event n-1; 64 zeros for the first) and
 *       hash = SHA-256(prev_hash as 64 hex chars || canonical(event))
 *     where canonical(event) is the concatenation of these netstrings
 *     ("<decimal length>:<bytes>,") in this order:
 *       "edigate-event-1", id, time_us, message_id ("" when none),
 *       correlation_id, kind, detail
 *     with integers in plain decimal and detail the stored JSON text
 *     (compact, keys sorted). Appends are serialised (a row lock on
 *     PostgreSQL, the write transaction on SQLite), so concurrent writers,
 *     even on several nodes, never fork the chain, and ids are contiguous.
 *   - Control numbers never repeat for a (partner, kind), across processes
 *     and nodes: the counter row is locked and advanced in one statement.
 *   - Times are microseconds since 1970-01-01 UTC (int64_t *_us).
 *
 * THREADS
 *   A struct store is one connection: use it from one thread at a time.
 *   Open one per worker. Callbacks of the *_foreach functions run while a
 *   query is open and must not call the store.
 *
 * NEVER
 *   Calls exit() or abort(), prints, or reports success before the commit.
 *   String fields longer than their documented maximum are refused with
 *   STORE_EINVAL, never truncated.
 */
#ifndef EDIGATE_STORE_H
#define EDIGATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"

enum store_status {
	STORE_OK = 0,
	STORE_EINVAL,     /* bad argument (message says which) */
	STORE_ENOTFOUND,  /* no such row */
	STORE_ECONFLICT,  /* a concurrent or earlier change disagrees */
	STORE_EEXHAUSTED, /* a control number counter reached its maximum */
	STORE_EBACKEND,   /* the database reported an error */
	STORE_EIO,        /* spool or file system error */
	STORE_ESCHEMA,    /* schema missing, newer than this build, or altered */
	STORE_ENOSPOOL,   /* the payload is not (completely) in the spool */
	STORE_ENOMEM
};

struct store_error {
	enum store_status code;
	char message[512];
};

enum store_backend {
	STORE_BACKEND_SQLITE,
	STORE_BACKEND_POSTGRESQL
};

struct store_options {
	/* Spool directory. NULL: "<directory of the SQLite file>/spool" for
	 * SQLite; no spool for PostgreSQL (messages cannot be put then). */
	const char *spool_dir;
	/* Nonzero: do not apply pending migrations at open. */
	int no_migrate;
	/* SQLite: how long to wait for another writer. 0 means 30 s. */
	int busy_timeout_ms;
};

struct store;

/*
 * The spool directory store_open() attaches when opts (or its spool_dir)
 * is NULL, on either backend; NULL restores the defaults above. Without
 * it a PostgreSQL store has no spool and cannot put messages. edigated
 * sets it once from [store] spool_dir before any thread opens a store,
 * so every module's connection sees the same spool. Copies dir. Not
 * thread-safe: call before starting threads.
 */
int store_set_default_spool(const char *dir, struct store_error *err);

/*
 * url_or_path: "postgresql://..." or "postgres://..." (a libpq URI) selects
 * PostgreSQL; "sqlite:PATH" or any other string is a SQLite file path
 * (created with its directory when missing). opts may be NULL. Applies
 * pending migrations unless opts->no_migrate. Allocates; store_close frees.
 */
int store_open(struct store **out, const char *url_or_path,
               const struct store_options *opts, struct store_error *err);
void store_close(struct store *st);
enum store_backend store_backend(const struct store *st);
const char *store_backend_name(const struct store *st);
/* The spool opened with the store, or NULL. */
struct spool *store_spool(struct store *st);

/*
 * Group commit (see spool.h). With deferred durability on, this
 * connection's commits stay atomic and in order but need not be on disk
 * when store_tx_commit() returns (SQLite: synchronous=NORMAL in WAL
 * mode). store_sync() then makes every commit made before it started
 * durable, with the spool's payloads: one sync for all the connections
 * and threads that committed meanwhile. PostgreSQL commits are durable by
 * themselves; there store_sync() syncs the spool only. Whoever
 * acknowledges on such a connection must store_sync() first.
 */
int store_set_deferred_durability(struct store *st, int on,
                                  struct store_error *err);
int store_sync(struct store *st, struct store_error *err);

int64_t store_now_us(void);
/* Lowercase hex SHA-256 of a buffer (request hashes, test helpers). */
void store_sha256_hex(const void *buf, size_t len, char out[SPOOL_HASH_HEX + 1]);

/* ---- transactions ---------------------------------------------------- */

/*
 * Groups several calls into one atomic step, e.g. recording a received
 * message and its duplicate key together so a crash between them cannot
 * let a resend be processed twice. Inside, each call runs in a savepoint:
 * a call that fails undoes only itself. Nothing is durable until
 * store_tx_commit() returns STORE_OK. Keep these short: an event appended
 * inside holds the audit chain's lock (all writers wait) until the end.
 */
int store_tx_begin(struct store *st, struct store_error *err);
int store_tx_commit(struct store *st, struct store_error *err);
void store_tx_rollback(struct store *st);

/* ---- schema ---------------------------------------------------------- */

/* Applies every migration newer than the database's version, each in its
 * own transaction, under a lock so concurrent starters do not race.
 * Running it again applies nothing. *applied may be NULL. */
int store_migrate(struct store *st, int *applied, struct store_error *err);

struct store_info {
	const char *backend;       /* "sqlite" or "postgresql" */
	int schema_version;        /* 0 when no migration was applied */
	int schema_latest;         /* what this build carries */
	int64_t messages;
	int64_t events;
	int64_t audit_last_id;
	int64_t deliveries_queued;
	int64_t deliveries_dead;
	int64_t acks_pending;
	int64_t acks_overdue;
};
int store_info(struct store *st, struct store_info *info, struct store_error *err);

/* ---- messages ---------------------------------------------------------- */

#define STORE_PARTNER_MAX 64
#define STORE_NAME_MAX 32      /* transport, message type, state, kinds */
#define STORE_CORRELATION_MAX 64
#define STORE_CONTROL_TEXT_MAX 32
#define STORE_KIND_MAX 64      /* event kinds */

enum store_direction {
	STORE_IN,
	STORE_OUT
};

struct store_message {
	int64_t id;
	enum store_direction direction;
	char partner[STORE_PARTNER_MAX + 1];
	char transport[STORE_NAME_MAX + 1];    /* "as2", "sftp", "api", "cli" */
	char message_type[STORE_NAME_MAX + 1]; /* "850", "ORDERS", "order" */
	char payload_hash[SPOOL_HASH_HEX + 1];
	int64_t size;
	char state[STORE_NAME_MAX + 1];        /* [a-z0-9_-]+ */
	char correlation_id[STORE_CORRELATION_MAX + 1];
	char interchange_control[STORE_CONTROL_TEXT_MAX + 1];
	char group_control[STORE_CONTROL_TEXT_MAX + 1];
	char set_control[STORE_CONTROL_TEXT_MAX + 1];
	int64_t created_us;
	int64_t updated_us;
};

/*
 * Records a message whose payload is already committed to the spool
 * (spool_writer_commit). Checks the spool holds payload_hash with exactly
 * m->size bytes. An empty state means "stored"; an empty correlation id
 * gets a fresh one. Fills m->id, timestamps and those defaults. Appends
 * event "message.stored"; detail_json (an object or NULL) is merged into
 * its detail.
 */
int store_message_put(struct store *st, struct store_message *m,
                      const char *detail_json, struct store_error *err);
int store_message_get(struct store *st, int64_t id, struct store_message *out,
                      struct store_error *err);
/*
 * Moves a message to new_state and appends event "message.state" with
 * {"from","to"} plus detail_json's keys. When expected_state is not NULL
 * and the message is in another state, nothing changes: STORE_ECONFLICT.
 */
int store_message_set_state(struct store *st, int64_t id,
                            const char *expected_state, const char *new_state,
                            const char *detail_json, struct store_error *err);

/*
 * Processing claims (inbound.h, docs/cluster.md). An inbound message is
 * worked on by one node at a time: store_message_claim() moves it from
 * "received" to "processing" and records owner (a node id unique per
 * process) and the lease end now + lease_us, in one conditional UPDATE,
 * so of two nodes claiming at once exactly one wins; the other gets
 * STORE_ECONFLICT. Appends "message.state" with {"from","to","owner"}.
 */
int store_message_claim(struct store *st, int64_t id, const char *owner,
                        int64_t lease_us, struct store_error *err);
/* A live node pushes the lease of every message it still processes to
 * now + lease_us; *count (may be NULL) gets how many. No events. */
int store_message_renew_claims(struct store *st, const char *owner,
                               int64_t lease_us, int64_t *count,
                               struct store_error *err);
/*
 * Hands a "processing" message whose lease ended before before_us (or
 * that has none) back to "received", clears the claim and appends
 * "message.state" with {"from","to","owner"} plus detail_json's keys.
 * before_us = INT64_MAX takes it whatever the lease (the operator's
 * "store requeue --force"). Not processing, or the lease still runs, or
 * (PostgreSQL) another node holds the row right now: STORE_ECONFLICT.
 */
int store_message_release_claim(struct store *st, int64_t id,
                                int64_t before_us, const char *detail_json,
                                struct store_error *err);
/* Up to limit (at least 1; ids has room for it) ids of inbound
 * "processing" messages whose lease ended before before_us, ascending;
 * for the sweep, which then releases each with
 * store_message_release_claim(). */
int store_message_stale_claims(struct store *st, int64_t before_us,
                               unsigned limit, int64_t *ids, size_t *n,
                               struct store_error *err);
/* The claim of one message: owner "" and until 0 when there is none. */
int store_message_claim_get(struct store *st, int64_t id, char *owner,
                            size_t ownersize, int64_t *until_us,
                            struct store_error *err);

struct store_message_filter {
	const char *partner;  /* NULL: any */
	const char *state;    /* NULL: any */
	int64_t since_us;     /* created_us >= since_us */
	int64_t until_us;     /* created_us < until_us; 0: no bound */
	int64_t after_id;     /* id > after_id, for paging */
	unsigned limit;       /* 0: no limit */
};
typedef int (*store_message_cb)(void *ud, const struct store_message *m);
/* Ascending id. A nonzero return from cb stops and is returned. */
int store_message_list(struct store *st, const struct store_message_filter *f,
                       store_message_cb cb, void *ud, struct store_error *err);

/* ---- events and audit ------------------------------------------------- */

struct store_event {
	int64_t id;
	int64_t time_us;
	int64_t message_id; /* 0: none */
	char correlation_id[STORE_CORRELATION_MAX + 1];
	char kind[STORE_KIND_MAX + 1];
	const char *detail; /* JSON text, valid during the callback */
	char prev_hash[SPOOL_HASH_HEX + 1];
	char hash[SPOOL_HASH_HEX + 1];
};

/* Appends an event outside any other change (operator notes, job runs).
 * detail_json must be a JSON object or NULL ({}); it is stored compact
 * with sorted keys. */
int store_event_append(struct store *st, int64_t message_id,
                       const char *correlation_id, const char *kind,
                       const char *detail_json, int64_t *id_out,
                       struct store_error *err);

struct store_event_filter {
	int64_t since_us;          /* time_us >= since_us */
	int64_t until_us;          /* time_us < until_us; 0: no bound */
	int64_t message_id;        /* 0: any */
	const char *correlation_id; /* NULL: any */
};
typedef int (*store_event_cb)(void *ud, const struct store_event *ev);
/* Ascending id (chain order). A nonzero return from cb stops and is
 * returned. Memory stays flat whatever the number of events. */
int store_event_foreach(struct store *st, const struct store_event_filter *f,
                        store_event_cb cb, void *ud, struct store_error *err);

/* The chain hash of an event given its prev_hash (see INVARIANTS). */
void store_event_hash(const struct store_event *ev, const char *prev_hash,
                      char out[SPOOL_HASH_HEX + 1]);

struct store_audit_result {
	int intact;              /* 1: every link holds */
	int64_t events_checked;
	int64_t broken_id;       /* first broken link (event id), 0 when intact */
	char problem[512];       /* what differs, for a person */
};
/* Walks the whole chain in id order. A broken chain is STORE_OK with
 * intact == 0; an error return means the walk itself failed. */
int store_audit_verify(struct store *st, struct store_audit_result *res,
                       struct store_error *err);

/* ---- control numbers --------------------------------------------------- */

enum store_control_kind {
	STORE_CONTROL_INTERCHANGE, /* ISA13, UNB0020 */
	STORE_CONTROL_GROUP,       /* GS06, UNG0048 */
	STORE_CONTROL_SET          /* ST02, UNH0062 */
};
/* Nine digits fit ISA13 and GS06 (X12 N0 1/9) and every EDIFACT field. */
#define STORE_CONTROL_MAX 999999999LL

/* Takes count consecutive numbers; *first receives the first of them.
 * A counter starts at 1. Past STORE_CONTROL_MAX: STORE_EEXHAUSTED and
 * nothing taken (a number must never repeat, so there is no wrap). */
int store_control_take(struct store *st, const char *partner,
                       enum store_control_kind kind, unsigned count,
                       int64_t *first, struct store_error *err);
int store_control_next(struct store *st, const char *partner,
                       enum store_control_kind kind, int64_t *value,
                       struct store_error *err);
/* Raises the counter so the next number is above last_used (when moving
 * from another system). Never lowers it. */
int store_control_seed(struct store *st, const char *partner,
                       enum store_control_kind kind, int64_t last_used,
                       struct store_error *err);

/* ---- acknowledgment expectations and results ------------------------ */

enum store_ack_state {
	STORE_ACK_PENDING,
	STORE_ACK_ACCEPTED,
	STORE_ACK_ACCEPTED_WITH_ERRORS,
	STORE_ACK_PARTIALLY_ACCEPTED,
	STORE_ACK_REJECTED,
	STORE_ACK_OVERDUE
};
/* "pending", "accepted", "accepted-with-errors", "partially-accepted",
 * "rejected", "overdue". */
const char *store_ack_state_name(enum store_ack_state s);
int store_ack_state_parse(const char *name, enum store_ack_state *out);

struct store_ack_expectation {
	int64_t id;
	int64_t message_id;                 /* the outbound message, 0: none */
	char partner[STORE_PARTNER_MAX + 1];
	char ack_type[8];                   /* "997", "999", "TA1", "CONTRL" */
	char interchange_control[STORE_CONTROL_TEXT_MAX + 1];
	char group_control[STORE_CONTROL_TEXT_MAX + 1]; /* "" for TA1, or
	                                     the UNH0062 for a CONTRL per message */
	char functional_id[8];              /* GS01 "PO", "SH", or "" */
	int64_t set_count;
	int64_t created_us;
	int64_t deadline_us;                /* SLA */
	enum store_ack_state state;
	int64_t overdue_us;                 /* 0: never overdue */
	int64_t acked_us;                   /* 0: no ack yet */
	int64_t ack_message_id;             /* the inbound ack, 0: none */
	char ack_code[8];                   /* AK901 / IK901 / UCI0083 ... */
	int64_t updated_us;
};

struct store_ack_set_result {
	char set_control[STORE_CONTROL_TEXT_MAX + 1]; /* ST02 / UNH0062 */
	char set_type[8];                             /* "856", "DESADV" */
	char code[4];                                 /* AK501 / IK501 / UCM0083 */
	const char *detail_json;                      /* object or NULL */
};

/* Records an expectation: in: message_id, partner, ack_type, controls,
 * functional_id, set_count, deadline_us, and created_us (when the
 * interchange was sent; 0: now); out: id, created_us (when 0), state.
 * Appends "ack.expected". The same (partner, ack_type, interchange, group)
 * twice: STORE_ECONFLICT. */
int store_ack_expect(struct store *st, struct store_ack_expectation *e,
                     struct store_error *err);
int store_ack_get(struct store *st, int64_t id, struct store_ack_expectation *out,
                  struct store_error *err);
int store_ack_find(struct store *st, const char *partner, const char *ack_type,
                   const char *interchange_control, const char *group_control,
                   struct store_ack_expectation *out, struct store_error *err);
/*
 * A 997/999 names the group it answers (AK102 = GS06) but not the
 * interchange, so reconciliation looks expectations up by group control
 * number alone. Group numbers come from a counter that never repeats per
 * partner, yet an imported history may hold the same number twice: the
 * open expectation wins, then the newest. Nothing: STORE_ENOTFOUND.
 */
int store_ack_find_group(struct store *st, const char *partner,
                         const char *ack_type, const char *group_control,
                         struct store_ack_expectation *out,
                         struct store_error *err);
/*
 * Closes an open (pending or overdue) expectation with the ack's result
 * and its set-level results. state must be accepted, accepted-with-errors,
 * partially-accepted or rejected. overdue_us is kept, so a late ack still
 * shows it was late. Appends "ack.resolved". An expectation that is
 * already closed: STORE_ECONFLICT (record the ack as unmatched).
 */
int store_ack_resolve(struct store *st, int64_t expectation_id,
                      enum store_ack_state state, const char *ack_code,
                      int64_t ack_message_id, int64_t acked_us,
                      const struct store_ack_set_result *sets, size_t nsets,
                      struct store_error *err);
/* Marks every pending expectation whose deadline is before now_us as
 * overdue, with one "ack.overdue" event each. */
int store_ack_mark_overdue(struct store *st, int64_t now_us, unsigned *count,
                           struct store_error *err);
/* Records an inbound ack that matches no expectation ("ack.unmatched"). */
int store_ack_unmatched(struct store *st, int64_t ack_message_id,
                        const char *partner, const char *ack_type,
                        const char *interchange_control,
                        const char *group_control, int64_t received_us,
                        const char *detail_json, int64_t *id_out,
                        struct store_error *err);

struct store_ack_filter {
	const char *partner; /* NULL: any */
	int64_t since_us;    /* created_us >= since_us */
	int64_t until_us;    /* created_us < until_us; 0: no bound */
};
typedef int (*store_ack_cb)(void *ud, const struct store_ack_expectation *e);
typedef int (*store_ack_set_cb)(void *ud, const struct store_ack_set_result *r);
int store_ack_foreach(struct store *st, const struct store_ack_filter *f,
                      store_ack_cb cb, void *ud, struct store_error *err);
int store_ack_sets_foreach(struct store *st, int64_t expectation_id,
                           store_ack_set_cb cb, void *ud,
                           struct store_error *err);

/* An inbound ack recorded by store_ack_unmatched(). */
struct store_ack_unmatched_row {
	int64_t id;
	int64_t ack_message_id;             /* 0: none */
	char partner[STORE_PARTNER_MAX + 1];
	char ack_type[8];
	char interchange_control[STORE_CONTROL_TEXT_MAX + 1];
	char group_control[STORE_CONTROL_TEXT_MAX + 1];
	int64_t received_us;
	const char *detail_json;            /* valid during the callback */
};
typedef int (*store_ack_unmatched_cb)(void *ud,
                                      const struct store_ack_unmatched_row *u);
/* Ascending id; the filter's times bound received_us. */
int store_ack_unmatched_foreach(struct store *st, const struct store_ack_filter *f,
                                store_ack_unmatched_cb cb, void *ud,
                                struct store_error *err);

/* ---- idempotency keys ------------------------------------------------- */

enum store_idem_outcome {
	STORE_IDEM_NEW,         /* key recorded now: do the work, then finish */
	STORE_IDEM_REPLAY,      /* same request done before: answer is in status and body */
	STORE_IDEM_IN_PROGRESS, /* same request, first one not finished yet */
	STORE_IDEM_CONFLICT     /* the key was used with another request body */
};

#define STORE_IDEM_KEY_MAX 255

/*
 * scope separates clients ("api:erp"); request_hash is the hex SHA-256 of
 * the request body. On STORE_IDEM_REPLAY *status and *body (malloc'd,
 * caller frees) hold the stored answer; otherwise *body is NULL.
 */
int store_idempotency_begin(struct store *st, const char *scope, const char *key,
                            const char *request_hash,
                            enum store_idem_outcome *outcome, int *status,
                            char **body, struct store_error *err);
/* Stores the answer to give every later repetition. */
int store_idempotency_finish(struct store *st, const char *scope, const char *key,
                             int status, const char *body,
                             struct store_error *err);

/* ---- duplicate detection ---------------------------------------------- */

/*
 * kind names the number: "isa13", "gs06", "unb0020", "as2-message-id".
 * Records (sender, kind, control) as seen now by message_id, unless it was
 * already seen within window_us before now_us (window_us <= 0: ever):
 * then *duplicate = 1 and first_* describe the earlier sighting, and the
 * record is left unchanged. Atomic across processes and nodes.
 */
int store_duplicate_check(struct store *st, const char *sender, const char *kind,
                          const char *control, int64_t now_us, int64_t window_us,
                          int64_t message_id, int *duplicate,
                          int64_t *first_message_id, int64_t *first_seen_us,
                          struct store_error *err);

/* ---- delivery queue --------------------------------------------------- */

enum store_delivery_state {
	STORE_DELIVERY_QUEUED,
	STORE_DELIVERY_CLAIMED,
	STORE_DELIVERY_DELIVERED,
	STORE_DELIVERY_DEAD
};
const char *store_delivery_state_name(enum store_delivery_state s);

#define STORE_ENDPOINT_MAX 255

struct store_delivery {
	int64_t id;
	int64_t message_id;
	char endpoint[STORE_ENDPOINT_MAX + 1];
	char idempotency_key[STORE_IDEM_KEY_MAX + 1];
	enum store_delivery_state state;
	int attempts;          /* claims so far, including expired leases */
	int64_t next_attempt_us;
	char claimed_by[STORE_PARTNER_MAX + 1];
	int64_t lease_until_us;
	char last_error[256];
	int64_t created_us;
	int64_t updated_us;
};

/* Queues a delivery due at not_before_us. The idempotency key is unique:
 * enqueuing it again returns the existing id with *existed = 1. */
int store_delivery_enqueue(struct store *st, int64_t message_id,
                           const char *endpoint, const char *idempotency_key,
                           int64_t not_before_us, int64_t *id_out, int *existed,
                           struct store_error *err);
/*
 * The same, kept in order per business key: while an earlier delivery
 * (lower id) with the same non-empty order_key is queued or claimed, this
 * one is not claimed. A delivered or dead earlier delivery no longer holds
 * it back, so a dead letter never blocks its key for good (its replay then
 * comes after what went on without it). NULL or "": unordered.
 */
#define STORE_ORDER_KEY_MAX 512
int store_delivery_enqueue_ordered(struct store *st, int64_t message_id,
                                   const char *endpoint,
                                   const char *idempotency_key,
                                   const char *order_key, int64_t not_before_us,
                                   int64_t *id_out, int *existed,
                                   struct store_error *err);
/*
 * Claims the oldest due delivery (queued and due, or claimed with an
 * expired lease, i.e. its worker died) for worker until now_us + lease_us
 * and counts an attempt. PostgreSQL uses FOR UPDATE SKIP LOCKED, so
 * several nodes claim different rows without waiting on each other.
 * Nothing due: STORE_ENOTFOUND.
 */
int store_delivery_claim(struct store *st, const char *worker, int64_t now_us,
                         int64_t lease_us, struct store_delivery *out,
                         struct store_error *err);
/* The same, among deliveries whose endpoint starts with endpoint_prefix
 * ("webhook:"), so each sender claims only its own kind and never holds
 * up another's. */
int store_delivery_claim_prefix(struct store *st, const char *worker,
                                const char *endpoint_prefix, int64_t now_us,
                                int64_t lease_us, struct store_delivery *out,
                                struct store_error *err);
/* Success. worker must still hold the claim, else STORE_ECONFLICT. */
int store_delivery_done(struct store *st, int64_t id, const char *worker,
                        struct store_error *err);
/* Failure: back to the queue at next_attempt_us, or dead once attempts
 * reached max_attempts (*dead = 1). worker must still hold the claim. */
int store_delivery_fail(struct store *st, int64_t id, const char *worker,
                        const char *error, int64_t next_attempt_us,
                        int max_attempts, int *dead, struct store_error *err);
/* A dead (or delivered) delivery goes back to the queue with its attempts
 * reset, due at now_us; the idempotency key is kept so the receiver can
 * drop a repeat. */
int store_delivery_replay(struct store *st, int64_t id, int64_t now_us,
                          struct store_error *err);
int store_delivery_get(struct store *st, int64_t id, struct store_delivery *out,
                       struct store_error *err);

#endif
