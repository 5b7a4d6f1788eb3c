/* historical-data's in-memory batch merge (actors/historical-data/hist_batch.c):
 * copies inside a batch and ticks already in the stored seen-sets are
 * dropped, the bits of the others are set, and the bars equal the pure merge
 * of the distinct ticks whatever the order or the split over batches. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hist_batch.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)
#define SEC       INT64_C(1000000000)
/* 2024-01-02T10:00:00Z */
#define T0 (INT64_C(1704189600) * SEC)

typedef struct tk {
    const char *sym, *src;
    uint64_t seq;
    int64_t ts;
    tb_fixed price, size;
} tk;

static void add_all(hist_batch *b, const tk *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(
            hist_batch_add(b, t[i].sym, t[i].src, t[i].seq, t[i].ts, t[i].price, t[i].size, i),
            TB_OK);
}

static bool bit_set(const hist_seen_block *k, uint64_t seq) {
    unsigned bit = (unsigned)(seq % HIST_SEEN_BLOCK_SEQS);
    return (k->bits[bit / 8] >> (bit % 8)) & 1u;
}

static const hist_bar_row *find_bar(const hist_batch *b, const char *sym, hist_interval iv,
                                    int64_t start) {
    for (size_t i = 0; i < b->nbars; i++)
        if (strcmp(b->bars[i].symbol, sym) == 0 && b->bars[i].iv == iv &&
            b->bars[i].bar.start == start)
            return &b->bars[i];
    return NULL;
}

START_TEST(copies_inside_a_batch_count_once) {
    tk t[] = {
        {"AAA", "sim", 1, T0 + 1 * SEC, FX(10), FX(1)},
        {"AAA", "sim", 2, T0 + 2 * SEC, FX(12), FX(2)},
        {"AAA", "sim", 1, T0 + 1 * SEC, FX(10), FX(1)},
        {"AAA", "sim", 3, T0 + 3 * SEC, FX(9), FX(3)},
        {"AAA", "sim", 2, T0 + 2 * SEC, FX(12), FX(2)},
        {"AAA", "sim", 1, T0 + 1 * SEC, FX(10), FX(1)},
    };
    hist_batch b;
    hist_batch_init(&b);
    add_all(&b, t, 6);
    ck_assert_int_eq(hist_batch_group(&b), TB_OK);
    ck_assert_uint_eq(b.nblocks, 1);
    ck_assert_int_eq(hist_batch_merge(&b), TB_OK);
    ck_assert_uint_eq(b.nnew, 3);
    ck_assert_uint_eq(b.ndup, 3);
    int dups = 0;
    for (size_t i = 0; i < b.nticks; i++) dups += b.ticks[i].outcome == HIST_TICK_DUP_BATCH;
    ck_assert_int_eq(dups, 3);
    /* Three 1s bars, one bar each of 1m..1d holding all three ticks. */
    ck_assert_uint_eq(b.nbars, 3 + 4);
    const hist_bar_row *h = find_bar(&b, "AAA", HIST_1H, T0);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(h->bar.open, FX(10));
    ck_assert_int_eq(h->bar.high, FX(12));
    ck_assert_int_eq(h->bar.low, FX(9));
    ck_assert_int_eq(h->bar.close, FX(9));
    ck_assert_int_eq(h->bar.volume, FX(6));
    ck_assert_uint_eq(h->bar.ticks, 3);
    ck_assert_uint_eq(h->bar.first_seq, 1);
    ck_assert_uint_eq(h->bar.last_seq, 3);
    ck_assert(b.blocks[0].dirty);
    ck_assert(bit_set(&b.blocks[0], 1) && bit_set(&b.blocks[0], 2) && bit_set(&b.blocks[0], 3));
    ck_assert(!bit_set(&b.blocks[0], 0) && !bit_set(&b.blocks[0], 4));
    hist_batch_close(&b);
}
END_TEST

