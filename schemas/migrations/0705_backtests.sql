-- 0705 backtests: runs started over REST (POST /v1/backtests), owned by
-- analytics.
--
-- A run replays its data under its own symbols (bt<N>-<SYM>) into an account
-- of its own (bt<N>), so nothing of it meets live trading; this table holds
-- what it was asked to do and how far it got, so any analytics instance can
-- answer for it and carry it on after a restart. A grid run is a parent row
-- whose children are the combinations. Times are nanoseconds since the epoch.
CREATE SEQUENCE IF NOT EXISTS backtest_seq;

CREATE TABLE IF NOT EXISTS backtests (
    id             text PRIMARY KEY,
    parent_id      text REFERENCES backtests (id),
    owner          text NOT NULL DEFAULT '',
    spec           text NOT NULL,
    status         text NOT NULL CHECK (status IN ('running', 'done', 'failed', 'canceled')),
    phase          text NOT NULL CHECK (phase IN ('start', 'replay', 'settle', 'grid', 'end')),
    message        text NOT NULL DEFAULT '',
    run_account    text NOT NULL DEFAULT '',
    strategy_ids   text NOT NULL DEFAULT '',
    events         bigint NOT NULL DEFAULT 0,
    total_events   bigint NOT NULL DEFAULT 0,
    runs           integer NOT NULL DEFAULT 0,
    quiet_sig      text NOT NULL DEFAULT '',
    quiet_since_ns bigint NOT NULL DEFAULT 0,
    created_ns     bigint NOT NULL,
    started_ns     bigint NOT NULL DEFAULT 0,
    finished_ns    bigint NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS backtests_owner ON backtests (owner, created_ns DESC);
CREATE INDEX IF NOT EXISTS backtests_parent ON backtests (parent_id);
CREATE INDEX IF NOT EXISTS backtests_running ON backtests (created_ns) WHERE status = 'running';
