/* Accounts' own fee models (exec_fee_models, migration 0741): stored by
 * api.exec.fees.set, looked up for every order trading-execution matches
 * and kept in a per-process cache. A model is only written while its
 * account has no order, and it is only looked up for an account's orders,
 * so a cached entry (with a model or without one) never goes stale: every
 * worker, and a restarted one, prices an account's fills with the same
 * model. */
#ifndef EXEC_FEES_H
#define EXEC_FEES_H

#include <libpq-fe.h>

#include "exec_store.h"

/* Sets rows[i].ord.own_fees / .fees from the model of rows[i].rec.account:
 * cached accounts cost nothing, the others one statement together. */
tb_status exec_fees_attach(PGconn *c, exec_row *rows, size_t n, tb_error *err) TB_WARN_UNUSED;

/* Stores m as account's model (replacing one it had) in its own statement.
 * TB_CONFLICT when the account already has orders and a different model
 * (or none): its fills are priced already. Setting the same model again
 * is accepted (a retry). m must be valid (exec_fee_model_validate). */
tb_status exec_fees_store(PGconn *c, const char *account, const exec_fee_model *m,
                          tb_error *err) TB_WARN_UNUSED;

/* The model of account: *found false when it has none. Not cached. */
tb_status exec_fees_load(PGconn *c, const char *account, exec_fee_model *m, bool *found,
                         tb_error *err) TB_WARN_UNUSED;

#endif
