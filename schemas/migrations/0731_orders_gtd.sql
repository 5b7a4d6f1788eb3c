-- 0731 good-till-date orders: tif 'gtd' with the time the order expires.
--
-- trading-execution expires a working gtd order when the event time of a
-- tick of its symbol reaches expire_at (so a replay expires it at the right
-- point of the data), and its timer expires the ones no tick reaches, by the
-- wall clock, like day orders at the end of their day.
ALTER TABLE orders ADD COLUMN expire_at timestamptz;
ALTER TABLE orders DROP CONSTRAINT orders_tif_check;
ALTER TABLE orders ADD CONSTRAINT orders_tif_check
    CHECK (tif IN ('day', 'gtc', 'gtd', 'ioc', 'fok'));
-- NOT VALID: every stored row has expire_at NULL and a tif other than gtd.
ALTER TABLE orders ADD CONSTRAINT orders_expire_at_gtd
    CHECK ((tif = 'gtd') = (expire_at IS NOT NULL)) NOT VALID;
CREATE INDEX orders_open_gtd_idx ON orders (expire_at)
    WHERE tif = 'gtd' AND status IN ('accepted', 'partially_filled');
