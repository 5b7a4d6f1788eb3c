/* JSON form of sp_state (see strategy_state.h):
 *   {"f":1,"kind":"sma_cross","cfg":<version>,"rel":-1|0|1,"side":-1|0|1, ...}
 * plus, per kind:
 *   sma_cross  "fast":[p...], "slow":[p...]      windows, oldest first
 *   ema_cross  "fast":{"seen":n,"seed":"<i128>","value":p}, "slow":{...}
 *   rsi        "rsi":{"n":changes,"prev":p|null,"sg":"<i128>","sl":"<i128>","ag":p,"al":p}
 *   bollinger, donchian  "w":[p...]
 * and, while a decision waits for the next tick (strategy.h, sp_pending),
 *   "pend":{"side":-1|1,"seq":n,"ts":ns,"price":p,"why":"...","tr":"..."}
 * and, for a strategy counting in bars, the bar being built,
 *   "bar":{"b":start_ns,"c":close,"s":seq,"t":ts_ns,"tr":"..."}
 * Prices are integers in 1e-8 units (tb_fixed raw values). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strategy_state.h"

/* ---- 128-bit integers as decimal strings ---- */

static void i128_format(__int128 v, char buf[48]) {
    char tmp[48];
    int n = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    int o = 0;
    if (neg) buf[o++] = '-';
    while (n) buf[o++] = tmp[--n];
    buf[o] = '\0';
}

static bool i128_parse(const char *s, __int128 *out) {
    if (s == NULL || *s == '\0') return false;
    bool neg = *s == '-';
    if (neg) s++;
    if (*s == '\0' || strlen(s) > 38) return false; /* 38 digits always fit */
    __int128 v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        v = v * 10 + (*s - '0');
    }
    *out = neg ? -v : v;
    return true;
}

/* ---- encode ---- */

