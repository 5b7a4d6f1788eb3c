/* In-memory merge of a batch of ticks (see hist_batch.h). No I/O. */
#include "hist_batch.h"

#include <stdlib.h>
#include <string.h>

void hist_batch_init(hist_batch *b) {
    memset(b, 0, sizeof *b);
}

void hist_batch_close(hist_batch *b) {
    free(b->ticks);
    free(b->blocks);
    free(b->bars);
    hist_batch_init(b);
}

void hist_batch_reset(hist_batch *b) {
    b->nticks = b->nblocks = b->nbars = 0;
    b->nnew = b->ndup = 0;
}

/* Makes room for want elements of size sz in *p (capacity *cap). */
static tb_status reserve(void **p, size_t *cap, size_t want, size_t sz) {
    if (want <= *cap) return TB_OK;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < want) ncap *= 2;
    void *np = realloc(*p, ncap * sz);
    if (np == NULL) return TB_NOMEM;
    *p = np;
    *cap = ncap;
    return TB_OK;
}

/* floor(a / d) for d > 0. */
static int64_t floor_div(int64_t a, int64_t d) {
    int64_t q = a / d;
    return (a % d < 0) ? q - 1 : q;
}

tb_status hist_batch_add(hist_batch *b, const char *symbol, const char *source, uint64_t seq,
                         int64_t ts, tb_fixed price, tb_fixed size, size_t index) {
    if (reserve((void **)&b->ticks, &b->cap_ticks, b->nticks + 1, sizeof *b->ticks) != TB_OK)
        return TB_NOMEM;
    b->ticks[b->nticks++] = (hist_batch_tick){.symbol = symbol,
                                              .source = source ? source : "",
                                              .seq = seq,
                                              .ts = ts,
                                              .price = price,
                                              .size = size,
                                              .window = floor_div(ts, HIST_SEEN_WINDOW_NS),
                                              .index = index,
                                              .outcome = HIST_TICK_NEW};
    return TB_OK;
}

#define CMP(a, b) (((a) > (b)) - ((a) < (b)))

/* Identity order: symbol, source, window, seq. */
static int cmp_identity(const hist_batch_tick *x, const hist_batch_tick *y) {
    int c = strcmp(x->symbol, y->symbol);
    if (c == 0) c = strcmp(x->source, y->source);
    if (c == 0) c = CMP(x->window, y->window);
    if (c == 0) c = CMP(x->seq, y->seq);
    return c;
}

static int cmp_tick(const void *a, const void *b) {
    const hist_batch_tick *x = a, *y = b;
    int c = cmp_identity(x, y);
    if (c == 0) c = CMP(x->ts, y->ts);
    if (c == 0) c = CMP(x->price, y->price);
    if (c == 0) c = CMP(x->size, y->size);
    return c;
}

static int cmp_block_key(const char *symbol, const char *source, int64_t window, int64_t block,
                         const hist_seen_block *k) {
    int c = strcmp(symbol, k->symbol);
    if (c == 0) c = strcmp(source, k->source);
    if (c == 0) c = CMP(window, k->window);
    if (c == 0) c = CMP(block, k->block);
    return c;
}

tb_status hist_batch_group(hist_batch *b) {
    b->nblocks = 0;
    if (b->nticks == 0) return TB_OK;
    qsort(b->ticks, b->nticks, sizeof *b->ticks, cmp_tick);
    for (size_t i = 0; i < b->nticks; i++) {
        hist_batch_tick *t = &b->ticks[i];
        if (i > 0 && cmp_identity(&b->ticks[i - 1], t) == 0) {
            t->outcome = HIST_TICK_DUP_BATCH;
            t->block = b->ticks[i - 1].block;
            continue;
        }
        t->outcome = HIST_TICK_NEW;
        int64_t block = (int64_t)(t->seq / HIST_SEEN_BLOCK_SEQS);
        /* Ticks are in identity order, so blocks come sorted: a new block is
         * one that differs from the last. */
        if (b->nblocks == 0 || cmp_block_key(t->symbol, t->source, t->window, block,
                                             &b->blocks[b->nblocks - 1]) != 0) {
            if (reserve((void **)&b->blocks, &b->cap_blocks, b->nblocks + 1, sizeof *b->blocks) !=
                TB_OK)
                return TB_NOMEM;
            hist_seen_block *k = &b->blocks[b->nblocks++];
            memset(k, 0, sizeof *k);
            k->symbol = t->symbol;
            k->source = t->source;
            k->window = t->window;
            k->block = block;
        }
        t->block = b->nblocks - 1;
    }
    return TB_OK;
}

