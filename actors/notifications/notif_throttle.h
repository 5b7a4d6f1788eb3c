/* Per-key rate limit with a trailing evaluation: price rules are evaluated
 * at most once per interval per symbol, drawdown at most once per interval
 * per account. An observation that arrives inside the window is kept as the
 * key's pending one (the newest wins) and handed out by take_due once the
 * window has passed, so the last price of a burst is always evaluated.
 *
 * This is a cache of what to evaluate next, not state that decides alerts:
 * the crossing state lives in Redis, so workers with different windows still
 * agree. Thread-safe; no I/O, the caller passes the monotonic time.
 * Unit-tested in tests/unit/test_notif_rules.c. */
#ifndef NOTIF_THROTTLE_H
#define NOTIF_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

typedef struct notif_obs {
    char key[TB_TOKEN_CAP]; /* symbol or account */
    int64_t ts;             /* event time, orders observations */
    uint64_t seq;           /* tick sequence (0 when none) */
    tb_fixed value;         /* price (ticks) */
} notif_obs;

typedef struct notif_throttle notif_throttle;

/* interval_ns <= 0: every observation is evaluated at once. slots bounds the
 * keys tracked; keys beyond it are evaluated every time. NULL on OOM; caller
 * frees with notif_throttle_destroy. */
notif_throttle *notif_throttle_create(int64_t interval_ns, size_t slots);
void notif_throttle_destroy(notif_throttle *t);

/* True: evaluate o now (the key's window restarts and its pending
 * observation is dropped, o being newer). False: o is kept as the key's
 * pending observation unless the pending one is newer (ts, seq). */
bool notif_throttle_offer(notif_throttle *t, const notif_obs *o, int64_t now_ns);

/* Copies up to cap pending observations whose window has passed into out,
 * restarting their windows; returns how many. */
size_t notif_throttle_take_due(notif_throttle *t, int64_t now_ns, notif_obs *out, size_t cap);

#endif
