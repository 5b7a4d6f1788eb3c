-- 0746 order amends (PATCH /v1/orders/{id}): an amend is an order event
-- like a fill or a cancel, with reason 'amended' and the status the order
-- keeps (or 'filled' when the quantity is lowered to the filled quantity).
-- These columns hold the order's values after the amend; NULL on every
-- other event.
ALTER TABLE order_events ADD COLUMN qty numeric(38,8) CHECK (qty > 0);
ALTER TABLE order_events ADD COLUMN limit_price numeric(38,8) CHECK (limit_price > 0);
ALTER TABLE order_events ADD COLUMN stop_price numeric(38,8) CHECK (stop_price > 0);
COMMENT ON COLUMN order_events.qty IS 'Amends (reason amended): the order quantity after it.';
