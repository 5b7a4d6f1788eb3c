-- 0769 orders: the client order id's uniqueness indexes only the orders that
-- have one.
--
-- UNIQUE (account, client_order_id) put every order in its index, also the
-- ones without a client order id (every signal's, most API orders), which
-- never conflict (NULLs are distinct): an index entry per insert and
-- another per update (an order's updates are never HOT, its status is in
-- the open-order indexes' predicates). A partial unique index keeps the
-- same guarantee for the orders that have one; lookups by account and
-- client order id (client_order_id = $2 implies NOT NULL) use it as before.
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_client_order_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS orders_client_order_id_key
    ON orders (account, client_order_id) WHERE client_order_id IS NOT NULL;
