-- 0400 trading-execution: the last tick matched per symbol, and an index for
-- day-order expiry.
--
-- Ticks travel on core NATS to N workers in a queue group, so a worker may
-- receive an older tick after another worker matched a newer one. The tick
-- handler locks the symbol's row, ignores a tick whose seq is not beyond
-- last_seq (same source), and records the new seq in the transaction that
-- matches the book: no order fills at a price the market already left. The
-- row lock also serialises matching of one symbol across workers.
CREATE TABLE exec_symbol_state (
    symbol     tb_token PRIMARY KEY,
    last_seq   bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    -- Feed that produced last_seq (tick.source): another source restarts the sequence.
    source     text NOT NULL DEFAULT '',
    last_ts    timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE exec_symbol_state IS
    'trading-execution: last matched tick per symbol (stale-tick guard across workers).';

-- Open day orders by creation time: the expiry timer scans for those
-- created before today's UTC midnight.
CREATE INDEX orders_open_day_idx ON orders (created_at)
    WHERE tif = 'day' AND status IN ('accepted', 'partially_filled');
