/* Carries running backtests on: a timer on every analytics instance claims
 * the running rows no other instance holds (FOR UPDATE SKIP LOCKED) and
 * moves each one step:
 *
 *   start   asks market-data to replay the data under the run's symbols
 *           (feed bt<N>, prefix "bt<N>-"); all replay slots busy: retried
 *   replay  follows the feed's status (events = ticks published); done
 *           with a tick consumer the replay gave up on: failed; done:
 *   settle  the chain is quiet when the run's signals, orders and fills have
 *           not changed for BACKTEST_QUIET_MS, every signal made an order
 *           or was refused (risk_signal_refusals), no order of the account
 *           is open and historical-data's bars hold every tick replayed;
 *           then the run is done. A signal neither (lost by a risk-
 *           management worker killed holding it) for BACKTEST_DECIDE_MS,
 *           or longer than BACKTEST_SETTLE_MS in all: failed
 *   grid    a grid ends when every child has ended
 *
 * In replay and settle, a run whose account risk-management stopped (its
 * kill switch: a signal it could not decide within RISK_BACKTEST_WAIT_MS,
 * or an operator) fails with the switch's reason, never done without the
 * refused signals' fills.
 *
 * Everything a step needs is in the row, so a restarted or another instance
 * carries the run on where it stopped. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_backtest.h"
#include "attach.h"
#include "conn.h"
#include "store.h"
#include "timer.h"
#include "wire.h"

#define CLAIM_MAX 32

an_bt_settings an_bt;

tb_status an_bt_settings_load(tb_error *err) {
    tb_status s = bus_env_int("BACKTEST_GRID_MAX", 50, 1, 1000, &an_bt.grid_max, err);
    if (s == TB_OK) s = bus_env_int("BACKTEST_TICK_MS", 200, 10, 60000, &an_bt.tick_ms, err);
    if (s == TB_OK) s = bus_env_int("BACKTEST_QUIET_MS", 1500, 100, 600000, &an_bt.quiet_ms, err);
    if (s == TB_OK)
        s = bus_env_int("BACKTEST_SETTLE_MS", 600000, 1000, 86400000, &an_bt.settle_ms, err);
    /* Longer than risk-management's own bound (RISK_BACKTEST_WAIT_MS,
     * 120 s), whose failure names what a signal waited for. */
    if (s == TB_OK)
        s = bus_env_int("BACKTEST_DECIDE_MS", 130000, 100, 86400000, &an_bt.decide_ms, err);
    if (s == TB_OK)
        s = bus_env_int("BACKTEST_REQUEST_TIMEOUT_MS", 5000, 100, 60000, &an_bt.request_ms, err);
    /* The text travels in one NATS message (max_payload 1 MB) with the
     * request around it. */
    if (s == TB_OK) s = bus_env_int("BACKTEST_CSV_MAX", 786432, 1024, 1000000, &an_bt.csv_max, err);
    an_bt.default_cash = INT64_C(100000) * TB_FIXED_SCALE;
    return s;
}

void an_bt_usage(FILE *f) {
    fprintf(f,
            "  BACKTEST_GRID_MAX            most runs of one grid backtest (default 50)\n"
            "  BACKTEST_TICK_MS             how often running backtests are stepped (default 200)\n"
            "  BACKTEST_QUIET_MS            after its replay, a run is done when its signals,\n"
            "                               orders and fills did not change this long (1500)\n"
            "  BACKTEST_SETTLE_MS           a run not quiet this long after its replay fails\n"
            "                               (default 600000)\n"
            "  BACKTEST_DECIDE_MS           a run quiet this long with a signal neither made\n"
            "                               into an order nor refused fails (default 130000)\n"
            "  BACKTEST_REQUEST_TIMEOUT_MS  timeout of each request to another service (5000)\n"
            "  BACKTEST_CSV_MAX             largest CSV of a csv or bars backtest, bytes\n"
            "                               (1024..1000000, default 786432)\n");
}

