-- 0760 backtest run accounts in risk-management, and the kill switch's reason.
--
-- risk_limits.backtest: the account is a backtest run's (analytics sets it
-- with the run's limits). A signal of such an account whose dependency
-- (market-data, position-management) does not answer within
-- RISK_DEPENDENCY_TIMEOUT_MS is asked again rather than refused, up to
-- RISK_BACKTEST_WAIT_MS: a run's fills must not depend on machine speed.
-- Only the account's own row counts (the default row's value is ignored).
--
-- risk_limits.kill_reason: the reason given when the account's kill switch
-- was engaged (NULL once released). risk-management engages it itself, with
-- the refused signal named, when a backtest signal waited longer than
-- RISK_BACKTEST_WAIT_MS; analytics then ends the run failed with it.
ALTER TABLE risk_limits ADD COLUMN backtest boolean;
ALTER TABLE risk_limits ADD COLUMN kill_reason text;

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
       COALESCE(r.initial_margin_bps, d.initial_margin_bps, 15000) AS initial_margin_bps,
       COALESCE(r.backtest, false)                          AS backtest,
       CASE WHEN r.kill_switch THEN r.kill_reason END       AS kill_reason
  FROM accounts a
  LEFT JOIN risk_limits r ON r.account = a.id
  LEFT JOIN risk_limits d ON d.account = '*';
