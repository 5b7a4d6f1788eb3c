-- 0701 analytics: equity sample freshness and the fills analytics keeps.
--
-- analytics writes at most one equity point per account and sampling bucket
-- (equity.ts is the bucket start) with an upsert; when several events of one
-- bucket are handled by different workers in any order, the point keeps the
-- freshest valuation: valued_ns is the valuation time (ns) of the figures in
-- the row, and an upsert only replaces a row with an older one.
ALTER TABLE equity ADD COLUMN valued_ns bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN equity.valued_ns IS
    'Valuation time (ns since the epoch) of the figures; the freshest wins within a bucket.';

-- Fills as analytics saw them on fills.> (idempotent by fill_id): the input
-- of trade counts and win rates per account and strategy. No foreign keys:
-- analytics records what it is told, whatever order it arrives in.
CREATE TABLE analytics_fills (
    fill_id     tb_id PRIMARY KEY,
    account     tb_token NOT NULL,
    symbol      tb_token NOT NULL,
    side        text NOT NULL CHECK (side IN ('buy', 'sell')),
    qty         numeric(38,8) NOT NULL CHECK (qty > 0),
    price       numeric(38,8) NOT NULL CHECK (price > 0),
    fee         numeric(38,8) NOT NULL DEFAULT 0,
    strategy_id tb_token,
    ts_ns       bigint NOT NULL CHECK (ts_ns > 0),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE analytics_fills IS 'Fills recorded by analytics for trade statistics.';
-- Replayed per account in position order: symbol, time, fill id.
CREATE INDEX analytics_fills_account_idx ON analytics_fills (account, symbol, ts_ns, fill_id);
