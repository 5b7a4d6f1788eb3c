/* Raising alerts and evaluating threshold rules: the glue between the pure
 * rules (notif_rules.h), the crossing state in Redis and the alert and
 * webhook rows in PostgreSQL. */
#ifndef NOTIF_ALERTS_H
#define NOTIF_ALERTS_H

#include "notif_service.h"
#include "notif_store.h"

/* Crossing state of rule r at key k lives at NOTIF_STATE_PREFIX "<r>:<k>". */
#define NOTIF_STATE_PREFIX "tb:notif:x:"

/* Decides an observation's condition from the previous state: sets *cond,
 * and for drawdown *peak (with *has_peak) to store. */
typedef void (*notif_decide_fn)(const notif_cross *prev, void *arg, bool *cond, bool *has_peak,
                                tb_fixed *peak);

/* Applies one observation to the crossing state at key, atomically: the
 * state is read, the next one computed with notif_cross_step and written
 * with a compare-and-set script, retried when another worker changed it in
 * between. So of N workers seeing observations of one key, exactly one sees
 * each transition. *step says what happened. */
tb_status notif_state_observe(redisContext *c, const char *key, int64_t ttl_s, int64_t ts,
                              uint64_t seq, int64_t cooldown_s, notif_decide_fn decide, void *arg,
                              notif_step *step, tb_error *err) TB_WARN_UNUSED;

/* Records alerts[0..n) (each at most once, keyed by alert_id) together with
 * one webhook_outbox row per interested webhook, and enqueues src (may be
 * NULL) for the webhooks that want it, all in one transaction; then, when
 * publish is set, publishes on alerts.<severity>.<kind> the alerts this call
 * inserted, so however many workers handle an event, each alert is
 * published once. rules[i] raised alerts[i]; rules NULL: alerts received
 * from elsewhere (counted apart). */
tb_status notif_raise(notif_io *io, const tb_alert *alerts, const notif_rule *rules, size_t n,
                      const notif_source *src, bool publish, const char *trace,
                      tb_error *err) TB_WARN_UNUSED;

/* Threshold rules. Price rules over a batch of ticks: notif_prices.h. */
tb_status notif_eval_position(notif_io *io, const tb_position_update *u, const char *trace,
                              tb_error *err) TB_WARN_UNUSED;
/* Asks position-management for the account's equity (api.accounts.get) and
 * evaluates the account's drawdown rules against it. */
tb_status notif_eval_drawdown(notif_io *io, const char *account, const char *trace,
                              tb_error *err) TB_WARN_UNUSED;

#endif
