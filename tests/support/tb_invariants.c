/* Exactness invariants of the order path; see tb_invariants.h.
 *
 * The sums are computed here from the raw rows, independently of the
 * services: per-fill notionals are rounded half-even with tb_fixed_mul and
 * accumulated in 128 bits, so the check itself cannot overflow or round
 * differently from one run to the next. Rows are read ordered byte-wise
 * (COLLATE "C") and merged in C. */
#include "tb_invariants.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"

typedef __int128 i128;

typedef struct group {
    char account[64], symbol[64];
    i128 qty, fees, notional; /* signed qty, fees, signed notional */
    long fills;
} group;

typedef struct report {
    char *msg;
    size_t cap, len;
    int problems;
} report;

static void add_problem(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_problem(report *r, const char *fmt, ...) {
    if (r->problems++ >= 8 || r->cap == 0) return; /* the first few say enough */
    if (r->len + 2 < r->cap && r->len > 0) {
        r->msg[r->len++] = ';';
        r->msg[r->len++] = ' ';
        r->msg[r->len] = '\0';
    }
    if (r->len + 1 >= r->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->msg + r->len, r->cap - r->len, fmt, ap);
    va_end(ap);
    if (n > 0) r->len = (size_t)n >= r->cap - r->len ? r->cap - 1 : r->len + (size_t)n;
}

/* Decimal text of a 128-bit amount in 1e-8 units. */
static const char *fmt128(i128 v, char buf[64]) {
    char digits[48];
    int n = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-v) : (unsigned __int128)v;
    do {
        digits[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u && n < 47);
    while (n <= 8) digits[n++] = '0';
    size_t k = 0;
    if (neg) buf[k++] = '-';
    for (int i = n - 1; i >= 8; i--) buf[k++] = digits[i];
    buf[k++] = '.';
    for (int i = 7; i >= 0; i--) buf[k++] = digits[i];
    buf[k] = '\0';
    return buf;
}

static bool cell_fixed(PGresult *res, int row, int col, tb_fixed *out, report *r) {
    *out = 0;
    if (PQgetisnull(res, row, col)) return true;
    if (tb_fixed_parse_cstr(PQgetvalue(res, row, col), out) == TB_OK) return true;
    add_problem(r, "%s = %s is not a fixed-point amount", PQfname(res, col),
                PQgetvalue(res, row, col));
    return false;
}

static PGresult *query(PGconn *c, const char *sql, const char *pattern, report *r) {
    const char *p[1] = {pattern};
    PGresult *res = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        add_problem(r, "query failed: %s", PQerrorMessage(c));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Fills grouped by (account, symbol), in that order. */
static group *load_groups(PGconn *c, const char *pattern, size_t *ngroups, long *nfills,
                          report *r) {
    PGresult *res = query(c,
                          "SELECT account, symbol, side, qty, price, fee FROM fills "
                          "WHERE account LIKE $1 "
                          "ORDER BY account COLLATE \"C\", symbol COLLATE \"C\"",
                          pattern, r);
    if (res == NULL) return NULL;
    int rows = PQntuples(res);
    group *g = calloc((size_t)rows + 1, sizeof *g);
    size_t n = 0;
    for (int i = 0; g && i < rows; i++) {
        const char *acct = PQgetvalue(res, i, 0), *sym = PQgetvalue(res, i, 1);
        if (n == 0 || strcmp(g[n - 1].account, acct) != 0 || strcmp(g[n - 1].symbol, sym) != 0) {
            snprintf(g[n].account, sizeof g[n].account, "%s", acct);
            snprintf(g[n].symbol, sizeof g[n].symbol, "%s", sym);
            n++;
        }
        group *cur = &g[n - 1];
        tb_fixed qty, price, fee, notional;
        if (!cell_fixed(res, i, 3, &qty, r) || !cell_fixed(res, i, 4, &price, r) ||
            !cell_fixed(res, i, 5, &fee, r))
            continue;
        if (tb_fixed_mul(qty, price, TB_ROUND_HALF_EVEN, &notional) != TB_OK) {
            add_problem(r, "fill of %s/%s: notional out of range", acct, sym);
            continue;
        }
        int sign = strcmp(PQgetvalue(res, i, 2), "buy") == 0 ? 1 : -1;
        cur->qty += sign * (i128)qty;
        cur->notional += sign * (i128)notional;
        cur->fees += fee;
        cur->fills++;
    }
    PQclear(res);
    *ngroups = n;
    *nfills = rows;
    return g;
}

bool tb_check_exactness_counts(PGconn *c, const char *pattern, char *msg, size_t cap,
                               tb_exactness_counts *counts) {
    report r = {.msg = msg, .cap = cap};
    if (cap) msg[0] = '\0';
    char a[64], b[64];
    tb_exactness_counts k = {0};

    PGresult *un = query(c,
                         "SELECT count(*) FROM fills f WHERE f.account LIKE $1 AND NOT EXISTS "
                         "(SELECT 1 FROM applied_fills a WHERE a.fill_id = f.fill_id)",
                         pattern, &r);
    if (un == NULL) return false;
    long unapplied = strtol(PQgetvalue(un, 0, 0), NULL, 10);
    PQclear(un);
    if (unapplied) add_problem(&r, "%ld fills not applied", unapplied);

    size_t ng = 0;
    group *g = load_groups(c, pattern, &ng, &k.fills, &r);
    PGresult *pos = query(c,
                          "SELECT account, symbol, qty, fees, cost_basis, realized_pnl "
                          "FROM positions WHERE account LIKE $1 "
                          "ORDER BY account COLLATE \"C\", symbol COLLATE \"C\"",
                          pattern, &r);
    PGresult *acc = query(c,
                          "SELECT id, initial_cash, cash FROM accounts WHERE id LIKE $1 "
                          "ORDER BY id COLLATE \"C\"",
                          pattern, &r);
    if (g == NULL || pos == NULL || acc == NULL) {
        if (g == NULL && r.problems == 0) add_problem(&r, "out of memory");
        free(g);
        PQclear(pos);
        PQclear(acc);
        return false;
    }
    k.positions = PQntuples(pos);
    k.accounts = PQntuples(acc);

    /* Positions against their fills: a merge of two sorted lists. */
    size_t gi = 0;
    int pi = 0, np = PQntuples(pos);
    while (gi < ng || pi < np) {
        int cmp;
        if (gi == ng)
            cmp = 1;
        else if (pi == np)
            cmp = -1;
        else {
            cmp = strcmp(g[gi].account, PQgetvalue(pos, pi, 0));
            if (cmp == 0) cmp = strcmp(g[gi].symbol, PQgetvalue(pos, pi, 1));
        }
        if (cmp < 0) { /* fills but no position */
            if (g[gi].qty != 0 || g[gi].fees != 0)
                add_problem(&r, "%s/%s: no position for %ld fills (qty %s)", g[gi].account,
                            g[gi].symbol, g[gi].fills, fmt128(g[gi].qty, a));
            gi++;
            continue;
        }
        tb_fixed qty, fees;
        bool ok = cell_fixed(pos, pi, 2, &qty, &r) && cell_fixed(pos, pi, 3, &fees, &r);
        i128 want_qty = cmp == 0 ? g[gi].qty : 0, want_fees = cmp == 0 ? g[gi].fees : 0;
        if (ok && qty != want_qty)
            add_problem(&r, "%s/%s: position qty %s != sum of fills %s", PQgetvalue(pos, pi, 0),
                        PQgetvalue(pos, pi, 1), fmt128(qty, a), fmt128(want_qty, b));
        if (ok && fees != want_fees)
            add_problem(&r, "%s/%s: position fees %s != sum of fill fees %s",
                        PQgetvalue(pos, pi, 0), PQgetvalue(pos, pi, 1), fmt128(fees, a),
                        fmt128(want_fees, b));
        if (cmp == 0) gi++;
        pi++;
    }

    /* Accounts: cash from the fills, and the cost/realized identity. */
    gi = 0;
    pi = 0;
    for (int ai = 0; ai < PQntuples(acc); ai++) {
        const char *id = PQgetvalue(acc, ai, 0);
        tb_fixed initial, cash;
        if (!cell_fixed(acc, ai, 1, &initial, &r) || !cell_fixed(acc, ai, 2, &cash, &r)) continue;
        i128 notional = 0, fees = 0;
        while (gi < ng && strcmp(g[gi].account, id) < 0) gi++;
        for (; gi < ng && strcmp(g[gi].account, id) == 0; gi++) {
            notional += g[gi].notional;
            fees += g[gi].fees;
        }
        i128 want_cash = (i128)initial - notional - fees;
        if ((i128)cash != want_cash)
            add_problem(&r, "%s: cash %s != initial - signed notionals - fees = %s", id,
                        fmt128(cash, a), fmt128(want_cash, b));
        i128 cost = 0, realized = 0, pos_fees = 0;
        while (pi < np && strcmp(PQgetvalue(pos, pi, 0), id) < 0) pi++;
        for (; pi < np && strcmp(PQgetvalue(pos, pi, 0), id) == 0; pi++) {
            tb_fixed pc, pr, pf;
            if (cell_fixed(pos, pi, 4, &pc, &r) && cell_fixed(pos, pi, 5, &pr, &r) &&
                cell_fixed(pos, pi, 3, &pf, &r)) {
                cost += pc;
                realized += pr;
                pos_fees += pf;
            }
        }
        if ((i128)cash + cost != (i128)initial + realized - pos_fees)
            add_problem(&r, "%s: cash + cost basis %s != initial + realized - fees %s", id,
                        fmt128((i128)cash + cost, a),
                        fmt128((i128)initial + realized - pos_fees, b));
    }
    free(g);
    PQclear(pos);
    PQclear(acc);
    if (counts) *counts = k;
    if (r.problems == 0 && cap)
        snprintf(msg, cap, "%ld accounts, %ld positions, %ld fills exact", k.accounts, k.positions,
                 k.fills);
    else if (r.problems > 8 && r.len + 24 < cap)
        snprintf(msg + r.len, cap - r.len, " (+%d more)", r.problems - 8);
    return r.problems == 0;
}

bool tb_check_exactness(PGconn *c, const char *pattern, char *msg, size_t cap) {
    return tb_check_exactness_counts(c, pattern, msg, cap, NULL);
}
