/* "Did you mean": the catalogue field nearest to a name a client sent.
 *
 * Request bodies are strict (tb_from_json refuses unknown keys), and a
 * refusal is more useful when it names the field the client probably meant.
 * The distance counts a swap of two neighbours as one edit, because "qyt"
 * for "qty" is the commonest typo there is. */
#include <string.h>

#include "catalogue.h"

size_t tb_name_distance(const char *a, size_t alen, const char *b, size_t blen, size_t bound) {
    if (alen > TB_NAME_DISTANCE_MAX || blen > TB_NAME_DISTANCE_MAX) return bound + 1;
    if ((alen > blen ? alen - blen : blen - alen) > bound) return bound + 1;
    /* Three rows of the optimal-string-alignment table: two back for swaps. */
    size_t rows[3][TB_NAME_DISTANCE_MAX + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= blen; j++) prev[j] = j;
    for (size_t i = 1; i <= alen; i++) {
        cur[0] = i;
        size_t row_min = cur[0];
        for (size_t j = 1; j <= blen; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = prev[j - 1] + cost;
            if (prev[j] + 1 < d) d = prev[j] + 1;
            if (cur[j - 1] + 1 < d) d = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
            if (d < row_min) row_min = d;
        }
        if (row_min > bound) return bound + 1; /* every later row is at least as far */
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[blen] > bound ? bound + 1 : prev[blen];
}

const tb_field_desc *tb_field_closest(const tb_event_desc *d, const char *name, size_t len) {
    if (d == NULL || name == NULL || len == 0) return NULL;
    size_t bound = len <= 4 ? 1 : 2;
    const tb_field_desc *best = NULL;
    size_t best_d = bound + 1, best_gap = 0;
    for (size_t i = 0; i < d->nfields; i++) {
        const char *f = d->fields[i].name;
        size_t flen = strlen(f);
        size_t dist = tb_name_distance(name, len, f, flen, bound);
        /* Of equally near names the one of the same length wins: "accounst"
         * is a swap in accounts more likely than a letter too many in
         * account. */
        size_t gap = flen > len ? flen - len : len - flen;
        if (dist < best_d || (dist == best_d && best != NULL && gap < best_gap)) {
            best = &d->fields[i];
            best_d = dist;
            best_gap = gap;
        }
    }
    return best;
}
