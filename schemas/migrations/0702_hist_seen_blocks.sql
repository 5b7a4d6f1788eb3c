-- 0702 historical-data: tick duplicate guard as seen-sets, not a row per tick.
--
-- historical-data stores ticks in batches (actors/historical-data/
-- hist_batch.c, hist_store_ticks.c). A tick is identified by its symbol, its
-- feed (`source`, '' when absent), its seq and the hour of its event time;
-- market data numbers a symbol's ticks without gaps, so the ticks seen are a
-- bitmap of seqs per block of 1024: bit k (byte k / 8, least significant bit
-- first) of a row is seq block * 1024 + k. A batch locks its blocks, drops
-- the ticks whose bit is set, and writes the bits with the bars it counts,
-- in one transaction. Rows are pruned HIST_DEDUPE_RETENTION_S after their
-- last write.
CREATE TABLE hist_seen_blocks (
    symbol  tb_token NOT NULL,
    source  text NOT NULL,
    hour    bigint NOT NULL,
    block   bigint NOT NULL CHECK (block >= 0),
    bits    bytea NOT NULL DEFAULT ''::bytea CHECK (length(bits) <= 128),
    seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, source, hour, block)
);
COMMENT ON TABLE hist_seen_blocks IS
    'Ticks merged into bars by historical-data, as bitmaps of seqs (duplicate guard, pruned by age).';
COMMENT ON COLUMN hist_seen_blocks.hour IS 'floor(tick event time / 1 hour) since the epoch.';
COMMENT ON COLUMN hist_seen_blocks.bits IS 'Bit k set: seq block * 1024 + k was counted.';
-- Rows are rewritten as their block fills, so a B-tree (not BRIN) serves the
-- age-based prune.
CREATE INDEX hist_seen_blocks_seen_at_idx ON hist_seen_blocks (seen_at);

-- The per-tick guard it replaces. Its rows cannot become bits (they carry no
-- source), so a copy of a tick stored before this migration, arriving after
-- it, would count again: migrate with the tick feed quiet.
DROP TABLE hist_seen_ticks;
