/* See exec_order_sql.h. */
#include "exec_order_sql.h"

/* In id order: batches of several workers never wait in a cycle. The
 * group members come from an array computed once (an InitPlan) and the
 * rows from two index lookups OR'ed (the primary key and the partial index
 * on group_id), with no join for the planner to misjudge: written as a
 * UNION with a self-join on group_id, a table without statistics yet (a
 * new database, autovacuum not yet run) had the join expected to return a
 * third of the table, and the plan scanned all of orders for every batch
 * (12-23 ms for 72 orders in the chain benchmark's first seconds). */
const char exec_lock_orders_sql[] =
    "SELECT " EXEC_ORDER_COLS " FROM orders o"
    " WHERE o.order_id = ANY ($1::text[])"
    "    OR (o.group_id IS NOT NULL AND o.group_id = ANY (ARRAY("
    "        SELECT g.group_id FROM orders g"
    "         WHERE g.order_id = ANY ($1::text[]) AND g.group_id IS NOT NULL)))"
    " ORDER BY o.order_id COLLATE \"C\" FOR UPDATE OF o";