static void finish(an_bt_row *r, const char *status, const char *msg) {
    snprintf(r->status, sizeof r->status, "%s", status);
    snprintf(r->phase, sizeof r->phase, "end");
    snprintf(r->message, sizeof r->message, "%s", msg);
    r->finished_ns = tb_now_ns();
}

/* Items of a list reply (count only), all pages up to 100,000. */
static tb_status count_list(bus_conn *c, const char *subject, tb_query *q, uint64_t *n,
                            tb_error *err) {
    *n = 0;
    q->limit = 1000;
    for (int page = 0; page < 100; page++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        tb_status s = tb_encode(&tb_query_desc, q, &sb, err);
        bus_bytes rep = {0};
        if (s == TB_OK)
            s = bus_request_bytes(c, subject, sb.data, sb.size, tb_query_desc.name,
                                  an_bt.request_ms, NULL, &rep, err);
        msgpack_sbuffer_destroy(&sb);
        if (s != TB_OK) return s;
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        uint64_t count = 0;
        char next[TB_ID_CAP] = "";
        if (msgpack_unpack_next(&up, rep.data, rep.len, &off) == MSGPACK_UNPACK_SUCCESS &&
            up.data.type == MSGPACK_OBJECT_MAP) {
            for (uint32_t i = 0; i < up.data.via.map.size; i++) {
                const msgpack_object_kv *kv = &up.data.via.map.ptr[i];
                if (kv->key.type != MSGPACK_OBJECT_STR) continue;
                const char *k = kv->key.via.str.ptr;
                size_t kl = kv->key.via.str.size;
                if (kl == 5 && memcmp(k, "items", 5) == 0 && kv->val.type == MSGPACK_OBJECT_ARRAY)
                    count = kv->val.via.array.size;
                if (kl == 4 && memcmp(k, "next", 4) == 0 && kv->val.type == MSGPACK_OBJECT_STR &&
                    kv->val.via.str.size < sizeof next) {
                    memcpy(next, kv->val.via.str.ptr, kv->val.via.str.size);
                    next[kv->val.via.str.size] = '\0';
                }
            }
        }
        msgpack_unpacked_destroy(&up);
        bus_bytes_free(&rep);
        *n += count;
        if (next[0] == '\0') return TB_OK;
        snprintf(q->cursor, sizeof q->cursor, "%s", next);
    }
    return TB_OK;
}

/* Where the chain stands on a run: its signals, its orders (all, open,
 * filled), the fills analytics recorded and its equity points. */
typedef struct chain {
    uint64_t signals, orders, open, filled, fills, points;
    uint64_t refused;   /* signals risk-management decided without an order */
    uint64_t undecided; /* signals with neither an order nor a refusal */
    char first_undecided[TB_ID_CAP];
    uint64_t bar_ticks; /* ticks of the run's symbols in historical-data's bars */
} chain;

/* Ticks of symbol that historical-data aggregated: the sum of `ticks` over
 * its 1d bars (each tick is in exactly one), all pages. Its bars lag the
 * chain when several replays run at once (a replay ends when its
 * consumers' total progress covers it, other replays' ticks included), and
 * the report's curve is made of them: a run is not done before they hold
 * every tick it replayed. */
static tb_status bar_ticks(bus_conn *c, const char *symbol, uint64_t *ticks, tb_error *err) {
    tb_query q = {.limit = 5000, .from = 1, .to = INT64_MAX / 2};
    snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
    snprintf(q.interval, sizeof q.interval, "1d");
    *ticks = 0;
    for (int page = 0; page < 1000; page++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        bus_bytes rep = {0};
        tb_status s = tb_encode(&tb_query_desc, &q, &sb, err);
        if (s == TB_OK)
            s = bus_request_bytes(c, "api.bars.query", sb.data, sb.size, tb_query_desc.name,
                                  an_bt.request_ms, NULL, &rep, err);
        msgpack_sbuffer_destroy(&sb);
        void *items = NULL;
        size_t n = 0;
        char next[TB_ID_CAP] = "";
        if (s == TB_OK) s = tb_decode_list(&tb_bar_desc, rep.data, rep.len, &items, &n, next, err);
        bus_bytes_free(&rep);
        for (size_t i = 0; s == TB_OK && i < n; i++) *ticks += ((const tb_bar *)items)[i].ticks;
        free(items);
        if (s != TB_OK) return s;
        if (next[0] == '\0' || n == 0) return TB_OK;
        snprintf(q.cursor, sizeof q.cursor, "%s", next);
    }
    return TB_OK;
}

