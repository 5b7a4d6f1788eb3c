/* SQL of the backtests table (schemas/migrations/0705_backtests.sql). The
 * request is kept as its catalogue JSON, so a run can be carried on by any
 * instance exactly as it was asked for. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_backtest.h"
#include "store.h"

#define COLS                                                                                       \
    "id, coalesce(parent_id, ''), owner, spec, status, phase, message, run_account, "              \
    "strategy_ids, events, total_events, runs, quiet_sig, quiet_since_ns, created_ns, "            \
    "started_ns, finished_ns"

tb_status an_bt_next_id(PGconn *c, char out[TB_TOKEN_CAP], tb_error *err) {
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c, "SELECT nextval('backtest_seq')", 0, NULL, &r, err);
    if (s != TB_OK) return s;
    snprintf(out, TB_TOKEN_CAP, "bt%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return TB_OK;
}

static tb_status spec_text(const tb_backtest *b, char **out, tb_error *err) {
    json_t *j = NULL;
    tb_status s = tb_to_json(&tb_backtest_desc, b, &j);
    if (s != TB_OK) return tb_error_set(err, s, NULL, "backtest cannot be stored as JSON");
    *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return *out ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, "out of memory");
}

tb_status an_bt_insert(PGconn *c, const an_bt_row *r, tb_error *err) {
    char *spec = NULL;
    tb_status s = spec_text(&r->spec, &spec, err);
    if (s != TB_OK) return s;
    char runs[24], created[24], total[24];
    snprintf(runs, sizeof runs, "%" PRId64, r->runs);
    snprintf(created, sizeof created, "%" PRId64, r->created_ns);
    snprintf(total, sizeof total, "%" PRId64, r->total_events);
    const char *p[] = {r->id,          r->parent_id[0] ? r->parent_id : NULL,
                       r->owner,       spec,
                       r->status,      r->phase,
                       r->run_account, r->strategy_ids,
                       runs,           created,
                       total};
    s = bus_pg_exec(c,
                    "INSERT INTO backtests (id, parent_id, owner, spec, status, phase, "
                    "run_account, strategy_ids, runs, created_ns, total_events) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    11, p, NULL, err);
    free(spec);
    return s;
}

static tb_status read_row(const PGresult *res, int i, an_bt_row *o, tb_error *err) {
    memset(o, 0, sizeof *o);
    bus_pg_col_str(res, i, 0, o->id, sizeof o->id);
    bus_pg_col_str(res, i, 1, o->parent_id, sizeof o->parent_id);
    bus_pg_col_str(res, i, 2, o->owner, sizeof o->owner);
    json_t *j = json_loads(PQgetvalue(res, i, 3), 0, NULL);
    tb_status s = j ? tb_from_json(&tb_backtest_desc, j, &o->spec, err)
                    : tb_error_set(err, TB_ERR, "spec", "backtest %s: spec is not JSON", o->id);
    json_decref(j);
    if (s != TB_OK) return s;
    bus_pg_col_str(res, i, 4, o->status, sizeof o->status);
    bus_pg_col_str(res, i, 5, o->phase, sizeof o->phase);
    bus_pg_col_str(res, i, 6, o->message, sizeof o->message);
    bus_pg_col_str(res, i, 7, o->run_account, sizeof o->run_account);
    bus_pg_col_str(res, i, 8, o->strategy_ids, sizeof o->strategy_ids);
    bus_pg_col_str(res, i, 12, o->quiet_sig, sizeof o->quiet_sig);
    int64_t *nums[] = {&o->events, &o->total_events, &o->runs};
    for (int k = 0; s == TB_OK && k < 3; k++) s = bus_pg_col_i64(res, i, 9 + k, nums[k], err);
    int64_t *times[] = {&o->quiet_since_ns, &o->created_ns, &o->started_ns, &o->finished_ns};
    for (int k = 0; s == TB_OK && k < 4; k++) s = bus_pg_col_i64(res, i, 13 + k, times[k], err);
    return s;
}

tb_status an_bt_load(PGconn *c, const char *id, bool for_update, an_bt_row *out, tb_error *err) {
    const char *p[] = {id};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c,
                              for_update ? "SELECT " COLS " FROM backtests WHERE id = $1 FOR UPDATE"
                                         : "SELECT " COLS " FROM backtests WHERE id = $1",
                              1, p, &r, err);
    if (s != TB_OK) return s;
    if (PQntuples(r) == 0)
        s = tb_error_set(err, TB_NOT_FOUND, "id", "no backtest %.64s", id);
    else
        s = read_row(r, 0, out, err);
    PQclear(r);
    return s;
}

tb_status an_bt_save(PGconn *c, const an_bt_row *r, tb_error *err) {
    char nums[7][24];
    int64_t v[7] = {r->events,     r->total_events, r->runs,      r->quiet_since_ns,
                    r->started_ns, r->finished_ns,  r->created_ns};
    for (int i = 0; i < 7; i++) snprintf(nums[i], sizeof nums[i], "%" PRId64, v[i]);
    const char *p[] = {r->id,           r->status, r->phase, r->message, r->run_account,
                       r->strategy_ids, nums[0],   nums[1],  nums[2],    r->quiet_sig,
                       nums[3],         nums[4],   nums[5]};
    return bus_pg_exec(c,
                       "UPDATE backtests SET status = $2, phase = $3, message = $4, "
                       "run_account = $5, strategy_ids = $6, events = $7, total_events = $8, "
                       "runs = $9, quiet_sig = $10, quiet_since_ns = $11, started_ns = $12, "
                       "finished_ns = $13 WHERE id = $1",
                       13, p, NULL, err);
}

tb_status an_bt_select(PGconn *c, const char *parent, const char *accounts, const char *status,
                       int64_t before, size_t limit, an_bt_row **out, size_t *n, tb_error *err) {
    *out = NULL;
    *n = 0;
    char lim[24], bef[24];
    snprintf(lim, sizeof lim, "%zu", limit);
    snprintf(bef, sizeof bef, "%" PRId64, before);
    PGresult *r = NULL;
    tb_status s;
    if (parent) {
        const char *p[] = {parent, lim};
        s = bus_pg_exec(c,
                        "SELECT " COLS " FROM backtests WHERE parent_id = $1 "
                        "ORDER BY created_ns, id LIMIT $2",
                        2, p, &r, err);
    } else {
        const char *p[] = {accounts, status, bef, lim};
        s = bus_pg_exec(c,
                        "SELECT " COLS " FROM backtests WHERE parent_id IS NULL "
                        "AND ($1 = '' OR owner = ANY (string_to_array($1, ','))) "
                        "AND ($2 = '' OR status = $2) AND ($3::bigint = 0 OR created_ns < $3) "
                        "ORDER BY created_ns DESC, id DESC LIMIT $4",
                        4, p, &r, err);
    }
    if (s != TB_OK) return s;
    size_t rows = (size_t)PQntuples(r);
    an_bt_row *items = calloc(rows ? rows : 1, sizeof *items);
    if (items == NULL) s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    for (size_t i = 0; s == TB_OK && i < rows; i++) s = read_row(r, (int)i, &items[i], err);
    PQclear(r);
    if (s != TB_OK) {
        free(items);
        return s;
    }
    *out = items;
    *n = rows;
    return TB_OK;
}

tb_status an_bt_claim_running(PGconn *c, char (*ids)[TB_TOKEN_CAP], size_t cap, size_t *n,
                              tb_error *err) {
    char lim[24];
    snprintf(lim, sizeof lim, "%zu", cap);
    const char *p[] = {lim};
    PGresult *r = NULL;
    *n = 0;
    tb_status s = bus_pg_exec(c,
                              "SELECT id FROM backtests WHERE status = 'running' "
                              "ORDER BY created_ns, id LIMIT $1 FOR UPDATE SKIP LOCKED",
                              1, p, &r, err);
    if (s != TB_OK) return s;
    for (int i = 0; i < PQntuples(r) && *n < cap; i++)
        bus_pg_col_str(r, i, 0, ids[(*n)++], TB_TOKEN_CAP);
    PQclear(r);
    return TB_OK;
}

void an_bt_to_event(const an_bt_row *r, tb_backtest *o) {
    *o = r->spec;
    snprintf(o->backtest_id, sizeof o->backtest_id, "%s", r->id);
    snprintf(o->parent_id, sizeof o->parent_id, "%s", r->parent_id);
    snprintf(o->status, sizeof o->status, "%s", r->status);
    snprintf(o->message, sizeof o->message, "%s", r->message);
    snprintf(o->run_account, sizeof o->run_account, "%s", r->run_account);
    snprintf(o->strategy_ids, sizeof o->strategy_ids, "%s", r->strategy_ids);
    o->events = (uint64_t)r->events;
    o->total_events = (uint64_t)r->total_events;
    o->runs = (uint64_t)r->runs;
    o->progress = strcmp(r->status, "done") == 0 ? 1.0
                  : r->total_events > 0          ? (double)r->events / (double)r->total_events
                                                 : 0.0;
    if (o->progress > 1) o->progress = 1;
    o->created_at = r->created_ns;
    o->started_at = r->started_ns;
    o->finished_at = r->finished_ns;
}

bool an_bt_visible(const an_bt_row *r, const char *accounts) {
    if (accounts[0] == '\0') return true;
    size_t n = strlen(r->owner);
    if (n == 0) return false;
    for (const char *p = accounts; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, r->owner, n) == 0) return true;
        p += len + (p[len] == ',');
    }
    return false;
}

tb_status an_bt_data_put(PGconn *c, const char *id, const char *format, const char *csv,
                         tb_error *err) {
    const char *p[] = {id, format, csv};
    return bus_pg_exec(c, "INSERT INTO backtest_data (id, format, csv) VALUES ($1, $2, $3)", 3, p,
                       NULL, err);
}

tb_status an_bt_data_get(PGconn *c, const an_bt_row *r, char **csv, size_t *len, tb_error *err) {
    const char *p[] = {r->id, r->parent_id};
    PGresult *res = NULL;
    *csv = NULL;
    *len = 0;
    tb_status s = bus_pg_exec(c,
                              "SELECT csv FROM backtest_data WHERE id = $1 OR id = $2 "
                              "ORDER BY id = $1 DESC LIMIT 1",
                              2, p, &res, err);
    if (s != TB_OK) return s;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return tb_error_set(err, TB_NOT_FOUND, "data", "the data of %s is not stored", r->id);
    }
    size_t n = (size_t)PQgetlength(res, 0, 0);
    *csv = malloc(n + 1);
    if (*csv == NULL) {
        PQclear(res);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    }
    memcpy(*csv, PQgetvalue(res, 0, 0), n + 1);
    *len = n;
    PQclear(res);
    return TB_OK;
}
