-- 0745 buying power: the initial-margin rate of short sales per account, and
-- the price an open order's cash or margin is reserved at.
--
-- initial_margin_bps: margin a short sale needs, in basis points of its
-- notional (15000 = 150 %, as under Reg T; the sale's own proceeds cover
-- 10000 of it). NULL in an account's row means the default row's value, and
-- a NULL there means 15000.
--
-- orders.reserve_price: the price risk-management valued the order at when
-- it was approved (limit, stop or the quote's touch for market orders).
-- Open orders reserve (qty - filled_qty) x this price; rows from before
-- this migration have NULL and are valued at their limit or stop price.
ALTER TABLE risk_limits ADD COLUMN initial_margin_bps integer
    CHECK (initial_margin_bps BETWEEN 10000 AND 1000000);
UPDATE risk_limits SET initial_margin_bps = 15000 WHERE account = '*';
ALTER TABLE orders ADD COLUMN reserve_price numeric(38,8) CHECK (reserve_price > 0);

CREATE OR REPLACE VIEW risk_limits_effective AS
SELECT a.id AS account,
       COALESCE(r.max_order_qty,      d.max_order_qty)      AS max_order_qty,
       COALESCE(r.max_order_notional, d.max_order_notional) AS max_order_notional,
       COALESCE(r.max_position_qty,   d.max_position_qty)   AS max_position_qty,
       COALESCE(r.max_gross_exposure, d.max_gross_exposure) AS max_gross_exposure,
       COALESCE(r.daily_loss_limit,   d.daily_loss_limit)   AS daily_loss_limit,
       COALESCE(r.max_orders_per_sec, d.max_orders_per_sec) AS max_orders_per_sec,
       COALESCE(r.max_open_orders,    d.max_open_orders)    AS max_open_orders,
       COALESCE(r.price_collar_bps,   d.price_collar_bps)   AS price_collar_bps,
       COALESCE(r.min_qty,            d.min_qty)            AS min_qty,
       COALESCE(r.lot_size,           d.lot_size)           AS lot_size,
       COALESCE(r.reduce_only, d.reduce_only, false)        AS reduce_only,
       COALESCE(r.kill_switch, d.kill_switch, false)        AS kill_switch,
       COALESCE(d.restricted_symbols, '{}') || COALESCE(r.restricted_symbols, '{}')
                                                            AS restricted_symbols,
       COALESCE(r.initial_margin_bps, d.initial_margin_bps, 15000) AS initial_margin_bps
  FROM accounts a
  LEFT JOIN risk_limits r ON r.account = a.id
  LEFT JOIN risk_limits d ON d.account = '*';
