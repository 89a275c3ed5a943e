-- 0002: lookups that ack reconciliation and the ack report make.
-- A 997/999 names only the group it answers (AK102 = GS06), not the
-- interchange, so reconciliation finds an expectation by partner, ack type
-- and group control number; the report lists unmatched acks by partner and
-- time.
CREATE INDEX ack_expectations_group
	ON ack_expectations (partner, ack_type, group_control);
CREATE INDEX ack_unmatched_partner ON ack_unmatched (partner, received_us);