static tb_status count_orders(bus_conn *c, const char *account, const char *status, uint64_t *n,
                              tb_error *err) {
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", account);
    snprintf(q.status, sizeof q.status, "%s", status);
    return count_list(c, "api.orders.list", &q, n, err);
}

static tb_status chain_state(bus_conn *c, PGconn *pg, const an_bt_row *r, chain *ch,
                             tb_error *err) {
    memset(ch, 0, sizeof *ch);
    tb_status s = count_orders(c, r->run_account, "", &ch->orders, err);
    if (s == TB_OK) s = count_orders(c, r->run_account, "open", &ch->open, err);
    if (s == TB_OK) s = count_orders(c, r->run_account, "filled", &ch->filled, err);
    if (s != TB_OK) return s;
    const char *p[] = {r->run_account};
    PGresult *res = NULL;
    /* The signals are read here, not through api.signals.list (a page of
     * at most SP_LIST_MAX): whether each one was decided is a question of
     * three tables, signal-processing's, risk-management's orders and its
     * refusals, which the view signals_undecided (migration 0767) answers
     * for both services. */
    s = bus_pg_exec(pg,
                    "WITH u AS (SELECT signal_id, ts FROM signals_undecided WHERE account = $1) "
                    "SELECT (SELECT count(*) FROM analytics_fills WHERE account = $1), "
                    "(SELECT count(*) FROM equity WHERE account = $1), "
                    "(SELECT count(*) FROM signals WHERE account = $1), "
                    "(SELECT count(*) FROM risk_signal_refusals WHERE account = $1), "
                    "(SELECT count(*) FROM u), "
                    "(SELECT signal_id FROM u ORDER BY ts, signal_id LIMIT 1)",
                    1, p, &res, err);
    if (s != TB_OK) return s;
    ch->fills = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    ch->points = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    ch->signals = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
    ch->refused = strtoull(PQgetvalue(res, 0, 3), NULL, 10);
    ch->undecided = strtoull(PQgetvalue(res, 0, 4), NULL, 10);
    snprintf(ch->first_undecided, sizeof ch->first_undecided, "%s", PQgetvalue(res, 0, 5));
    PQclear(res);
    /* The bars only matter once the rest is settled: no need to read them
     * on every step of a busy run. */
    an_bt_symbols syms;
    if (ch->open > 0 || ch->fills < ch->filled ||
        an_bt_parse_symbols(r->spec.symbols, 0, &syms, err) != TB_OK)
        return TB_OK;
    for (size_t i = 0; s == TB_OK && i < syms.n; i++) {
        char sym[TB_TOKEN_CAP];
        uint64_t n = 0;
        snprintf(sym, sizeof sym, "%.24s-%.38s", r->id, syms.sym[i]);
        s = bar_ticks(c, sym, &n, err);
        ch->bar_ticks += n;
    }
    return s;
}

/* Whether market-data already knows feed r->id: a replay this run started
 * before an analytics instance died between asking for it and saving the
 * phase. Starting it again would replay the data twice. */
static bool replay_known(bus_conn *c, const an_bt_row *r, bool *known) {
    tb_query q = {0};
    snprintf(q.id, sizeof q.id, "%s", r->id);
    tb_md_status st;
    tb_error err = {0};
    tb_status s = bus_request(c, "api.market.status", &tb_query_desc, &q, &tb_md_status_desc, &st,
                              an_bt.request_ms, NULL, &err);
    *known = s == TB_OK;
    return s == TB_OK || s == TB_NOT_FOUND;
}

