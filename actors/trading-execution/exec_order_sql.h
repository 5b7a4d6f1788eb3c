/* The statements that load trading-execution's order rows (exec_store.c),
 * in the domain library so a test can check their plans on the real
 * server (tests/integration/test_exec_lock_plan.c). */
#ifndef EXEC_ORDER_SQL_H
#define EXEC_ORDER_SQL_H

/* The columns of an order row, in the order exec_store.c parses them. */
#define EXEC_ORDER_COLS                                                                            \
    "o.order_id, COALESCE(o.client_order_id, ''), o.account, o.symbol, o.side, o.type, "           \
    "o.qty, COALESCE(o.limit_price, 0), COALESCE(o.stop_price, 0), o.tif, o.source, "              \
    "COALESCE(o.strategy_id, ''), o.status, o.filled_qty, COALESCE(o.avg_price, 0), "              \
    "COALESCE(o.reason, ''), (extract(epoch FROM o.created_at) * 1000000)::bigint, "               \
    "(extract(epoch FROM o.updated_at) * 1000000)::bigint, o.version, "                            \
    "o.triggered_at IS NOT NULL, (SELECT count(*) FROM fills f WHERE f.order_id = o.order_id), "   \
    "COALESCE((extract(epoch FROM o.expire_at) * 1000000)::bigint, 0), "                           \
    "COALESCE(o.trail_amount, 0), COALESCE(o.trail_bps, 0), COALESCE(o.limit_offset, 0), "         \
    "COALESCE((SELECT t.trail_stop FROM order_trail_stops t WHERE t.order_id = o.order_id), 0), "  \
    "COALESCE(o.group_id, ''), COALESCE(o.group_role, ''), "                                       \
    "CASE WHEN o.group_role IN ('take_profit', 'stop_loss') THEN COALESCE((SELECT e.filled_qty "   \
    "FROM orders e WHERE e.group_id = o.group_id AND e.group_role = 'entry'), 0) ELSE 0 END"

/* Locks and loads the orders of $1 (text[] of order ids) with the other
 * orders of their groups (a cancel cancels them), in id order. */
extern const char exec_lock_orders_sql[];

#endif
