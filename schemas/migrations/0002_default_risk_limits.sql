-- 0002 default risk limits: the row account = '*' that every account falls
-- back to (see risk_limits in 0001). Sized for paper trading; change them
-- per deployment with PUT /v1/risk/limits/* or per account.
--
-- Per-instrument rules (min_qty, lot_size) stay NULL here: symbols carries
-- them per instrument, and a NULL default means "no extra rule".
INSERT INTO risk_limits (
    account,
    max_order_qty, max_order_notional, max_position_qty, max_gross_exposure,
    daily_loss_limit, max_orders_per_sec, max_open_orders, price_collar_bps,
    min_qty, lot_size, reduce_only, kill_switch, restricted_symbols, updated_by)
VALUES (
    '*',
    1000000, 10000000, 10000000, 100000000,
    1000000, 50, 1000, 1000,
    NULL, NULL, false, false, '{}', 'migration 0002')
ON CONFLICT (account) DO NOTHING;
