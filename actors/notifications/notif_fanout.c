/* Fills (fills.>, the FILLS stream) and risk decisions (risk.decision.>,
 * core NATS) in batches. Each event may raise an alert per rule of its kind
 * whose scope covers it (fill; risk_reject for a refused order) and goes to
 * every webhook that wants it. Most events want neither, so a batch first
 * reads, in two statements, the rules and the webhooks that may apply to any
 * of its events (the current ones: a rule created a moment ago applies);
 * an event nothing applies to costs nothing more. The others are recorded
 * one transaction each (notif_raise: alerts and webhook_outbox rows keyed on
 * the event, so a redelivered event changes nothing). */
#include <stdlib.h>
#include <string.h>

#include "notif_alerts.h"
#include "notif_events.h"
#include "notif_webhook.h"

/* What one event asks of the service. */
typedef struct fan_item {
    bool alerts; /* rules of `kind` may raise alerts for it */
    notif_kind kind;
    const char *account, *symbol, *event_id;
    int64_t ts;
    char subject[32 + 2 * TB_TOKEN_CAP];
    char msg[TB_TEXT_CAP];
    notif_source src;
} fan_item;

static void item_of_fill(const void *ev, fan_item *it) {
    const tb_fill *f = ev;
    *it = (fan_item){.alerts = true,
                     .kind = NOTIF_KIND_FILL,
                     .account = f->account,
                     .symbol = f->symbol,
                     .event_id = f->fill_id,
                     .ts = f->ts};
    snprintf(it->subject, sizeof it->subject, "fills.%s.%s", f->account, f->symbol);
    notif_msg_fill(f, it->msg, sizeof it->msg);
    it->src = (notif_source){.type = NOTIF_EVENT_FILL,
                             .id = f->fill_id,
                             .subject = it->subject,
                             .account = f->account,
                             .desc = &tb_fill_desc,
                             .ev = f};
}

/* An approved decision raises no alert; it still goes to the webhooks. */
static void item_of_decision(const void *ev, fan_item *it) {
    const tb_risk_decision *d = ev;
    *it = (fan_item){.alerts = !d->approved,
                     .kind = NOTIF_KIND_RISK_REJECT,
                     .account = d->account,
                     .symbol = d->symbol,
                     .event_id = d->decision_id,
                     .ts = d->ts};
    snprintf(it->subject, sizeof it->subject, "risk.decision.%s", d->account);
    if (!d->approved) notif_msg_reject(d, it->msg, sizeof it->msg);
    it->src = (notif_source){.type = NOTIF_EVENT_DECISION,
                             .id = d->decision_id,
                             .subject = it->subject,
                             .account = d->account,
                             .desc = &tb_risk_decision_desc,
                             .ev = d};
}

/* Appends name to names[0..*n) unless it is there already. */
static void add_name(const char **names, size_t *n, const char *name) {
    for (size_t i = 0; i < *n; i++)
        if (strcmp(names[i], name) == 0) return;
    names[(*n)++] = name;
}

static bool hook_wants(const notif_hook *hooks, size_t nh, const fan_item *it) {
    for (size_t i = 0; i < nh; i++)
        if (notif_webhook_wants(hooks[i].events, hooks[i].account, it->subject, it->account))
            return true;
    return false;
}

/* Raises the item's alerts, one per rule of rules[0..nr) that applies to
 * it (mine: scratch of nr rules), and fans it out. */
static tb_status raise_item(notif_io *io, const fan_item *it, const notif_rule *rules, size_t nr,
                            notif_rule *mine, tb_alert *alerts, const char *trace, tb_error *err) {
    size_t k = 0;
    for (size_t i = 0; it->alerts && i < nr; i++) {
        if (rules[i].kind != it->kind || !notif_rule_applies(&rules[i], it->account, it->symbol))
            continue;
        mine[k] = rules[i];
        notif_alert_make(&mine[k], it->event_id, it->account, it->symbol, it->ts, it->msg,
                         &alerts[k]);
        k++;
    }
    return notif_raise(io, k ? alerts : NULL, k ? mine : NULL, k, &it->src, true, trace, err);
}

/* The batch's items[0..n) against the rules and webhooks of its accounts
 * and symbols. A failure to read them fails every item (the stream
 * redelivers fills; decisions are at most once and counted); a failure to
 * record an item fails that item alone. */
static void fan_out(bus_ctx *ctx, const bus_batch *b, const fan_item *items, size_t n) {
    notif_io io = notif_io_of_ctx(ctx);
    tb_error err = {0};
    const char **accounts = calloc(n, sizeof *accounts), **symbols = calloc(n, sizeof *symbols);
    notif_rule *rules = NULL, *mine = NULL;
    notif_hook *hooks = NULL;
    tb_alert *alerts = NULL;
    size_t na = 0, ns = 0, nr = 0, nh = 0;
    tb_status s = accounts && symbols ? TB_OK : tb_error_set(&err, TB_NOMEM, NULL, "out of memory");
    for (size_t i = 0; s == TB_OK && i < n; i++) {
        add_name(accounts, &na, items[i].account);
        add_name(symbols, &ns, items[i].symbol);
    }
    PGconn *pg = s == TB_OK ? notif_io_pg(&io, &err) : NULL;
    if (s == TB_OK && pg == NULL) s = err.status;
    if (s == TB_OK)
        s = notif_db_rules_any(pg, notif_kind_name(items[0].kind), accounts, na, symbols, ns,
                               &rules, &nr, &err);
    if (s == TB_OK) s = notif_db_hooks_any(pg, accounts, na, &hooks, &nh, &err);
    if (s == TB_OK && nr > 0) {
        mine = calloc(nr, sizeof *mine);
        alerts = calloc(nr, sizeof *alerts);
        if (mine == NULL || alerts == NULL) s = tb_error_set(&err, TB_NOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (s != TB_OK) {
            bus_batch_fail_err(b, i, &err);
            continue;
        }
        const fan_item *it = &items[i];
        bool ruled = false;
        for (size_t r = 0; it->alerts && r < nr && !ruled; r++)
            ruled =
                rules[r].kind == it->kind && notif_rule_applies(&rules[r], it->account, it->symbol);
        if (!ruled && !hook_wants(hooks, nh, it)) continue;
        tb_error e = {0};
        if (raise_item(&io, it, rules, nr, mine, alerts, bus_batch_trace(b, i), &e) != TB_OK)
            bus_batch_fail_err(b, i, &e);
    }
    free(alerts);
    free(mine);
    free(hooks);
    free(rules);
    free(symbols);
    free(accounts);
}

/* The batch's events as items (make), then fan_out. */
static tb_status on_batch(bus_ctx *ctx, const bus_batch *b, void (*make)(const void *, fan_item *),
                          const char *what) {
    size_t n = bus_batch_len(b);
    if (n == 0) return TB_OK;
    fan_item *items = malloc(n * sizeof *items);
    if (items == NULL) return bus_fail(ctx, TB_NOMEM, NULL, "out of memory for %zu %s", n, what);
    for (size_t i = 0; i < n; i++) make(bus_batch_event(b, i), &items[i]);
    fan_out(ctx, b, items, n);
    free(items);
    return TB_OK;
}

tb_status notif_on_fills(bus_ctx *ctx, const bus_batch *b) {
    return on_batch(ctx, b, item_of_fill, "fills");
}

tb_status notif_on_decisions(bus_ctx *ctx, const bus_batch *b) {
    return on_batch(ctx, b, item_of_decision, "decisions");
}
