-- 0700 historical-data: order-independent bar aggregation and tick dedupe.
--
-- historical-data merges every tick into its bars with one upsert per bar
-- (actors/historical-data/hist_store.c). For the merge to give the same bar
-- whatever order N workers see the ticks in, a bar remembers the sequence
-- numbers its open and close came from: open is the price of the lowest tick
-- seq seen, close the price of the highest. Imported bars carry 0 in both
-- (before any live tick).
ALTER TABLE bars
    ADD COLUMN first_seq bigint NOT NULL DEFAULT 0 CHECK (first_seq >= 0),
    ADD COLUMN last_seq  bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0);
COMMENT ON COLUMN bars.first_seq IS 'Tick seq the open price came from (0: imported).';
COMMENT ON COLUMN bars.last_seq IS 'Tick seq the close price came from (0: imported).';

-- Ticks already merged into bars. A tick is identified by symbol, seq and
-- event time (a replay that restarts seq at 1 with other timestamps is new
-- data; the same tick delivered twice is not). The row is inserted in the
-- statement that merges the tick, so a duplicate changes no volume or count.
-- Rows are pruned after HIST_DEDUPE_RETENTION_S by seen_at.
CREATE TABLE hist_seen_ticks (
    symbol  tb_token NOT NULL,
    seq     bigint NOT NULL,
    ts_ns   bigint NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, seq, ts_ns)
);
COMMENT ON TABLE hist_seen_ticks IS
    'Ticks merged into bars by historical-data (duplicate guard, pruned by age).';
-- Append-only by time: a BRIN index serves the age-based prune cheaply.
CREATE INDEX hist_seen_ticks_seen_at_idx ON hist_seen_ticks USING brin (seen_at);
