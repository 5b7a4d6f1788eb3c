/* Reduction of a batch of ticks to marks; see pos_mark_batch.h. */
#include "pos_mark_batch.h"

#include <stdio.h>
#include <string.h>

#include "pos_pnl.h"

bool pos_mark_newer(const pos_mark *a, const pos_mark *b) {
    return a->ts > b->ts || (a->ts == b->ts && a->seq > b->seq);
}

size_t pos_marks_reduce(const tb_tick *const *ticks, size_t n, pos_mark *out) {
    size_t k = 0, last = 0; /* last: the mark hit by the previous tick */
    for (size_t i = 0; i < n; i++) {
        const tb_tick *t = ticks[i];
        pos_mark m = {.ts = t->ts, .seq = t->seq};
        if (!pos_mark_price(t->last, t->bid, t->ask, &m.price)) continue;
        /* A batch holds a few symbols, often runs of one: try the previous
         * hit first, then scan. */
        size_t j = k;
        if (k > 0 && strcmp(out[last].symbol, t->symbol) == 0) {
            j = last;
        } else {
            for (j = 0; j < k && strcmp(out[j].symbol, t->symbol) != 0; j++) {
            }
        }
        last = j;
        if (j == k) {
            snprintf(m.symbol, sizeof m.symbol, "%s", t->symbol);
            out[k++] = m;
        } else if (pos_mark_newer(&m, &out[j])) {
            out[j].price = m.price;
            out[j].ts = m.ts;
            out[j].seq = m.seq;
        }
    }
    return k;
}