START_TEST(stored_bits_drop_ticks_seen_before) {
    tk t[] = {{"BBB", "sim", 1500, T0, FX(5), FX(1)},
              {"BBB", "sim", 1501, T0 + SEC, FX(6), FX(1)},
              {"BBB", "sim", 1502, T0 + 2 * SEC, FX(7), FX(1)}};
    hist_batch b;
    hist_batch_init(&b);
    add_all(&b, t, 3);
    ck_assert_int_eq(hist_batch_group(&b), TB_OK);
    ck_assert_uint_eq(b.nblocks, 1);
    /* The store says 1501 was seen (block 1 holds seqs 1024..2047). */
    hist_seen_block *k = hist_batch_find_block(&b, "BBB", "sim", T0 / HIST_SEEN_WINDOW_NS, 1);
    ck_assert_ptr_nonnull(k);
    unsigned bit = 1501 % HIST_SEEN_BLOCK_SEQS;
    k->bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
    ck_assert_int_eq(hist_batch_merge(&b), TB_OK);
    ck_assert_uint_eq(b.nnew, 2);
    ck_assert_uint_eq(b.ndup, 1);
    for (size_t i = 0; i < b.nticks; i++)
        ck_assert_int_eq(b.ticks[i].outcome,
                         b.ticks[i].seq == 1501 ? HIST_TICK_DUP_SEEN : HIST_TICK_NEW);
    ck_assert(bit_set(k, 1500) && bit_set(k, 1501) && bit_set(k, 1502));
    const hist_bar_row *d = find_bar(&b, "BBB", HIST_1D, hist_bucket_start(T0, HIST_1D));
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->bar.ticks, 2);
    ck_assert_int_eq(d->bar.high, FX(7));
    ck_assert_int_eq(d->bar.low, FX(5));
    /* Every tick seen: nothing new, nothing dirty, no bars. */
    hist_batch_reset(&b);
    add_all(&b, t, 3);
    ck_assert_int_eq(hist_batch_group(&b), TB_OK);
    memset(b.blocks[0].bits, 0xff, sizeof b.blocks[0].bits);
    ck_assert_int_eq(hist_batch_merge(&b), TB_OK);
    ck_assert_uint_eq(b.nnew, 0);
    ck_assert_uint_eq(b.nbars, 0);
    ck_assert(!b.blocks[0].dirty);
    hist_batch_close(&b);
}
END_TEST

START_TEST(blocks_keyed_by_symbol_source_hour_and_block) {
    tk t[] = {
        {"CCC", "sim", 1023, T0, FX(1), 0},
        {"CCC", "sim", 1024, T0, FX(1), 0},              /* next block */
        {"CCC", "replay", 1023, T0, FX(1), 0},           /* other source */
        {"CCC", "sim", 1023, T0 + 3600 * SEC, FX(1), 0}, /* other hour */
        {"CCC", "sim", 1023, T0 + 59 * SEC, FX(2), 0},   /* same identity */
        {"AAA", NULL, 1023, T0, FX(1), 0},               /* other symbol, no source */
        {"AAA", NULL, 5, -1, FX(1), 0},                  /* before the epoch: hour -1 */
    };
    hist_batch b;
    hist_batch_init(&b);
    add_all(&b, t, 7);
    ck_assert_int_eq(hist_batch_group(&b), TB_OK);
    ck_assert_uint_eq(b.nblocks, 6);
    int64_t h = T0 / HIST_SEEN_WINDOW_NS;
    ck_assert_ptr_nonnull(hist_batch_find_block(&b, "CCC", "sim", h, 0));
    ck_assert_ptr_nonnull(hist_batch_find_block(&b, "CCC", "sim", h, 1));
    ck_assert_ptr_nonnull(hist_batch_find_block(&b, "CCC", "replay", h, 0));
    ck_assert_ptr_nonnull(hist_batch_find_block(&b, "CCC", "sim", h + 1, 0));
    ck_assert_ptr_nonnull(hist_batch_find_block(&b, "AAA", "", h, 0));
    ck_assert_ptr_nonnull(hist_batch_find_block(&b, "AAA", "", -1, 0));
    ck_assert_ptr_null(hist_batch_find_block(&b, "CCC", "sim", h, 2));
    ck_assert_ptr_null(hist_batch_find_block(&b, "AAA", "sim", h, 0));
    /* Blocks are strictly ascending: the store locks them in this order. */
    for (size_t i = 1; i < b.nblocks; i++) {
        const hist_seen_block *p = &b.blocks[i - 1], *q = &b.blocks[i];
        int c = strcmp(p->symbol, q->symbol);
        if (c == 0) c = strcmp(p->source, q->source);
        if (c == 0) c = p->window < q->window ? -1 : p->window > q->window;
        if (c == 0) c = p->block < q->block ? -1 : p->block > q->block;
        ck_assert_int_lt(c, 0);
    }
    ck_assert_int_eq(hist_batch_merge(&b), TB_OK);
    ck_assert_uint_eq(b.nnew, 6);
    ck_assert_uint_eq(b.ndup, 1);
    /* The copy kept is the earlier one (lower ts), whatever the arrival order. */
    const hist_bar_row *m = find_bar(&b, "CCC", HIST_1M, T0);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->bar.ticks, 3); /* 1023 sim, 1024 sim, 1023 replay */
    ck_assert_int_eq(m->bar.high, FX(1));
    hist_batch_close(&b);
}
END_TEST