static void step_start(bus_conn *c, PGconn *pg, an_bt_row *r) {
    tb_market_replay rp = {.speed = r->spec.speed};
    an_bt_data data;
    tb_error err = {0};
    if (an_bt_parse_data(r->spec.data, &data, &err) != TB_OK) {
        finish(r, "failed", err.message);
        return;
    }
    bool known = false;
    if (!replay_known(c, r, &known)) return; /* market-data busy or away: next time */
    if (known) {
        snprintf(r->phase, sizeof r->phase, "replay");
        if (r->started_ns == 0) r->started_ns = tb_now_ns();
        bus_log(BUS_LOG_INFO, "backtest %s: replay found running, followed", r->id);
        return;
    }
    char *csv = NULL;
    size_t csv_len = 0;
    if (data.kind == AN_BT_DATA_FILE) {
        snprintf(rp.path, sizeof rp.path, "%s", data.path);
    } else {
        tb_status ds = an_bt_data_get(pg, r, &csv, &csv_len, &err);
        if (ds == TB_NOT_FOUND) finish(r, "failed", err.message);
        if (ds != TB_OK) return;
        snprintf(rp.path, sizeof rp.path, "%s of %s", data.kind == AN_BT_DATA_CSV ? "csv" : "bars",
                 r->id);
    }
    snprintf(rp.format, sizeof rp.format, "%s",
             data.kind == AN_BT_DATA_BARS ? "closes" : r->spec.format);
    snprintf(rp.source, sizeof rp.source, "%s", r->id);
    snprintf(rp.symbols, sizeof rp.symbols, "%s", r->spec.symbols);
    snprintf(rp.symbol_prefix, sizeof rp.symbol_prefix, "%.32s-", r->id);
    tb_md_status st;
    tb_status s = an_bt_ask_replay(c, &rp, csv, csv_len, &st, &err);
    free(csv);
    if (s == TB_OK) {
        snprintf(r->phase, sizeof r->phase, "replay");
        r->started_ns = tb_now_ns();
        r->message[0] = '\0';
        bus_log(BUS_LOG_INFO, "backtest %s: replay started", r->id);
    } else if (s == TB_CONFLICT || bus_status_is_transient(s)) {
        snprintf(r->message, sizeof r->message, "waiting to start: %s", err.message);
    } else {
        finish(r, "failed", err.message);
    }
}

tb_status an_bt_ask_replay(bus_conn *c, const tb_market_replay *rp, const char *csv, size_t len,
                           tb_md_status *st, tb_error *err) {
    if (csv == NULL)
        return bus_request(c, "api.market.replay", &tb_market_replay_desc, rp, &tb_md_status_desc,
                           st, an_bt.request_ms, NULL, err);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    bus_bytes rep = {0};
    tb_status s = bus_attach_encode(&tb_market_replay_desc, rp, BUS_ATTACH_CSV, csv, len, &sb, err);
    if (s == TB_OK)
        s = bus_request_bytes(c, "api.market.replay", sb.data, sb.size, tb_market_replay_desc.name,
                              an_bt.request_ms, NULL, &rep, err);
    msgpack_sbuffer_destroy(&sb);
    if (s == TB_OK) {
        s = tb_decode(&tb_md_status_desc, rep.data, rep.len, st, err);
        bus_bytes_free(&rep);
    }
    return s;
}

/* Whether risk-management stopped the run: the run account's kill switch
 * (or the global one) is engaged, by risk-management itself when a signal
 * could not be decided within RISK_BACKTEST_WAIT_MS, or by hand. Its
 * signals are refused from then on, so a report would silently lack their
 * fills: the run fails with the switch's reason. Not known (risk-management
 * not answering): false, asked again at the next step. */
static bool run_stopped(bus_conn *c, const an_bt_row *r, char *why, size_t cap) {
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", r->run_account);
    tb_risk_limits l;
    tb_error err = {0};
    if (bus_request(c, "api.risk.limits.get", &tb_query_desc, &q, &tb_risk_limits_desc, &l,
                    an_bt.request_ms, NULL, &err) != TB_OK ||
        !l.kill_switch)
        return false;
    snprintf(why, cap, "risk-management stopped the run (kill switch of %.40s): %.380s",
             r->run_account, l.kill_reason[0] ? l.kill_reason : "no reason given");
    return true;
}

