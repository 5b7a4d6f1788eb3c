-- 0766 the order a backtest's signals were emitted in, and how far
-- risk-management has decided each backtest account's signals.
--
-- signals.emit_seq: assigned as signal-processing records a signal, which it
-- does in the order it then publishes them (a run's symbols are on one
-- instance, so a run's signals are numbered in the order of its file).
--
-- With several risk-management workers, two signals of one run could be
-- decided at once, or the later first, and with binding cash the run's
-- fills then depended on which worker was quicker. A backtest account's
-- signal is now decided only once every earlier signal of the account has
-- an order or a refusal (risk_signal_refusals). risk_backtest_cursors.seq
-- is the highest emit_seq of an account whose signals up to it are all
-- decided, so that the check reads only the signals after it.
ALTER TABLE signals ADD COLUMN IF NOT EXISTS emit_seq bigserial;
CREATE INDEX IF NOT EXISTS signals_account_emit_idx ON signals (account, emit_seq);

CREATE TABLE IF NOT EXISTS risk_backtest_cursors (
    account text PRIMARY KEY,
    seq     bigint NOT NULL
);
