-- 0750 order groups: OCO pairs and bracket orders.
--
-- The orders of one group share group_id (the entry's, or the first leg's,
-- order id) and each has its role: 'oco' for the two legs of an OCO pair,
-- 'entry', 'take_profit' and 'stop_loss' for a bracket. trading-execution
-- loads a group's orders together (the index below), so the fill of one leg
-- and the cancel of the other are written in one transaction.
ALTER TABLE orders ADD COLUMN group_id text;
ALTER TABLE orders ADD COLUMN group_role text
    CHECK (group_role IN ('oco', 'entry', 'take_profit', 'stop_loss'));
ALTER TABLE orders ADD CONSTRAINT orders_group_role_with_id
    CHECK ((group_id IS NULL) = (group_role IS NULL)) NOT VALID;
CREATE INDEX orders_group_idx ON orders (group_id) WHERE group_id IS NOT NULL;
