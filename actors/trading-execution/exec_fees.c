/* Accounts' own fee models: store and cache (exec_fees.h). */
#include "exec_fees.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgarray.h"
#include "store.h"

/* Open addressing, cleared as a whole when three quarters full: an entry
 * is cheap to load again, and live accounts plus the backtests of a while
 * stay far below this. */
#define CACHE_SLOTS 4096

typedef struct slot {
    bool used, own;
    char account[TB_TOKEN_CAP];
    exec_fee_model m;
} slot;

static slot cache[CACHE_SLOTS];
static size_t cache_used;
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

static size_t hash_of(const char *s) {
    uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return (size_t)(h % CACHE_SLOTS);
}

/* The slot of account, or the free one it would go to. Under cache_mu. */
static slot *find(const char *account) {
    size_t i = hash_of(account);
    while (cache[i].used && strcmp(cache[i].account, account) != 0) i = (i + 1) % CACHE_SLOTS;
    return &cache[i];
}

static bool cache_get(const char *account, bool *own, exec_fee_model *m) {
    pthread_mutex_lock(&cache_mu);
    slot *s = find(account);
    bool hit = s->used;
    if (hit) {
        *own = s->own;
        *m = s->m;
    }
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static void cache_put(const char *account, bool own, const exec_fee_model *m) {
    pthread_mutex_lock(&cache_mu);
    if (cache_used >= CACHE_SLOTS * 3 / 4) {
        memset(cache, 0, sizeof cache);
        cache_used = 0;
    }
    slot *s = find(account);
    if (!s->used) cache_used++;
    s->used = true;
    s->own = own;
    snprintf(s->account, sizeof s->account, "%s", account);
    s->m = own ? *m : (exec_fee_model){0};
    pthread_mutex_unlock(&cache_mu);
}

static tb_status model_of(const PGresult *r, int row, exec_fee_model *m, tb_error *err) {
    tb_status s = bus_pg_col_i64(r, row, 1, &m->fee_bps, err);
    if (s == TB_OK) s = bus_pg_col_fixed(r, row, 2, &m->fee_min, err);
    if (s == TB_OK) s = bus_pg_col_i64(r, row, 3, &m->slippage_bps, err);
    return s;
}

#define MODEL_COLS "account, fee_bps, fee_min, slippage_bps"

/* Loads the models of accounts[0..n) into own[]/ms[] and the cache (an
 * account without one is cached as such). */
static tb_status load_missing(PGconn *c, const char *const *accounts, size_t n, bool *own,
                              exec_fee_model *ms, tb_error *err) {
    bus_pgarray a = {0};
    for (size_t i = 0; i < n; i++) bus_pgarray_str(&a, accounts[i]);
    const char *p[1] = {bus_pgarray_finish(&a)};
    PGresult *r = NULL;
    tb_status s = p[0] ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        "SELECT " MODEL_COLS " FROM exec_fee_models "
                        "WHERE account = ANY ($1::text[])",
                        1, p, &r, err);
    int rows = s == TB_OK ? PQntuples(r) : 0;
    for (int k = 0; s == TB_OK && k < rows; k++) {
        exec_fee_model m = {0};
        const char *acct = PQgetvalue(r, k, 0);
        if ((s = model_of(r, k, &m, err)) != TB_OK) break;
        for (size_t i = 0; i < n; i++)
            if (strcmp(accounts[i], acct) == 0) {
                own[i] = true;
                ms[i] = m;
            }
    }
    for (size_t i = 0; s == TB_OK && i < n; i++) cache_put(accounts[i], own[i], &ms[i]);
    PQclear(r);
    bus_pgarray_close(&a);
    return s;
}

tb_status exec_fees_attach(PGconn *c, exec_row *rows, size_t n, tb_error *err) {
    const char **missing = NULL;
    size_t *which = NULL, nmissing = 0;
    for (size_t i = 0; i < n; i++) {
        exec_order *o = &rows[i].ord;
        if (cache_get(rows[i].rec.account, &o->own_fees, &o->fees)) continue;
        if (missing == NULL) {
            missing = calloc(n, sizeof *missing);
            which = calloc(n, sizeof *which);
            if (missing == NULL || which == NULL) {
                free(missing);
                free(which);
                return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
            }
        }
        size_t k = 0;
        while (k < nmissing && strcmp(missing[k], rows[i].rec.account) != 0) k++;
        if (k == nmissing) missing[nmissing++] = rows[i].rec.account;
        which[i] = k + 1; /* 0: found in the cache */
    }
    if (nmissing == 0) return TB_OK;
    bool *own = calloc(nmissing, sizeof *own);
    exec_fee_model *ms = calloc(nmissing, sizeof *ms);
    tb_status s = own && ms ? load_missing(c, missing, nmissing, own, ms, err)
                            : tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    for (size_t i = 0; s == TB_OK && i < n; i++)
        if (which[i]) {
            rows[i].ord.own_fees = own[which[i] - 1];
            rows[i].ord.fees = ms[which[i] - 1];
        }
    free(own);
    free(ms);
    free(missing);
    free(which);
    return s;
}

tb_status exec_fees_load(PGconn *c, const char *account, exec_fee_model *m, bool *found,
                         tb_error *err) {
    const char *p[1] = {account};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c, "SELECT " MODEL_COLS " FROM exec_fee_models WHERE account = $1", 1,
                              p, &r, err);
    *found = s == TB_OK && PQntuples(r) == 1;
    *m = (exec_fee_model){0};
    if (*found) s = model_of(r, 0, m, err);
    PQclear(r);
    return s;
}

tb_status exec_fees_store(PGconn *c, const char *account, const exec_fee_model *m, tb_error *err) {
    char bps[24], slip[24], min[TB_FIXED_STRLEN];
    snprintf(bps, sizeof bps, "%lld", (long long)m->fee_bps);
    snprintf(slip, sizeof slip, "%lld", (long long)m->slippage_bps);
    tb_fixed_format(m->fee_min, min);
    const char *p[4] = {account, bps, min, slip};
    PGresult *r = NULL;
    /* Only while the account has no order: once it has one, its fills are
     * (or may be) priced by the model it had. */
    tb_status s = bus_pg_exec(
        c,
        "INSERT INTO exec_fee_models (account, fee_bps, fee_min, slippage_bps) "
        "SELECT $1::text, $2::integer, $3::numeric, $4::integer "
        "WHERE NOT EXISTS (SELECT 1 FROM orders WHERE account = $1::text) "
        "ON CONFLICT (account) DO UPDATE SET fee_bps = EXCLUDED.fee_bps, "
        "fee_min = EXCLUDED.fee_min, slippage_bps = EXCLUDED.slippage_bps, created_at = now() "
        "RETURNING account",
        4, p, &r, err);
    bool stored = s == TB_OK && PQntuples(r) == 1;
    PQclear(r);
    if (s != TB_OK || stored) {
        if (stored) cache_put(account, true, m);
        return s;
    }
    exec_fee_model had;
    bool found = false;
    if ((s = exec_fees_load(c, account, &had, &found, err)) != TB_OK) return s;
    if (found && had.fee_bps == m->fee_bps && had.fee_min == m->fee_min &&
        had.slippage_bps == m->slippage_bps)
        return TB_OK; /* the same model again: a retry */
    return tb_error_set(err, TB_CONFLICT, "account",
                        "account %s has orders already: its fees and slippage are fixed", account);
}
