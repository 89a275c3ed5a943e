-- 0003: deliveries kept in order per business key. A delivery with an
-- order_key is not claimed while an earlier delivery (lower id) with the
-- same key is still queued or claimed; a delivered or dead one no longer
-- holds the key back. Routing writes the key as
-- "<endpoint>|<partner>|<business key>", so the order is per endpoint.
ALTER TABLE deliveries ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_order ON deliveries (order_key, id) WHERE order_key <> '';