static uint64_t lcg_state;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}

#define NT 600

/* The bars of ticks merged one at a time, the oracle. */
static void oracle(const tk *t, size_t n, hist_bar_row *out, size_t *nout) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        for (int iv = 0; iv < HIST_NINTERVALS; iv++) {
            hist_bar one;
            hist_bar_from_tick(&one, hist_bucket_start(t[i].ts, (hist_interval)iv), t[i].price,
                               t[i].size, t[i].seq);
            size_t j = 0;
            while (j < k && !(strcmp(out[j].symbol, t[i].sym) == 0 &&
                              out[j].iv == (hist_interval)iv && out[j].bar.start == one.start))
                j++;
            if (j == k) {
                out[k++] = (hist_bar_row){.symbol = t[i].sym, .iv = (hist_interval)iv, .bar = one};
            } else {
                ck_assert_int_eq(hist_bar_merge(&out[j].bar, &one), TB_OK);
            }
        }
    }
    *nout = k;
}

static void assert_same(const hist_bar_row *got, size_t ngot, const hist_bar_row *want,
                        size_t nwant) {
    ck_assert_uint_eq(ngot, nwant);
    for (size_t i = 0; i < nwant; i++) {
        const hist_bar_row *g = NULL;
        for (size_t j = 0; j < ngot && g == NULL; j++)
            if (strcmp(got[j].symbol, want[i].symbol) == 0 && got[j].iv == want[i].iv &&
                got[j].bar.start == want[i].bar.start)
                g = &got[j];
        ck_assert_ptr_nonnull(g);
        ck_assert(memcmp(&g->bar, &want[i].bar, sizeof g->bar) == 0);
    }
}

