-- 0765 the signals of backtest accounts that made no order, and why.
--
-- Signals are at most once (core NATS): a risk-management worker killed
-- with -9 loses the ones it held, and nothing would tell a run's report
-- that some of its signals were never decided. risk-management records
-- here every backtest signal it decided without an order (refused by a
-- check, already at its target, unusable), so that analytics ends a run
-- done only when every signal of the run has an order or a row here, and
-- fails it, naming the first undecided signal, when one stays undecided.
-- Live accounts' refusals are not recorded (their decisions are the
-- risk.decision events and the rejection counters).
CREATE TABLE IF NOT EXISTS risk_signal_refusals (
    signal_id  text PRIMARY KEY,
    account    text NOT NULL,
    reasons    text NOT NULL,          -- the checks' codes, or no_order, invalid_signal
    detail     text NOT NULL DEFAULT '',
    decided_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS risk_signal_refusals_account_idx ON risk_signal_refusals (account);
