-- edigate store schema, version 1 (SQLite).
-- Applied by edigate at start-up or by `edigate store migrate`; the same
-- tables exist in deploy/sql/postgresql/0001_initial.sql. Times are
-- microseconds since 1970-01-01 UTC, so both backends compare them alike.

CREATE TABLE messages (
	id                  INTEGER PRIMARY KEY AUTOINCREMENT, -- ids never reused
	direction           TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
	partner             TEXT    NOT NULL,
	transport           TEXT    NOT NULL,
	message_type        TEXT    NOT NULL DEFAULT '',
	payload_hash        TEXT    NOT NULL,
	size                INTEGER NOT NULL,
	state               TEXT    NOT NULL,
	correlation_id      TEXT    NOT NULL,
	interchange_control TEXT    NOT NULL DEFAULT '',
	group_control       TEXT    NOT NULL DEFAULT '',
	set_control         TEXT    NOT NULL DEFAULT '',
	created_us          INTEGER NOT NULL,
	updated_us          INTEGER NOT NULL
);
CREATE INDEX messages_partner_created ON messages (partner, created_us);
CREATE INDEX messages_correlation ON messages (correlation_id);
CREATE INDEX messages_state ON messages (state, updated_us);
CREATE INDEX messages_payload ON messages (payload_hash);

-- The audit log. Ids are assigned by the chain (audit_head) and are
-- contiguous; hash = SHA-256(prev_hash || canonical serialization).
CREATE TABLE events (
	id             INTEGER PRIMARY KEY,
	time_us        INTEGER NOT NULL,
	message_id     INTEGER,
	correlation_id TEXT    NOT NULL,
	kind           TEXT    NOT NULL,
	detail         TEXT    NOT NULL,
	prev_hash      TEXT    NOT NULL,
	hash           TEXT    NOT NULL
);
CREATE INDEX events_time ON events (time_us);
CREATE INDEX events_message ON events (message_id);
CREATE INDEX events_correlation ON events (correlation_id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
	SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
	SELECT RAISE(ABORT, 'events are append-only');
END;

-- The end of the chain: a deleted last event is caught by comparing it.
CREATE TABLE audit_head (
	singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
	last_id   INTEGER NOT NULL,
	last_hash TEXT    NOT NULL
);
INSERT INTO audit_head VALUES
	(1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE control_numbers (
	partner    TEXT    NOT NULL,
	kind       TEXT    NOT NULL CHECK (kind IN ('interchange', 'group', 'set')),
	last_value INTEGER NOT NULL,
	PRIMARY KEY (partner, kind)
);

CREATE TABLE ack_expectations (
	id                  INTEGER PRIMARY KEY AUTOINCREMENT,
	message_id          INTEGER,
	partner             TEXT    NOT NULL,
	ack_type            TEXT    NOT NULL CHECK (ack_type IN ('997', '999', 'TA1', 'CONTRL')),
	interchange_control TEXT    NOT NULL,
	group_control       TEXT    NOT NULL DEFAULT '',
	functional_id       TEXT    NOT NULL DEFAULT '',
	set_count           INTEGER NOT NULL DEFAULT 0,
	created_us          INTEGER NOT NULL,
	deadline_us         INTEGER NOT NULL,
	state               TEXT    NOT NULL CHECK (state IN ('pending', 'accepted',
	                        'accepted-with-errors', 'partially-accepted',
	                        'rejected', 'overdue')),
	overdue_us          INTEGER,       -- kept when a late ack closes it
	acked_us            INTEGER,
	ack_message_id      INTEGER,
	ack_code            TEXT    NOT NULL DEFAULT '',
	updated_us          INTEGER NOT NULL,
	UNIQUE (partner, ack_type, interchange_control, group_control)
);
CREATE INDEX ack_expectations_open ON ack_expectations (state, deadline_us);
CREATE INDEX ack_expectations_partner ON ack_expectations (partner, created_us);

CREATE TABLE ack_set_results (
	expectation_id INTEGER NOT NULL REFERENCES ack_expectations (id),
	set_control    TEXT    NOT NULL,
	set_type       TEXT    NOT NULL DEFAULT '',
	code           TEXT    NOT NULL,
	detail         TEXT    NOT NULL DEFAULT '{}',
	PRIMARY KEY (expectation_id, set_control)
);

CREATE TABLE ack_unmatched (
	id                  INTEGER PRIMARY KEY AUTOINCREMENT,
	ack_message_id      INTEGER,
	partner             TEXT    NOT NULL,
	ack_type            TEXT    NOT NULL,
	interchange_control TEXT    NOT NULL DEFAULT '',
	group_control       TEXT    NOT NULL DEFAULT '',
	received_us         INTEGER NOT NULL,
	detail              TEXT    NOT NULL DEFAULT '{}'
);

CREATE TABLE idempotency_keys (
	scope           TEXT    NOT NULL,
	key             TEXT    NOT NULL,
	request_hash    TEXT    NOT NULL,
	created_us      INTEGER NOT NULL,
	response_status INTEGER,
	response_body   TEXT,
	completed_us    INTEGER,
	PRIMARY KEY (scope, key)
);

CREATE TABLE duplicate_keys (
	sender     TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	control    TEXT    NOT NULL,
	seen_us    INTEGER NOT NULL,
	message_id INTEGER,
	PRIMARY KEY (sender, kind, control)
);

CREATE TABLE deliveries (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	message_id      INTEGER,
	endpoint        TEXT    NOT NULL,
	idempotency_key TEXT    NOT NULL UNIQUE,
	state           TEXT    NOT NULL CHECK (state IN ('queued', 'claimed', 'delivered', 'dead')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_us INTEGER NOT NULL,
	claimed_by      TEXT    NOT NULL DEFAULT '',
	lease_until_us  INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	created_us      INTEGER NOT NULL,
	updated_us      INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_us);
