/* Price rules over a batch; see notif_price_batch.h. Pure: no I/O, no
 * clocks. */
#include "notif_price_batch.h"

#include <string.h>

size_t notif_price_steps(const notif_rule *r, const notif_cross *prev, const notif_obs *obs,
                         size_t n, int64_t now_ns, notif_cross *next, bool *moved, size_t *fired) {
    notif_cross cur = *prev;
    size_t k = 0;
    *moved = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(obs[i].key, r->symbol) != 0) continue;
        bool cond = notif_price_condition(r, obs[i].value);
        notif_cross nx;
        notif_step step =
            notif_cross_step(&cur, obs[i].ts, obs[i].seq, cond, now_ns, r->cooldown_s, &nx);
        if (step == NOTIF_STEP_STALE) continue;
        *moved = true;
        cur = nx;
        if (step == NOTIF_STEP_FIRE) fired[k++] = i;
    }
    *next = cur;
    return k;
}

size_t notif_obs_keys(const notif_obs *obs, size_t n, size_t *keys) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        /* A batch holds a few symbols: compare with the latest key first. */
        if (k > 0 && strcmp(obs[keys[k - 1]].key, obs[i].key) == 0) continue;
        while (j < k && strcmp(obs[keys[j]].key, obs[i].key) != 0) j++;
        if (j == k) keys[k++] = i;
    }
    return k;
}
