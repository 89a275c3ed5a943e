-- 0004: who processes an inbound message, and until when.
-- The inbound pipeline claims a "received" message by setting state
-- "processing", claim_owner (the node's id, unique per process) and
-- claim_until_us (the lease end) in one conditional UPDATE; a live node
-- pushes the lease of its own claims forward on every sweep. A message
-- still "processing" after its lease ran out belongs to a node that died
-- mid-run: the sweep of any node hands it back to "received". Rows from
-- before this migration have no lease and count as run out.
ALTER TABLE messages ADD COLUMN claim_owner TEXT;
ALTER TABLE messages ADD COLUMN claim_until_us INTEGER;
CREATE INDEX messages_claim ON messages (state, claim_until_us);
