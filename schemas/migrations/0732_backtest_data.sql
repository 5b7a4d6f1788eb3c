-- 0732 backtest_data: the events of a backtest whose data came with the
-- request (data.csv) or from historical-data's bars (data.bars), as the CSV
-- text market-data replays. Written with the run's rows in one transaction,
-- so any analytics instance (one started after a kill -9 too) can start or
-- restart the replay from it. A grid keeps one copy under the parent's id.
CREATE TABLE IF NOT EXISTS backtest_data (
    id     text PRIMARY KEY REFERENCES backtests (id) ON DELETE CASCADE,
    format text NOT NULL CHECK (format IN ('', 'ticks', 'closes')),
    csv    text NOT NULL
);
