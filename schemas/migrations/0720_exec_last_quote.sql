-- 0720 trading-execution: the newest tick it received per symbol.
--
-- Orders that trade on arrival (market orders from the API, and limit
-- orders that cross) are priced from the ticks trading-execution already
-- receives, not from a request to market-data per order: each tick batch
-- keeps the newest tick of its symbols here (in the statement that records
-- the batch), and an order batch reads it in the transaction that locks the
-- symbols' exec_symbol_state rows, without a round trip of its own. A tick
-- replaces the row when it is newer: a higher seq, another source (a new
-- feed), or a seq EXEC_SEQ_RESET_GAP or more behind (the feed restarted).
CREATE TABLE exec_last_quote (
    symbol     tb_token PRIMARY KEY,
    source     text NOT NULL DEFAULT '',
    seq        bigint NOT NULL CHECK (seq >= 0),
    bid        numeric(38,8) NOT NULL DEFAULT 0,
    ask        numeric(38,8) NOT NULL DEFAULT 0,
    last       numeric(38,8) NOT NULL DEFAULT 0,
    bid_size   numeric(38,8) NOT NULL DEFAULT 0,
    ask_size   numeric(38,8) NOT NULL DEFAULT 0,
    last_size  numeric(38,8) NOT NULL DEFAULT 0,
    ts_ns      bigint NOT NULL,          -- the tick's event time (arrival fills carry it)
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE exec_last_quote IS
    'trading-execution: newest tick received per symbol (prices orders on arrival).';
