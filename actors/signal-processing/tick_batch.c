/* Batch ordering and parked-tick text of tick_batch.h. */
#include "tick_batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_ref(const void *a, const void *b) {
    const sp_tick_ref *x = a, *y = b;
    int c = strcmp(x->symbol, y->symbol);
    if (c != 0) return c;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

size_t sp_batch_group(sp_tick_ref *refs, size_t n, sp_tick_run *runs, size_t *nruns,
                      size_t *duplicates) {
    *nruns = 0;
    *duplicates = 0;
    if (n == 0) return 0;
    qsort(refs, n, sizeof *refs, cmp_ref);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool same_symbol = k > 0 && strcmp(refs[k - 1].symbol, refs[i].symbol) == 0;
        if (same_symbol && refs[k - 1].seq == refs[i].seq) {
            (*duplicates)++;
            continue;
        }
        if (!same_symbol) runs[(*nruns)++] = (sp_tick_run){.start = k, .len = 0};
        runs[*nruns - 1].len++;
        refs[k++] = refs[i];
    }
    return k;
}

bool sp_seq_applies(sp_seq_action a) {
    return a == SP_SEQ_APPLY || a == SP_SEQ_START || a == SP_SEQ_RESTART || a == SP_SEQ_GAP;
}

size_t sp_batch_plan(bool *has, uint64_t *last, const uint64_t *seq, const bool *waited_out,
                     size_t n, sp_seq_action *acts) {
    size_t applied = 0;
    for (size_t i = 0; i < n; i++) {
        acts[i] = sp_seq_decide(*has, *last, seq[i], waited_out && waited_out[i]);
        if (!sp_seq_applies(acts[i])) continue;
        *has = true;
        *last = seq[i];
        applied++;
    }
    return applied;
}

size_t sp_parked_format(tb_fixed price, int64_t ts, const char *trace, char *buf, size_t cap) {
    if (strlen(trace) >= sizeof((sp_parked *)0)->trace) return 0;
    int len = snprintf(buf, cap, "%" PRId64 "|%" PRId64 "|%s", (int64_t)price, ts, trace);
    return len > 0 && (size_t)len < cap ? (size_t)len : 0;
}

/* Parses a decimal integer field of text[*pos..len) ending at '|'. */
static bool field_int(const char *text, size_t len, size_t *pos, bool is_signed, int64_t *out) {
    size_t i = *pos;
    bool neg = false;
    if (is_signed && i < len && text[i] == '-') {
        neg = true;
        i++;
    }
    size_t digits = 0;
    uint64_t v = 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++) {
        if (v > (UINT64_C(1) << 62) / 5) return false; /* would overflow */
        v = v * 10 + (uint64_t)(text[i] - '0');
    }
    if (digits == 0 || i >= len || text[i] != '|' || v > (uint64_t)INT64_MAX) return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    *pos = i + 1;
    return true;
}

bool sp_parked_parse(const char *text, size_t len, sp_parked *out) {
    size_t pos = 0;
    int64_t seq, parked_ms, price, ts;
    if (!field_int(text, len, &pos, false, &seq) ||
        !field_int(text, len, &pos, false, &parked_ms) ||
        !field_int(text, len, &pos, true, &price) || !field_int(text, len, &pos, true, &ts))
        return false;
    (void)parked_ms;
    size_t trace_len = len - pos;
    if (seq == 0 || (uint64_t)seq >= SP_SEQ_LIMIT || trace_len >= sizeof out->trace) return false;
    out->seq = (uint64_t)seq;
    out->price = price;
    out->ts = ts;
    out->arrival = SP_ARRIVAL_PARKED;
    memcpy(out->trace, text + pos, trace_len);
    out->trace[trace_len] = '\0';
    return true;
}