static json_t *window_json(const sp_window *w) {
    json_t *a = json_array();
    for (uint32_t i = w->count; a && i > 0; i--)
        if (json_array_append_new(a, json_integer(sp_window_at(w, i - 1))) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *ema_json(const sp_ema *e) {
    char seed[48];
    i128_format(e->seed_sum, seed);
    return json_pack("{s:I, s:s, s:I}", "seen", (json_int_t)e->seen, "seed", seed, "value",
                     (json_int_t)e->value);
}

static json_t *rsi_json(const sp_rsi *r) {
    char sg[48], sl[48];
    i128_format(r->sum_gain, sg);
    i128_format(r->sum_loss, sl);
    return json_pack("{s:I, s:o, s:s, s:s, s:I, s:I}", "n", (json_int_t)r->changes, "prev",
                     r->has_prev ? json_integer(r->prev) : json_null(), "sg", sg, "sl", sl, "ag",
                     (json_int_t)r->avg_gain, "al", (json_int_t)r->avg_loss);
}

char *sp_state_encode(const sp_state *s, size_t *len) {
    const char *kind = sp_kind_name(s->kind);
    if (kind == NULL) return NULL;
    json_t *o =
        json_pack("{s:i, s:s, s:I, s:i, s:i}", "f", SP_STATE_FORMAT, "kind", kind, "cfg",
                  (json_int_t)s->cfg_version, "rel", (int)s->relation, "side", (int)s->last_side);
    if (o == NULL) return NULL;
    int rc = 0;
    switch (s->kind) {
    case SP_KIND_SMA_CROSS:
        rc |= json_object_set_new(o, "fast", window_json(&s->u.sma.fast.w));
        rc |= json_object_set_new(o, "slow", window_json(&s->u.sma.slow.w));
        break;
    case SP_KIND_EMA_CROSS:
        rc |= json_object_set_new(o, "fast", ema_json(&s->u.ema.fast));
        rc |= json_object_set_new(o, "slow", ema_json(&s->u.ema.slow));
        break;
    case SP_KIND_RSI:
        rc |= json_object_set_new(o, "rsi", rsi_json(&s->u.rsi));
        break;
    case SP_KIND_BOLLINGER:
        rc |= json_object_set_new(o, "w", window_json(&s->u.boll.w));
        break;
    case SP_KIND_DONCHIAN:
        rc |= json_object_set_new(o, "w", window_json(&s->u.don.w));
        break;
    default:
        rc = -1;
        break;
    }
    if (rc == 0 && s->pending.side != SP_SIDE_NONE) {
        const sp_pending *pd = &s->pending;
        rc |= json_object_set_new(o, "pend",
                                  json_pack("{s:i, s:I, s:I, s:I, s:s, s:s}", "side", (int)pd->side,
                                            "seq", (json_int_t)pd->seq, "ts", (json_int_t)pd->ts,
                                            "price", (json_int_t)pd->price, "why", pd->reason, "tr",
                                            pd->trace));
    }
    if (rc == 0 && s->bar.open) {
        const sp_bar *b = &s->bar;
        rc |= json_object_set_new(o, "bar",
                                  json_pack("{s:I, s:I, s:I, s:I, s:s}", "b", (json_int_t)b->start,
                                            "c", (json_int_t)b->close, "s", (json_int_t)b->seq, "t",
                                            (json_int_t)b->ts, "tr", b->trace));
    }
    char *text = rc == 0 ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (text && len) *len = strlen(text);
    return text;
}

/* ---- decode ---- */

static tb_status bad(tb_error *err, const char *what) {
    return tb_error_set(err, TB_INVALID, "state", "stored indicator state: %s", what);
}

static bool get_int(const json_t *o, const char *key, json_int_t lo, json_int_t hi,
                    json_int_t *out) {
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return false;
    json_int_t n = json_integer_value(v);
    if (n < lo || n > hi) return false;
    *out = n;
    return true;
}

static bool get_i128(const json_t *o, const char *key, __int128 *out) {
    return i128_parse(json_string_value(json_object_get(o, key)), out);
}

static bool load_window(const json_t *a, sp_window *w) {
    if (!json_is_array(a) || json_array_size(a) > w->cap) return false;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        if (!json_is_integer(v)) return false;
        sp_window_push(w, (tb_fixed)json_integer_value(v));
    }
    return true;
}

static bool load_ema(const json_t *o, sp_ema *e) {
    json_int_t seen, value;
    __int128 seed;
    if (!json_is_object(o) || !get_int(o, "seen", 0, e->period, &seen) ||
        !get_int(o, "value", TB_FIXED_MIN, TB_FIXED_MAX, &value) || !get_i128(o, "seed", &seed))
        return false;
    e->seen = (uint32_t)seen;
    e->seed_sum = seed;
    e->value = (tb_fixed)value;
    return true;
}

static bool load_rsi(const json_t *o, sp_rsi *r) {
    json_int_t n, ag, al, prev = 0;
    __int128 sg, sl;
    if (!json_is_object(o) || !get_int(o, "n", 0, r->period, &n) ||
        !get_int(o, "ag", 0, TB_FIXED_MAX, &ag) || !get_int(o, "al", 0, TB_FIXED_MAX, &al) ||
        !get_i128(o, "sg", &sg) || !get_i128(o, "sl", &sl))
        return false;
    const json_t *pv = json_object_get(o, "prev");
    bool has_prev = !json_is_null(pv);
    if (has_prev && !get_int(o, "prev", TB_FIXED_MIN, TB_FIXED_MAX, &prev)) return false;
    if (!has_prev && n != 0) return false;
    r->changes = (uint32_t)n;
    r->has_prev = has_prev;
    r->prev = (tb_fixed)prev;
    r->sum_gain = sg;
    r->sum_loss = sl;
    r->avg_gain = (tb_fixed)ag;
    r->avg_loss = (tb_fixed)al;
    return true;
}

/* The optional "pend" member; absent is nothing pending. */
static bool load_pending(const json_t *o, sp_pending *pd) {
    *pd = (sp_pending){.side = SP_SIDE_NONE};
    if (o == NULL) return true;
    json_int_t side, seq, ts, price;
    const char *why = json_string_value(json_object_get(o, "why"));
    const char *tr = json_string_value(json_object_get(o, "tr"));
    if (!json_is_object(o) || !get_int(o, "side", -1, 1, &side) || side == 0 ||
        !get_int(o, "seq", 1, INT64_MAX, &seq) || !get_int(o, "ts", 0, INT64_MAX, &ts) ||
        !get_int(o, "price", 1, TB_FIXED_MAX, &price) || why == NULL ||
        strlen(why) >= sizeof pd->reason || tr == NULL || strlen(tr) >= sizeof pd->trace)
        return false;
    pd->side = side > 0 ? SP_SIDE_BUY : SP_SIDE_SELL;
    pd->seq = (uint64_t)seq;
    pd->ts = (int64_t)ts;
    pd->price = (tb_fixed)price;
    snprintf(pd->reason, sizeof pd->reason, "%s", why);
    snprintf(pd->trace, sizeof pd->trace, "%s", tr);
    return true;
}

/* The optional "bar" member; absent is no bar being built. */
static bool load_bar(const json_t *o, sp_bar *b) {
    *b = (sp_bar){.open = false};
    if (o == NULL) return true;
    json_int_t start, close, seq, ts;
    const char *tr = json_string_value(json_object_get(o, "tr"));
    if (!json_is_object(o) || !get_int(o, "b", INT64_MIN, INT64_MAX, &start) ||
        !get_int(o, "c", 1, TB_FIXED_MAX, &close) || !get_int(o, "s", 1, INT64_MAX, &seq) ||
        !get_int(o, "t", INT64_MIN, INT64_MAX, &ts) || tr == NULL || strlen(tr) >= sizeof b->trace)
        return false;
    *b = (sp_bar){.open = true,
                  .start = (int64_t)start,
                  .close = (tb_fixed)close,
                  .seq = (uint64_t)seq,
                  .ts = (int64_t)ts};
    snprintf(b->trace, sizeof b->trace, "%s", tr);
    return true;
}

tb_status sp_state_decode(const char *buf, size_t len, const sp_params *p, sp_state *out,
                          tb_error *err) {
    json_error_t je;
    json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return bad(err, "not a JSON object");
    }
    tb_status s = TB_OK;
    json_int_t f = 0, cfg = 0, rel = 0, side = 0; /* set by get_int on success */
    const char *kind = json_string_value(json_object_get(o, "kind"));
    /* Heap, not stack: the state holds windows of up to SP_MAX_PERIOD prices. */
    sp_state *st = malloc(sizeof *st);
    if (st == NULL) {
        json_decref(o);
        return tb_error_set(err, TB_NOMEM, NULL, NULL);
    }
    if (!get_int(o, "f", SP_STATE_FORMAT, SP_STATE_FORMAT, &f))
        s = bad(err, "unknown format");
    else if (kind == NULL || sp_kind_name(p->kind) == NULL ||
             strcmp(kind, sp_kind_name(p->kind)) != 0)
        s = bad(err, "written for another strategy kind");
    else if (!get_int(o, "cfg", INT64_MIN, INT64_MAX, &cfg) || !get_int(o, "rel", -1, 1, &rel) ||
             !get_int(o, "side", -1, 1, &side))
        s = bad(err, "missing or bad cfg/rel/side");
    if (s == TB_OK) {
        sp_state_init(st, p, cfg);
        st->relation = (int8_t)rel;
        st->last_side = (int8_t)side;
        bool ok;
        switch (p->kind) {
        case SP_KIND_SMA_CROSS:
            ok = load_window(json_object_get(o, "fast"), &st->u.sma.fast.w) &&
                 load_window(json_object_get(o, "slow"), &st->u.sma.slow.w);
            sp_sma_resum(&st->u.sma.fast);
            sp_sma_resum(&st->u.sma.slow);
            break;
        case SP_KIND_EMA_CROSS:
            ok = load_ema(json_object_get(o, "fast"), &st->u.ema.fast) &&
                 load_ema(json_object_get(o, "slow"), &st->u.ema.slow);
            break;
        case SP_KIND_RSI:
            ok = load_rsi(json_object_get(o, "rsi"), &st->u.rsi);
            break;
        case SP_KIND_BOLLINGER:
            ok = load_window(json_object_get(o, "w"), &st->u.boll.w);
            break;
        case SP_KIND_DONCHIAN:
            ok = load_window(json_object_get(o, "w"), &st->u.don.w);
            break;
        default:
            ok = false;
            break;
        }
        if (!ok)
            s = bad(err, "indicator data does not match the strategy's parameters");
        else if (!load_pending(json_object_get(o, "pend"), &st->pending))
            s = bad(err, "malformed pending decision");
        else if (!load_bar(json_object_get(o, "bar"), &st->bar))
            s = bad(err, "malformed bar");
        else if (st->bar.open && p->bar_ns == 0)
            s = bad(err, "a bar for a strategy that counts ticks");
    }
    if (s == TB_OK) memcpy(out, st, sizeof *st);
    free(st);
    json_decref(o);
    return s;
}

bool sp_state_version(const char *buf, size_t len, int64_t *out) {
    json_t *o = json_loadb(buf, len, 0, NULL);
    json_int_t v = 0;
    bool ok = json_is_object(o) && get_int(o, "cfg", INT64_MIN, INT64_MAX, &v);
    json_decref(o);
    if (ok) *out = v;
    return ok;
}