hist_seen_block *hist_batch_find_block(hist_batch *b, const char *symbol, const char *source,
                                       int64_t window, int64_t block) {
    size_t lo = 0, hi = b->nblocks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_block_key(symbol, source, window, block, &b->blocks[mid]);
        if (c == 0) return &b->blocks[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Bars of one symbol: interval, then start (the caller keeps symbols apart,
 * so the hot sort compares no strings). */
static int cmp_bar_in_symbol(const void *a, const void *b) {
    const hist_bar_row *x = a, *y = b;
    int c = CMP(x->iv, y->iv);
    if (c == 0) c = CMP(x->bar.start, y->bar.start);
    return c;
}

/* Sorts rows[from, to) (one symbol's) and folds runs of one key into their
 * first row, moving the result to rows[out, ...); returns the new end. */
static tb_status fold_symbol(hist_bar_row *rows, size_t from, size_t to, size_t *out) {
    qsort(rows + from, to - from, sizeof *rows, cmp_bar_in_symbol);
    size_t o = *out;
    for (size_t i = from; i < to; i++) {
        if (i > from && cmp_bar_in_symbol(&rows[o - 1], &rows[i]) == 0) {
            tb_status s = hist_bar_merge(&rows[o - 1].bar, &rows[i].bar);
            if (s != TB_OK) return s;
        } else {
            rows[o++] = rows[i];
        }
    }
    *out = o;
    return TB_OK;
}

tb_status hist_batch_merge(hist_batch *b) {
    b->nbars = 0;
    b->nnew = b->ndup = 0;
    for (size_t i = 0; i < b->nticks; i++) {
        hist_batch_tick *t = &b->ticks[i];
        if (t->outcome == HIST_TICK_DUP_BATCH) {
            b->ndup++;
            continue;
        }
        hist_seen_block *k = &b->blocks[t->block];
        unsigned bit = (unsigned)(t->seq % HIST_SEEN_BLOCK_SEQS);
        uint8_t mask = (uint8_t)(1u << (bit % 8));
        if (k->bits[bit / 8] & mask) {
            t->outcome = HIST_TICK_DUP_SEEN;
            b->ndup++;
            continue;
        }
        k->bits[bit / 8] |= mask;
        k->dirty = true;
        t->outcome = HIST_TICK_NEW;
        b->nnew++;
        if (reserve((void **)&b->bars, &b->cap_bars, b->nbars + HIST_NINTERVALS, sizeof *b->bars) !=
            TB_OK)
            return TB_NOMEM;
        for (int iv = 0; iv < HIST_NINTERVALS; iv++) {
            hist_bar_row *r = &b->bars[b->nbars++];
            r->symbol = t->symbol;
            r->iv = (hist_interval)iv;
            r->fresh = false;
            hist_bar_from_tick(&r->bar, hist_bucket_start(t->ts, (hist_interval)iv), t->price,
                               t->size, t->seq);
        }
    }
    /* Ticks are grouped by symbol, so each symbol's rows are contiguous and
     * the symbols already in order: sort and fold each symbol's rows alone. */
    size_t out = 0, from = 0;
    for (size_t i = 1; i <= b->nbars; i++) {
        if (i < b->nbars && strcmp(b->bars[i].symbol, b->bars[from].symbol) == 0) continue;
        tb_status s = fold_symbol(b->bars, from, i, &out);
        if (s != TB_OK) return s;
        from = i;
    }
    b->nbars = out;
    return TB_OK;
}
