/* The statement of pos_chain_sql.h. */
#include "pos_chain_sql.h"

/* Each position's fills from its earliest new one on, in canonical order
 * (this transaction's inserts included). The bound is a row comparison, so
 * it is a range of applied_fills_position_order_idx: spelled as
 * "ts > x OR (ts = x AND id >= y)" the index only narrowed to the position
 * and every fill it ever had was read and filtered (72 ms a batch for a
 * position of 16,000 fills, 0.2 ms as a range). The range is a LATERAL
 * subquery behind OFFSET 0, so it runs once per position: as a plain join,
 * the generic plan the statement cache ends up with was a hash join over
 * every fill of applied_fills (105 ms a batch with 75,000 fills, growing
 * with the table). */
const char pos_chains_sql[] =
    "SELECT k.i, a.fill_id, a.side, a.qty, a.price, a.fee FROM unnest($1::text[], "
    "$2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY AS k(account, symbol, ts_ns, "
    "fill_id, i) CROSS JOIN LATERAL (SELECT a.fill_id, a.side, a.qty, a.price, a.fee, a.ts_ns, "
    "a.fill_id COLLATE \"C\" AS fid FROM applied_fills a WHERE a.account = k.account AND "
    "a.symbol = k.symbol AND (a.ts_ns, a.fill_id COLLATE \"C\") >= "
    "(k.ts_ns, k.fill_id COLLATE \"C\") OFFSET 0) a "
    "ORDER BY k.i, a.ts_ns, a.fid";
