-- 0740 trailing stop orders: type 'trailing_stop' with its trail (an amount
-- in price units or basis points of the best price, exactly one) and an
-- optional limit offset, and the current stop kept by trading-execution.
--
-- The current stop lives in its own table, not in orders: it moves with the
-- ticks (one statement per tick batch for all the orders it moved), and an
-- orders row changes only on a transition (its updated_at is the last
-- transition's time).
ALTER TABLE orders ADD COLUMN trail_amount numeric(38,8) CHECK (trail_amount > 0);
ALTER TABLE orders ADD COLUMN trail_bps integer CHECK (trail_bps BETWEEN 1 AND 9999);
ALTER TABLE orders ADD COLUMN limit_offset numeric(38,8) CHECK (limit_offset > 0);
ALTER TABLE orders DROP CONSTRAINT orders_type_check;
ALTER TABLE orders ADD CONSTRAINT orders_type_check
    CHECK (type IN ('market', 'limit', 'stop', 'stop_limit', 'trailing_stop'));
-- NOT VALID: every stored row has no trail and another type.
ALTER TABLE orders ADD CONSTRAINT orders_trail_by_type
    CHECK (CASE WHEN type = 'trailing_stop' THEN (trail_amount IS NULL) <> (trail_bps IS NULL)
                ELSE trail_amount IS NULL AND trail_bps IS NULL AND limit_offset IS NULL END)
    NOT VALID;

CREATE TABLE order_trail_stops (
    order_id   tb_id PRIMARY KEY REFERENCES orders (order_id) ON DELETE CASCADE,
    trail_stop numeric(38,8) NOT NULL CHECK (trail_stop > 0)
);
COMMENT ON TABLE order_trail_stops IS
    'Current stop of each trailing stop order that saw a price (frozen once triggered).';
