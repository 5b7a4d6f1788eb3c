-- 0500 position cost basis and the per-position fill journal of
-- position-management.
--
-- positions.cost_basis is the booked value of the open quantity: the sum of
-- the (rounded) notionals that opened it, minus what reductions removed;
-- signed like qty (a short has a negative cost basis). avg_cost is derived
-- from it (|cost_basis| / |qty|, rounded half-even) and kept for readers.
-- With it the accounting identity
--     cash + sum(cost_basis) = initial_cash + sum(realized_pnl) - sum(fees)
-- holds exactly, and unrealized P&L = qty * last_price - cost_basis.
--
-- The P&L of weighted average cost depends on the order of the fills, and N
-- workers may receive them in any order. position-management applies the
-- fills of a position in a canonical order, (ts_ns, fill_id) with byte-wise
-- ordering of fill_id, whatever order they arrive in: each applied_fills row
-- keeps the fill and the position state right after it in that order, so a
-- fill that arrives late is inserted into the chain and only the fills after
-- it are replayed.

ALTER TABLE positions
    ADD COLUMN cost_basis numeric(38,8) NOT NULL DEFAULT 0,
    -- Event time of the tick behind last_price: older ticks never overwrite it.
    ADD COLUMN mark_ts timestamptz;

COMMENT ON COLUMN positions.cost_basis IS
    'Booked value of the open quantity, signed like qty (position-management).';

-- Rows written before this migration carry no fill data (there are none in a
-- fresh system); position-management refuses to replay across such a row.
ALTER TABLE applied_fills
    ADD COLUMN account       tb_token,
    ADD COLUMN symbol        tb_token,
    ADD COLUMN side          text CHECK (side IN ('buy', 'sell')),
    ADD COLUMN qty           numeric(38,8) CHECK (qty > 0),
    ADD COLUMN price         numeric(38,8) CHECK (price > 0),
    ADD COLUMN fee           numeric(38,8),
    ADD COLUMN ts_ns         bigint,
    -- Position right after this fill in the canonical order.
    ADD COLUMN post_qty      numeric(38,8),
    ADD COLUMN post_cost     numeric(38,8),
    ADD COLUMN post_realized numeric(38,8);

CREATE INDEX applied_fills_position_order_idx
    ON applied_fills (account, symbol, ts_ns, fill_id COLLATE "C");