START_TEST(shuffled_with_copies_split_over_batches_same_bars) {
    static tk ticks[NT], sent[2 * NT];
    static const char *syms[] = {"AAA", "BBB", "CCC", "DDD"};
    lcg_state = 7;
    tb_fixed px[4] = {FX(100), FX(50), FX(20), FX(300)};
    for (size_t i = 0; i < NT; i++) {
        int s = (int)(i % 4);
        px[s] += ((tb_fixed)(lcg() % 101) - 50) * 1000000;
        ticks[i] =
            (tk){syms[s],          "sim", i / 4 + 1, T0 + (int64_t)(i / 4) * 700000000LL, px[s],
                 FX(1 + lcg() % 5)};
    }
    hist_bar_row *want = calloc(NT * HIST_NINTERVALS, sizeof *want);
    size_t nwant = 0;
    oracle(ticks, NT, want, &nwant);
    /* Every tick once plus a third of them again, shuffled. */
    size_t n = 0;
    for (size_t i = 0; i < NT; i++) sent[n++] = ticks[i];
    for (size_t i = 0; i < NT / 3; i++) sent[n++] = ticks[lcg() % NT];
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = lcg() % (i + 1);
        tk x = sent[i];
        sent[i] = sent[j];
        sent[j] = x;
    }
    /* One batch. */
    hist_batch b;
    hist_batch_init(&b);
    add_all(&b, sent, n);
    ck_assert_int_eq(hist_batch_group(&b), TB_OK);
    ck_assert_int_eq(hist_batch_merge(&b), TB_OK);
    ck_assert_uint_eq(b.nnew, NT);
    assert_same(b.bars, b.nbars, want, nwant);

    /* Three batches sharing one store of seen-sets, as workers would: each
     * loads the bits the earlier ones wrote, and the partial bars merge to
     * the same result. */
    static uint8_t store[64][HIST_SEEN_BLOCK_BYTES];
    static hist_seen_block keys[64];
    size_t nkeys = 0;
    hist_bar_row *acc = calloc(NT * HIST_NINTERVALS, sizeof *acc);
    size_t nacc = 0, counted = 0;
    for (size_t part = 0; part < 3; part++) {
        size_t from = n * part / 3, to = n * (part + 1) / 3;
        hist_batch_reset(&b);
        add_all(&b, sent + from, to - from);
        ck_assert_int_eq(hist_batch_group(&b), TB_OK);
        for (size_t k = 0; k < b.nblocks; k++)
            for (size_t s = 0; s < nkeys; s++)
                if (strcmp(keys[s].symbol, b.blocks[k].symbol) == 0 &&
                    keys[s].window == b.blocks[k].window && keys[s].block == b.blocks[k].block)
                    memcpy(b.blocks[k].bits, store[s], HIST_SEEN_BLOCK_BYTES);
        ck_assert_int_eq(hist_batch_merge(&b), TB_OK);
        counted += b.nnew;
        for (size_t k = 0; k < b.nblocks; k++) {
            if (!b.blocks[k].dirty) continue;
            size_t s = 0;
            while (s < nkeys &&
                   !(strcmp(keys[s].symbol, b.blocks[k].symbol) == 0 &&
                     keys[s].window == b.blocks[k].window && keys[s].block == b.blocks[k].block))
                s++;
            if (s == nkeys) keys[nkeys++] = b.blocks[k];
            ck_assert_uint_lt(nkeys, 64);
            memcpy(store[s], b.blocks[k].bits, HIST_SEEN_BLOCK_BYTES);
        }
        for (size_t i = 0; i < b.nbars; i++) {
            size_t j = 0;
            while (j < nacc &&
                   !(strcmp(acc[j].symbol, b.bars[i].symbol) == 0 && acc[j].iv == b.bars[i].iv &&
                     acc[j].bar.start == b.bars[i].bar.start))
                j++;
            if (j == nacc)
                acc[nacc++] = b.bars[i];
            else
                ck_assert_int_eq(hist_bar_merge(&acc[j].bar, &b.bars[i].bar), TB_OK);
        }
    }
    ck_assert_uint_eq(counted, NT);
    assert_same(acc, nacc, want, nwant);
    hist_batch_close(&b);
    free(want);
    free(acc);
}
END_TEST

START_TEST(volume_overflow_is_reported) {
    tk t[] = {{"OVF", "sim", 1, T0, FX(1), INT64_MAX - 5}, {"OVF", "sim", 2, T0, FX(1), 10}};
    hist_batch b;
    hist_batch_init(&b);
    add_all(&b, t, 2);
    ck_assert_int_eq(hist_batch_group(&b), TB_OK);
    ck_assert_int_eq(hist_batch_merge(&b), TB_OVERFLOW);
    hist_batch_close(&b);
}
END_TEST

START_TEST(empty_batch) {
    hist_batch b;
    hist_batch_init(&b);
    ck_assert_int_eq(hist_batch_group(&b), TB_OK);
    ck_assert_int_eq(hist_batch_merge(&b), TB_OK);
    ck_assert_uint_eq(b.nbars + b.nblocks + b.nnew + b.ndup, 0);
    hist_batch_close(&b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hist_batch");
    TCase *tc = tcase_create("batch");
    tcase_add_test(tc, copies_inside_a_batch_count_once);
    tcase_add_test(tc, stored_bits_drop_ticks_seen_before);
    tcase_add_test(tc, blocks_keyed_by_symbol_source_hour_and_block);
    tcase_add_test(tc, shuffled_with_copies_split_over_batches_same_bars);
    tcase_add_test(tc, volume_overflow_is_reported);
    tcase_add_test(tc, empty_batch);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
