-- edigate store schema, version 1 (PostgreSQL).
-- Applied by edigate at start-up or by `edigate store migrate`; the same
-- tables exist in deploy/sql/sqlite/0001_initial.sql. Times are
-- microseconds since 1970-01-01 UTC, so both backends compare them alike.

CREATE TABLE messages (
	id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	direction           TEXT   NOT NULL CHECK (direction IN ('in', 'out')),
	partner             TEXT   NOT NULL,
	transport           TEXT   NOT NULL,
	message_type        TEXT   NOT NULL DEFAULT '',
	payload_hash        TEXT   NOT NULL,
	size                BIGINT NOT NULL,
	state               TEXT   NOT NULL,
	correlation_id      TEXT   NOT NULL,
	interchange_control TEXT   NOT NULL DEFAULT '',
	group_control       TEXT   NOT NULL DEFAULT '',
	set_control         TEXT   NOT NULL DEFAULT '',
	created_us          BIGINT NOT NULL,
	updated_us          BIGINT NOT NULL
);
CREATE INDEX messages_partner_created ON messages (partner, created_us);
CREATE INDEX messages_correlation ON messages (correlation_id);
CREATE INDEX messages_state ON messages (state, updated_us);
CREATE INDEX messages_payload ON messages (payload_hash);

-- The audit log. Ids are assigned by the chain (audit_head, whose row lock
-- serialises appends across nodes) and are contiguous;
-- hash = SHA-256(prev_hash || canonical serialization).
CREATE TABLE events (
	id             BIGINT PRIMARY KEY,
	time_us        BIGINT NOT NULL,
	message_id     BIGINT,
	correlation_id TEXT   NOT NULL,
	kind           TEXT   NOT NULL,
	detail         TEXT   NOT NULL,
	prev_hash      TEXT   NOT NULL,
	hash           TEXT   NOT NULL
);
CREATE INDEX events_time ON events (time_us);
CREATE INDEX events_message ON events (message_id);
CREATE INDEX events_correlation ON events (correlation_id);
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'events are append-only';
END;
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
	FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
	FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

CREATE TABLE audit_head (
	singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
	last_id   BIGINT NOT NULL,
	last_hash TEXT   NOT NULL
);
INSERT INTO audit_head VALUES
	(1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE control_numbers (
	partner    TEXT   NOT NULL,
	kind       TEXT   NOT NULL CHECK (kind IN ('interchange', 'group', 'set')),
	last_value BIGINT NOT NULL,
	PRIMARY KEY (partner, kind)
);

CREATE TABLE ack_expectations (
	id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	message_id          BIGINT,
	partner             TEXT   NOT NULL,
	ack_type            TEXT   NOT NULL CHECK (ack_type IN ('997', '999', 'TA1', 'CONTRL')),
	interchange_control TEXT   NOT NULL,
	group_control       TEXT   NOT NULL DEFAULT '',
	functional_id       TEXT   NOT NULL DEFAULT '',
	set_count           BIGINT NOT NULL DEFAULT 0,
	created_us          BIGINT NOT NULL,
	deadline_us         BIGINT NOT NULL,
	state               TEXT   NOT NULL CHECK (state IN ('pending', 'accepted',
	                        'accepted-with-errors', 'partially-accepted',
	                        'rejected', 'overdue')),
	overdue_us          BIGINT,        -- kept when a late ack closes it
	acked_us            BIGINT,
	ack_message_id      BIGINT,
	ack_code            TEXT   NOT NULL DEFAULT '',
	updated_us          BIGINT NOT NULL,
	UNIQUE (partner, ack_type, interchange_control, group_control)
);
CREATE INDEX ack_expectations_open ON ack_expectations (state, deadline_us);
CREATE INDEX ack_expectations_partner ON ack_expectations (partner, created_us);

CREATE TABLE ack_set_results (
	expectation_id BIGINT NOT NULL REFERENCES ack_expectations (id),
	set_control    TEXT   NOT NULL,
	set_type       TEXT   NOT NULL DEFAULT '',
	code           TEXT   NOT NULL,
	detail         TEXT   NOT NULL DEFAULT '{}',
	PRIMARY KEY (expectation_id, set_control)
);

CREATE TABLE ack_unmatched (
	id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	ack_message_id      BIGINT,
	partner             TEXT   NOT NULL,
	ack_type            TEXT   NOT NULL,
	interchange_control TEXT   NOT NULL DEFAULT '',
	group_control       TEXT   NOT NULL DEFAULT '',
	received_us         BIGINT NOT NULL,
	detail              TEXT   NOT NULL DEFAULT '{}'
);

CREATE TABLE idempotency_keys (
	scope           TEXT   NOT NULL,
	key             TEXT   NOT NULL,
	request_hash    TEXT   NOT NULL,
	created_us      BIGINT NOT NULL,
	response_status INTEGER,
	response_body   TEXT,
	completed_us    BIGINT,
	PRIMARY KEY (scope, key)
);

CREATE TABLE duplicate_keys (
	sender     TEXT   NOT NULL,
	kind       TEXT   NOT NULL,
	control    TEXT   NOT NULL,
	seen_us    BIGINT NOT NULL,
	message_id BIGINT,
	PRIMARY KEY (sender, kind, control)
);

CREATE TABLE deliveries (
	id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	message_id      BIGINT,
	endpoint        TEXT   NOT NULL,
	idempotency_key TEXT   NOT NULL UNIQUE,
	state           TEXT   NOT NULL CHECK (state IN ('queued', 'claimed', 'delivered', 'dead')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_us BIGINT NOT NULL,
	claimed_by      TEXT   NOT NULL DEFAULT '',
	lease_until_us  BIGINT NOT NULL DEFAULT 0,
	last_error      TEXT   NOT NULL DEFAULT '',
	created_us      BIGINT NOT NULL,
	updated_us      BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_us);
