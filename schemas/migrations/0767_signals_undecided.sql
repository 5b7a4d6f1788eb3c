-- 0767 one definition of a signal nobody has decided yet: neither an order
-- (orders.signal_id) nor a recorded refusal (risk_signal_refusals, 0765).
-- risk-management waits for a backtest account's earlier undecided signals
-- before deciding the next (0766), and analytics fails a run that keeps
-- one; both read this view.
CREATE OR REPLACE VIEW signals_undecided AS
SELECT s.signal_id, s.account, s.emit_seq, s.ts
  FROM signals s
 WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.signal_id = s.signal_id)
   AND NOT EXISTS (SELECT 1 FROM risk_signal_refusals f WHERE f.signal_id = s.signal_id);
