-- 0704 the fill reference of a signal.
--
-- A strategy's decision on a tick is published when the symbol's next tick
-- arrives, and carries that tick: a market order from the signal fills at
-- its price and time (event time, no look-ahead). Signals recorded before
-- this migration have none (NULL).
ALTER TABLE signals ADD COLUMN IF NOT EXISTS fill_price numeric;
ALTER TABLE signals ADD COLUMN IF NOT EXISTS fill_ts timestamptz;
ALTER TABLE signals ADD COLUMN IF NOT EXISTS fill_seq bigint;
