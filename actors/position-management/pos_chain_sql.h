/* The statement that reads each position's fills from the earliest new one
 * on (applied_fills, in canonical order), for a batch of fills
 * (pos_fill_batch.c): parameters account[], symbol[], ts_ns[], fill_id[];
 * columns key index (1-based), fill_id, side, qty, price, fee. In the
 * domain library so a test can check its plan. */
#ifndef POS_CHAIN_SQL_H
#define POS_CHAIN_SQL_H

extern const char pos_chains_sql[];

#endif
