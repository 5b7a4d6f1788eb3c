-- 0401 trading-execution: ticks waiting to be matched, in sequence order.
--
-- Ticks of one symbol reach N workers in a queue group in any order, and a
-- worker can be slow with one. Instead of matching a tick as it arrives
-- (and discarding an earlier one that shows up later), a worker records the
-- tick here and then, holding the symbol's exec_symbol_state row lock,
-- matches the recorded ticks in seq order from last_seq + 1, deleting each
-- in the transaction that matched it. A missing seq stops the run until the
-- tick after the gap has waited EXEC_REORDER_WAIT_MS (a lost tick: core NATS
-- is at most once); a timer drains runs that no later tick would. So N
-- workers match the same ordered stream exactly like one.
CREATE TABLE exec_tick_journal (
    symbol      tb_token NOT NULL,
    source      text NOT NULL DEFAULT '',
    seq         bigint NOT NULL CHECK (seq >= 0),
    bid         numeric(38,8) NOT NULL DEFAULT 0,
    ask         numeric(38,8) NOT NULL DEFAULT 0,
    last        numeric(38,8) NOT NULL DEFAULT 0,
    bid_size    numeric(38,8) NOT NULL DEFAULT 0,
    ask_size    numeric(38,8) NOT NULL DEFAULT 0,
    last_size   numeric(38,8) NOT NULL DEFAULT 0,
    ts_ns       bigint NOT NULL,          -- tick event time, exact (fills carry it)
    trace_id    text,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (symbol, source, seq)
);
COMMENT ON TABLE exec_tick_journal IS
    'trading-execution: ticks recorded but not yet matched (per-symbol reorder buffer).';
CREATE INDEX exec_tick_journal_received_idx ON exec_tick_journal (received_at);
