/* PostgreSQL helpers of position-management; see pos_db.h. */
#include "pos_db.h"

#include <stdlib.h>
#include <string.h>

tb_status pos_db_begin(PGconn *c, tb_error *err) {
    return bus_pg_exec(c, "BEGIN", 0, NULL, NULL, err);
}

tb_status pos_db_commit(PGconn *c, tb_error *err) {
    return bus_pg_exec(c, "COMMIT", 0, NULL, NULL, err);
}

void pos_db_rollback(PGconn *c) {
    tb_error err = {0};
    if (bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "rollback failed: %s", err.message);
}

tb_status pos_db_fixed(const PGresult *r, int row, int col, tb_fixed *out, tb_error *err) {
    if (PQgetisnull(r, row, col)) {
        *out = 0;
        return TB_OK;
    }
    const char *v = PQgetvalue(r, row, col);
    tb_status s = tb_fixed_parse_cstr(v, out);
    if (s != TB_OK)
        return tb_error_set(err, TB_INVALID, PQfname(r, col),
                            "stored value %s is not a fixed-point amount (%s)", v,
                            tb_status_text(s));
    return TB_OK;
}

int64_t pos_db_i64(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void pos_db_text(const PGresult *r, int row, int col, char *out, size_t cap) {
    snprintf(out, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

bool pos_scope_allows(const char *accounts, const char *acct) {
    if (accounts == NULL || accounts[0] == '\0') return true;
    size_t n = strlen(acct);
    for (const char *p = accounts; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        /* Tolerate spaces around the commas ("a, b"). */
        const char *q = p;
        while (len > 0 && *q == ' ') q++, len--;
        while (len > 0 && q[len - 1] == ' ') len--;
        if (len == n && strncmp(q, acct, n) == 0) return true;
        if (end == NULL) break;
        p = end + 1;
    }
    return false;
}
