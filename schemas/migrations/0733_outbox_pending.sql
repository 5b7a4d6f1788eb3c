-- 0733 transactional outbox: the pending set in a table of its own.
--
-- A relay used to mark a row published by setting outbox.published_at: an
-- UPDATE that wrote a second version of the whole row (payload included)
-- and, since published_at was in the pending index's predicate, could not be
-- a HOT update, so every index got a new entry too. The pending index kept
-- the dead entries of every published row until a VACUUM, which comes rarely
-- on a table that keeps a day of events, and every relay round walked past
-- them from the oldest on (0.9 ms a round on a 1.4 GB outbox, a quarter of
-- the order path's statement time).
--
-- Now an outbox row is written once and kept a day, the record of what was
-- announced; outbox_pending names the rows the stream has not acknowledged
-- yet. A relay claims pending rows (FOR UPDATE SKIP LOCKED), publishes them
-- and deletes their pending rows: that table stays as small as the backlog.
CREATE TABLE outbox_pending (
    producer   text NOT NULL,
    id         bigint NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    last_error text,
    PRIMARY KEY (producer, id)
);
COMMENT ON TABLE outbox_pending IS
    'Outbox rows not yet acknowledged by the stream (deleted by the relay once they are).';
INSERT INTO outbox_pending (producer, id, attempts, last_error)
    SELECT producer, id, attempts, last_error FROM outbox WHERE published_at IS NULL;
DROP INDEX outbox_pending_idx;
ALTER TABLE outbox DROP COLUMN published_at, DROP COLUMN attempts, DROP COLUMN last_error;
COMMENT ON TABLE outbox IS
    'Events announced through the transactional outbox, kept a day (outbox_pending: not yet acknowledged).';
-- The daily cleanup finds rows by age; rows arrive in created_at order.
CREATE INDEX outbox_created_brin ON outbox USING brin (created_at);