/* md.replay.cancel: the market-data instance replaying feed r->id stops. */
static void stop_replay(bus_conn *c, const an_bt_row *r) {
    tb_query q = {0};
    snprintf(q.id, sizeof q.id, "%s", r->id);
    if (bus_publish(c, "md.replay.cancel", &tb_query_desc, &q, NULL) != TB_OK ||
        bus_conn_flush(c, 2000) != TB_OK)
        bus_log(BUS_LOG_WARN, "backtest %s: cancel not sent to market-data", r->id);
}

static void step_replay(bus_conn *c, an_bt_row *r) {
    tb_query q = {0};
    snprintf(q.id, sizeof q.id, "%s", r->id);
    tb_md_status st;
    tb_error err = {0};
    if (bus_request(c, "api.market.status", &tb_query_desc, &q, &tb_md_status_desc, &st,
                    an_bt.request_ms, NULL, &err) != TB_OK)
        return; /* not reported yet, or market-data busy: next time */
    r->events = (int64_t)st.ticks;
    char why[TB_TEXT_CAP];
    if (run_stopped(c, r, why, sizeof why)) {
        if (strcmp(st.state, "running") == 0) stop_replay(c, r);
        finish(r, "failed", why);
        bus_log(BUS_LOG_WARN, "backtest %s: %s", r->id, why);
    } else if (strcmp(st.state, "done") == 0 && st.dropped > 0) {
        /* A consumer the replay gave up on may have missed ticks: the
         * report would depend on the machine's load, not on the data. */
        finish(r, "failed", st.message);
    } else if (strcmp(st.state, "done") == 0) {
        snprintf(r->phase, sizeof r->phase, "settle");
        r->quiet_sig[0] = '\0';
        r->quiet_since_ns = tb_now_ns();
    } else if (strcmp(st.state, "failed") == 0) {
        finish(r, "failed", st.message);
    }
}

/* Done when every signal became an order or was refused, no order is
 * open, every filled one is recorded here, and nothing moved for
 * BACKTEST_QUIET_MS. A signal that is neither after BACKTEST_DECIDE_MS
 * without a change was lost (signals are at most once: a risk-management
 * worker killed holding it): the report would lack its effect, so the run
 * fails naming it. */
static void step_settle(bus_conn *c, PGconn *pg, an_bt_row *r) {
    chain ch;
    tb_error err = {0};
    char why[TB_TEXT_CAP];
    if (run_stopped(c, r, why, sizeof why)) {
        finish(r, "failed", why);
        bus_log(BUS_LOG_WARN, "backtest %s: %s", r->id, why);
        return;
    }
    if (chain_state(c, pg, r, &ch, &err) != TB_OK) return;
    char sig[TB_TEXT_CAP];
    snprintf(sig, sizeof sig,
             "signals %" PRIu64 " (%" PRIu64 " refused, %" PRIu64 " undecided), orders %" PRIu64
             " (%" PRIu64 " open, %" PRIu64 " filled), fills %" PRIu64 ", equity points %" PRIu64
             ", ticks in bars %" PRIu64,
             ch.signals, ch.refused, ch.undecided, ch.orders, ch.open, ch.filled, ch.fills,
             ch.points, ch.bar_ticks);
    int64_t now = tb_now_ns();
    if (strcmp(sig, r->quiet_sig) != 0) {
        snprintf(r->quiet_sig, sizeof r->quiet_sig, "%s", sig);
        r->quiet_since_ns = now;
        return;
    }
    int64_t quiet = now - r->quiet_since_ns, need = an_bt.quiet_ms * 1000000;
    /* A filled order whose fill is not recorded here yet, or a tick that
     * historical-data's bars do not hold yet, is never given up on (until
     * BACKTEST_SETTLE_MS): an analytics worker killed with the fill in hand
     * leaves it to JetStream's redelivery, which comes after the consumer's
     * ack wait; bars lag behind several replays at once; a report without
     * them would be wrong. */
    bool recorded = ch.fills >= ch.filled && ch.bar_ticks >= (uint64_t)r->total_events;
    if (ch.open == 0 && recorded && ch.undecided == 0 && quiet >= need) {
        finish(r, "done", sig);
        bus_log(BUS_LOG_INFO, "backtest %s: done (%s)", r->id, sig);
    } else if (ch.undecided > 0 && quiet >= an_bt.decide_ms * 1000000) {
        char msg[TB_TEXT_CAP];
        snprintf(msg, sizeof msg,
                 "%" PRIu64 " of the run's %" PRIu64 " signals were never decided, the first "
                 "signal %.40s: neither an order nor a refusal after BACKTEST_DECIDE_MS (%" PRId64
                 " ms) (a risk-management worker stopped holding them?)",
                 ch.undecided, ch.signals, ch.first_undecided, an_bt.decide_ms);
        finish(r, "failed", msg);
        bus_log(BUS_LOG_WARN, "backtest %s: %s", r->id, msg);
    } else if (quiet > an_bt.settle_ms * 1000000) {
        finish(r, "failed", "the chain did not settle within BACKTEST_SETTLE_MS");
    }
}

