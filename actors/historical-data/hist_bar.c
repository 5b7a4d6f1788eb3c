/* Bar aggregation rules: intervals, buckets, tick prices and the
 * order-independent merge (see hist_bar.h). No I/O. */
#include "hist_bar.h"

#include <string.h>

static const struct {
    const char *name;
    int64_t ns;
} intervals[HIST_NINTERVALS] = {
    [HIST_1S] = {"1s", HIST_NS_PER_SEC},         [HIST_1M] = {"1m", 60 * HIST_NS_PER_SEC},
    [HIST_5M] = {"5m", 300 * HIST_NS_PER_SEC},   [HIST_1H] = {"1h", 3600 * HIST_NS_PER_SEC},
    [HIST_1D] = {"1d", 86400 * HIST_NS_PER_SEC},
};

const char *hist_interval_name(hist_interval iv) {
    return (unsigned)iv < HIST_NINTERVALS ? intervals[iv].name : "?";
}

int64_t hist_interval_ns(hist_interval iv) {
    return (unsigned)iv < HIST_NINTERVALS ? intervals[iv].ns : 0;
}

tb_status hist_interval_parse(const char *s, hist_interval *out) {
    for (int i = 0; i < HIST_NINTERVALS; i++) {
        if (s != NULL && strcmp(s, intervals[i].name) == 0) {
            *out = (hist_interval)i;
            return TB_OK;
        }
    }
    return TB_INVALID;
}

int64_t hist_bucket_start(int64_t ts_ns, hist_interval iv) {
    int64_t len = hist_interval_ns(iv);
    int64_t r = ts_ns % len;
    /* C's % truncates toward zero; a pre-epoch ts belongs to the bucket
     * that starts before it, not after. */
    if (r < 0) r += len;
    return ts_ns - r;
}

tb_status hist_tick_price(const tb_tick *t, tb_fixed *price, tb_fixed *size, tb_error *err) {
    if (t->last > 0) {
        if (t->last_size < 0)
            return tb_error_set(err, TB_INVALID, "last_size", "negative last_size");
        *price = t->last;
        *size = t->last_size;
        return TB_OK;
    }
    if (t->last < 0) return tb_error_set(err, TB_INVALID, "last", "negative last price");
    if (t->bid > 0 && t->ask > 0) {
        tb_fixed sum;
        /* bid + ask can overflow near the top of the range; halve first then. */
        tb_fixed mid;
        if (tb_fixed_add(t->bid, t->ask, &sum) == TB_OK) {
            if (tb_fixed_muldiv(sum, 1, 2, TB_ROUND_HALF_EVEN, &mid) != TB_OK)
                return tb_error_set(err, TB_OVERFLOW, "bid", "midpoint out of range");
        } else {
            tb_fixed hb, ha;
            if (tb_fixed_muldiv(t->bid, 1, 2, TB_ROUND_HALF_EVEN, &hb) != TB_OK ||
                tb_fixed_muldiv(t->ask, 1, 2, TB_ROUND_HALF_EVEN, &ha) != TB_OK ||
                tb_fixed_add(hb, ha, &mid) != TB_OK)
                return tb_error_set(err, TB_OVERFLOW, "bid", "midpoint out of range");
        }
        *price = mid;
        *size = 0;
        return TB_OK;
    }
    if (t->bid > 0 && t->ask == 0) {
        *price = t->bid;
        *size = 0;
        return TB_OK;
    }
    if (t->ask > 0 && t->bid == 0) {
        *price = t->ask;
        *size = 0;
        return TB_OK;
    }
    return tb_error_set(err, TB_INVALID, "last", "tick %s seq %llu has no positive price",
                        t->symbol, (unsigned long long)t->seq);
}

void hist_bar_from_tick(hist_bar *b, int64_t start, tb_fixed price, tb_fixed size, uint64_t seq) {
    *b = (hist_bar){.start = start,
                    .open = price,
                    .high = price,
                    .low = price,
                    .close = price,
                    .volume = size,
                    .ticks = 1,
                    .first_seq = seq,
                    .last_seq = seq};
}

tb_status hist_bar_merge(hist_bar *into, const hist_bar *part) {
    if (into->start != part->start) return TB_INVALID;
    tb_fixed volume;
    if (tb_fixed_add(into->volume, part->volume, &volume) != TB_OK) return TB_OVERFLOW;
    if (part->first_seq < into->first_seq ||
        (part->first_seq == into->first_seq && part->open < into->open)) {
        into->open = part->open;
        into->first_seq = part->first_seq;
    }
    if (part->last_seq > into->last_seq ||
        (part->last_seq == into->last_seq && part->close > into->close)) {
        into->close = part->close;
        into->last_seq = part->last_seq;
    }
    if (part->high > into->high) into->high = part->high;
    if (part->low < into->low) into->low = part->low;
    into->volume = volume;
    into->ticks += part->ticks;
    return TB_OK;
}

bool hist_bar_consistent(const hist_bar *b) {
    return b->low <= b->open && b->low <= b->close && b->high >= b->open && b->high >= b->close;
}

tb_status hist_interval_set_parse(const char *list, unsigned *mask, tb_error *err) {
    *mask = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == '\0') break;
        const char *end = p;
        while (*end && *end != ',' && *end != ' ') end++;
        char name[8] = "";
        size_t len = (size_t)(end - p);
        hist_interval iv;
        if (len < sizeof name) memcpy(name, p, len);
        if (len < sizeof name && strcmp(name, "all") == 0)
            *mask |= (1u << HIST_NINTERVALS) - 1;
        else if (len < sizeof name && strcmp(name, "none") == 0)
            ; /* adds nothing: "none" alone writes no bars */
        else if (len < sizeof name && hist_interval_parse(name, &iv) == TB_OK)
            *mask |= 1u << iv;
        else
            return tb_error_set(err, TB_INVALID, NULL,
                                "'%.*s' is not an interval (1s, 1m, 5m, 1h, 1d, all or none)",
                                (int)(len > 20 ? 20 : len), p);
        p = end;
    }
    return TB_OK;
}