static void step_grid(PGconn *pg, an_bt_row *r) {
    an_bt_row *kids = NULL;
    size_t n = 0;
    tb_error err = {0};
    if (an_bt_select(pg, r->id, "", "", 0, (size_t)an_bt.grid_max, &kids, &n, &err) != TB_OK)
        return;
    size_t running = 0, failed = 0;
    int64_t events = 0;
    for (size_t i = 0; i < n; i++) {
        running += strcmp(kids[i].status, "running") == 0;
        failed += strcmp(kids[i].status, "failed") == 0;
        events += strcmp(kids[i].status, "done") == 0 ? kids[i].total_events : kids[i].events;
    }
    free(kids);
    r->events = events;
    if (running > 0) return;
    char msg[96];
    snprintf(msg, sizeof msg, "%zu of %zu runs failed", failed, n);
    finish(r, failed == n && n > 0 ? "failed" : "done", failed ? msg : "");
}

/* One claimed run, one step, saved in the claiming transaction. */
static void step(bus_conn *c, PGconn *pg, const char *id) {
    an_bt_row r;
    tb_error err = {0};
    if (an_bt_load(pg, id, false, &r, &err) != TB_OK) return;
    if (strcmp(r.phase, "start") == 0)
        step_start(c, pg, &r);
    else if (strcmp(r.phase, "replay") == 0)
        step_replay(c, &r);
    else if (strcmp(r.phase, "settle") == 0)
        step_settle(c, pg, &r);
    else if (strcmp(r.phase, "grid") == 0)
        step_grid(pg, &r);
    if (an_bt_save(pg, &r, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "backtest %s: state not saved: %s", id, err.message);
}

static void tick(bus_actor *a, void *arg) {
    (void)arg;
    tb_error err = {0};
    PGconn *pg = bus_pg_acquire(bus_actor_pg(a), &err);
    if (pg == NULL) return;
    char ids[CLAIM_MAX][TB_TOKEN_CAP];
    size_t n = 0;
    if (bus_pg_exec(pg, "BEGIN", 0, NULL, NULL, &err) == TB_OK &&
        an_bt_claim_running(pg, ids, CLAIM_MAX, &n, &err) == TB_OK) {
        for (size_t i = 0; i < n && !bus_actor_stopping(a); i++)
            step(bus_actor_conn(a), pg, ids[i]);
        if (bus_pg_exec(pg, "COMMIT", 0, NULL, NULL, &err) != TB_OK)
            bus_log(BUS_LOG_WARN, "backtests: step not committed: %s", err.message);
    } else {
        tb_error ignore = {0};
        if (bus_pg_exec(pg, "ROLLBACK", 0, NULL, NULL, &ignore) != TB_OK)
            bus_log(BUS_LOG_WARN, "backtests: rollback failed: %s", ignore.message);
    }
    bus_pg_release(bus_actor_pg(a), pg);
}

tb_status an_bt_start(bus_actor *a, tb_error *err) {
    return bus_actor_add_timer(a, "backtests", an_bt.tick_ms, tick, NULL, NULL, err);
}
