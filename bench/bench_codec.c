/* codec: what the catalogue's descriptor-driven codec costs over a codec
 * written for one event type.
 *
 * The baseline packs and unpacks tb_tick and tb_order with msgpack-c
 * directly: field by field in a fixed order, keys as compile-time literals,
 * values type-checked and strings bounded (what any safe hand-written
 * decoder does) but nothing more. It is expanded at compile time from the
 * same field lists in events.def, so no field name is spelled twice and the
 * bytes are identical to tb_encode's (checked before timing). tb_encode adds
 * tb_validate and the descriptor walk; tb_decode adds the structural
 * pre-scan, the duplicate-key check, required fields and tb_validate. Both
 * sides reuse one output buffer and unpack with msgpack_unpack_next. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define NEVENTS 256 /* distinct events cycled through, so branches see variety */

/* ---- the specialised codec, expanded from events.def ------------------ */

#define SP_REQ_REQ 1
#define SP_REQ_OPT 0

#define SP_ZERO_TOKEN(v) ((v)[0] == '\0')
#define SP_ZERO_ID(v)    ((v)[0] == '\0')
#define SP_ZERO_ENUM(v)  ((v)[0] == '\0')
#define SP_ZERO_TEXT(v)  ((v)[0] == '\0')
#define SP_ZERO_U64(v)   ((v) == 0)
#define SP_ZERO_I64(v)   ((v) == 0)
#define SP_ZERO_TS(v)    ((v) == 0)
#define SP_ZERO_FIXED(v) ((v) == 0)
#define SP_ZERO_BOOL(v)  (!(v))

static int sp_pack_str(msgpack_packer *pk, const char *s, size_t n) {
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

#define SP_PACK_TOKEN(pk, v) sp_pack_str(pk, v, strlen(v))
#define SP_PACK_ID(pk, v)    sp_pack_str(pk, v, strlen(v))
#define SP_PACK_ENUM(pk, v)  sp_pack_str(pk, v, strlen(v))
#define SP_PACK_TEXT(pk, v)  sp_pack_str(pk, v, strlen(v))
#define SP_PACK_U64(pk, v)   msgpack_pack_uint64(pk, v)
#define SP_PACK_I64(pk, v)   msgpack_pack_int64(pk, v)
#define SP_PACK_TS(pk, v)    msgpack_pack_int64(pk, v)
#define SP_PACK_FIXED(pk, v) msgpack_pack_int64(pk, v)
#define SP_PACK_BOOL(pk, v)  ((v) ? msgpack_pack_true(pk) : msgpack_pack_false(pk))

#define SP_PRESENT(E, n, t, r, x, d) +(SP_REQ_##r || !SP_ZERO_##t(ev->n))
#define SP_PACK(E, n, t, r, x, d)                                                                  \
    if (SP_REQ_##r || !SP_ZERO_##t(ev->n))                                                         \
        rc |= sp_pack_str(&pk, #n, sizeof #n - 1) | SP_PACK_##t(&pk, ev->n);

static bool sp_get_str(const msgpack_object *v, char *dst, size_t cap) {
    if (v->type != MSGPACK_OBJECT_STR || v->via.str.size > cap - 1) return false;
    memcpy(dst, v->via.str.ptr, v->via.str.size);
    dst[v->via.str.size] = '\0';
    return true;
}

static bool sp_get_i64(const msgpack_object *v, int64_t *dst) {
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
        *dst = (int64_t)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *dst = v->via.i64;
    else
        return false;
    return true;
}

static bool sp_get_u64(const msgpack_object *v, uint64_t *dst) {
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return false;
    *dst = v->via.u64;
    return true;
}

static bool sp_get_bool(const msgpack_object *v, bool *dst) {
    if (v->type != MSGPACK_OBJECT_BOOLEAN) return false;
    *dst = v->via.boolean;
    return true;
}

#define SP_GET_TOKEN(v, dst) sp_get_str(v, dst, sizeof dst)
#define SP_GET_ID(v, dst)    sp_get_str(v, dst, sizeof dst)
#define SP_GET_ENUM(v, dst)  sp_get_str(v, dst, sizeof dst)
#define SP_GET_TEXT(v, dst)  sp_get_str(v, dst, sizeof dst)
#define SP_GET_U64(v, dst)   sp_get_u64(v, &(dst))
#define SP_GET_I64(v, dst)   sp_get_i64(v, &(dst))
#define SP_GET_TS(v, dst)    sp_get_i64(v, &(dst))
#define SP_GET_FIXED(v, dst) sp_get_i64(v, &(dst))
#define SP_GET_BOOL(v, dst)  sp_get_bool(v, &(dst))

#define SP_MATCH(E, n, t, r, x, d)                                                                 \
    else if (k->size == sizeof #n - 1 && memcmp(k->ptr, #n, sizeof #n - 1) == 0) ok =              \
        SP_GET_##t(v, ev->n);

/* sp_encode_<E> appends ev to out; sp_decode_<E> fills ev from one map
 * covering exactly buf[0..len). Unknown keys are skipped, as in tb_decode. */
#define SP_CODEC(E)                                                                                \
    static bool sp_encode_##E(const tb_##E *ev, msgpack_sbuffer *out) {                            \
        msgpack_packer pk;                                                                         \
        msgpack_packer_init(&pk, out, msgpack_sbuffer_write);                                      \
        int rc = msgpack_pack_map(&pk, 0 TB_FIELDS_##E(SP_PRESENT, E));                            \
        TB_FIELDS_##E(SP_PACK, E);                                                                 \
        return rc == 0;                                                                            \
    }                                                                                              \
    static bool sp_decode_##E(const void *buf, size_t len, tb_##E *ev) {                           \
        memset(ev, 0, sizeof *ev);                                                                 \
        msgpack_unpacked up;                                                                       \
        msgpack_unpacked_init(&up);                                                                \
        size_t off = 0;                                                                            \
        msgpack_unpack_return r = msgpack_unpack_next(&up, buf, len, &off);                        \
        bool ok = (r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES) &&              \
                  off == len && up.data.type == MSGPACK_OBJECT_MAP;                                \
        for (uint32_t i = 0; ok && i < up.data.via.map.size; i++) {                                \
            const msgpack_object_kv *kv = &up.data.via.map.ptr[i];                                 \
            if (kv->key.type != MSGPACK_OBJECT_STR) {                                              \
                ok = false;                                                                        \
                break;                                                                             \
            }                                                                                      \
            const msgpack_object_str *k = &kv->key.via.str;                                        \
            const msgpack_object *v = &kv->val;                                                    \
            if (0) {                                                                               \
            }                                                                                      \
            TB_FIELDS_##E(SP_MATCH, E)                                                             \
        }                                                                                          \
        msgpack_unpacked_destroy(&up);                                                             \
        return ok;                                                                                 \
    }

SP_CODEC(tick)
SP_CODEC(order)

/* ---- sample events ----------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) { /* xorshift64*: deterministic, so every run codes the same events */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static void make_ticks(tb_tick *t) {
    static const char *const symbols[] = {"DAX", "ESTX50", "EURUSD", "BTCUSD"};
    for (size_t i = 0; i < NEVENTS; i++) {
        memset(&t[i], 0, sizeof t[i]);
        snprintf(t[i].symbol, sizeof t[i].symbol, "%s", symbols[i % 4]);
        t[i].seq = 1 + i * 7;
        t[i].ts = 1767225600000000000 + (int64_t)(rnd() % 1000000000000);
        tb_fixed mid = 100 * TB_FIXED_SCALE + (tb_fixed)(rnd() % (2000000 * TB_FIXED_SCALE));
        t[i].bid = mid - 50000000;
        t[i].ask = mid + 50000000;
        t[i].last = mid;
        t[i].bid_size = (tb_fixed)(1 + rnd() % 100) * TB_FIXED_SCALE;
        t[i].ask_size = (tb_fixed)(1 + rnd() % 100) * TB_FIXED_SCALE;
        t[i].last_size = (tb_fixed)(rnd() % 5000000000);
        snprintf(t[i].source, sizeof t[i].source, "sim");
    }
}

static void make_orders(tb_order *o) {
    for (size_t i = 0; i < NEVENTS; i++) {
        memset(&o[i], 0, sizeof o[i]);
        snprintf(o[i].order_id, sizeof o[i].order_id, "%016llx%016llx", (unsigned long long)rnd(),
                 (unsigned long long)rnd());
        snprintf(o[i].client_order_id, sizeof o[i].client_order_id, "c-%zu", i);
        snprintf(o[i].account, sizeof o[i].account, "DEMO");
        snprintf(o[i].symbol, sizeof o[i].symbol, "DAX");
        snprintf(o[i].side, sizeof o[i].side, "%s", i % 2 ? "sell" : "buy");
        snprintf(o[i].type, sizeof o[i].type, "%s", i % 3 ? "limit" : "market");
        o[i].qty = (tb_fixed)(1 + rnd() % 1000) * TB_FIXED_SCALE / 10;
        if (i % 3) o[i].limit_price = 18000 * TB_FIXED_SCALE + (tb_fixed)(rnd() % 100000000000);
        snprintf(o[i].tif, sizeof o[i].tif, "%s", i % 5 ? "day" : "gtc");
        snprintf(o[i].source, sizeof o[i].source, "api");
        o[i].ts = 1767225600000000000 + (int64_t)(rnd() % 1000000000000);
    }
}

/* ---- one event type ----------------------------------------------------- */

typedef bool (*sp_enc_fn)(const void *ev, msgpack_sbuffer *out);
typedef bool (*sp_dec_fn)(const void *buf, size_t len, void *ev);

static bool sp_enc_tick(const void *ev, msgpack_sbuffer *out) {
    return sp_encode_tick(ev, out);
}
static bool sp_dec_tick(const void *buf, size_t len, void *ev) {
    return sp_decode_tick(buf, len, ev);
}
static bool sp_enc_order(const void *ev, msgpack_sbuffer *out) {
    return sp_encode_order(ev, out);
}
static bool sp_dec_order(const void *buf, size_t len, void *ev) {
    return sp_decode_order(buf, len, ev);
}

typedef struct codec_case {
    const char *name; /* "tick" */
    const tb_event_desc *desc;
    const char *events; /* NEVENTS structs of desc->struct_size */
    sp_enc_fn sp_enc;
    sp_dec_fn sp_dec;
    msgpack_sbuffer wire[NEVENTS]; /* tb_encode of each event */
} codec_case;

/* Both codecs must agree byte for byte and round-trip every sample, or the
 * comparison would be between different work. */
static bool check_case(codec_case *c, char *why, size_t cap) {
    size_t sz = c->desc->struct_size;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    void *back = malloc(sz);
    bool ok = back != NULL;
    tb_error err = {0};
    for (size_t i = 0; ok && i < NEVENTS; i++) {
        const char *ev = c->events + i * sz;
        msgpack_sbuffer_init(&c->wire[i]);
        if (tb_encode(c->desc, ev, &c->wire[i], &err) != TB_OK) {
            snprintf(why, cap, "tb_encode of sample %zu: %.160s", i, err.message);
            ok = false;
        } else if ((sb.size = 0, !c->sp_enc(ev, &sb)) || sb.size != c->wire[i].size ||
                   memcmp(sb.data, c->wire[i].data, sb.size) != 0) {
            snprintf(why, cap, "sample %zu: specialised bytes differ from tb_encode", i);
            ok = false;
        } else if (!c->sp_dec(sb.data, sb.size, back) || memcmp(back, ev, sz) != 0) {
            snprintf(why, cap, "sample %zu: specialised decode differs", i);
            ok = false;
        } else if (tb_decode(c->desc, sb.data, sb.size, back, &err) != TB_OK ||
                   memcmp(back, ev, sz) != 0) {
            snprintf(why, cap, "sample %zu: tb_decode differs: %.160s", i, err.message);
            ok = false;
        }
    }
    free(back);
    msgpack_sbuffer_destroy(&sb);
    return ok;
}

enum { OP_ROUNDTRIP, OP_ENCODE, OP_DECODE };

/* Runs n operations of kind op with the catalogue codec (tb) or the
 * specialised one; returns false if any call failed. */
static bool run_ops(codec_case *c, int op, bool tb, size_t n, msgpack_sbuffer *sb, void *ev_out,
                    uint64_t *acc) {
    size_t sz = c->desc->struct_size;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        size_t k = i % NEVENTS;
        const void *ev = c->events + k * sz;
        const void *buf = c->wire[k].data;
        size_t len = c->wire[k].size;
        if (op != OP_DECODE) {
            sb->size = 0;
            ok &= tb ? tb_encode(c->desc, ev, sb, NULL) == TB_OK : c->sp_enc(ev, sb);
            buf = sb->data;
            len = sb->size;
            *acc += len;
        }
        if (op != OP_ENCODE) {
            ok &= tb ? tb_decode(c->desc, buf, len, ev_out, NULL) == TB_OK
                     : c->sp_dec(buf, len, ev_out);
            *acc += *(const unsigned char *)ev_out;
        }
    }
    return ok;
}

static bool bench_case(const bench_opts *o, codec_case *c) {
    static const char *const what[] = {"encode+decode", "encode", "decode"};
    char why[256];
    bool ok = true;
    if (!check_case(c, why, sizeof why)) {
        printf("%-10s %s: FAILED: %s\n", "codec", c->name, why);
        ok = false;
    }
    size_t n = bench_count(o, 200000, 100);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    void *ev_out = malloc(c->desc->struct_size);
    for (int op = OP_ROUNDTRIP; ok && op <= OP_DECODE; op++) {
        char title[96];
        snprintf(title, sizeof title, "%s %s, %zu-byte message", c->name, what[op],
                 c->wire[0].size);
        const char *names[2] = {"msgpack-c specialised", "tb_encode/tb_decode (descriptors)"};
        if (op == OP_ENCODE) names[1] = "tb_encode";
        if (op == OP_DECODE) names[1] = "tb_decode";
        bench_group g;
        if (ev_out == NULL ||
            !bench_group_init(&g, "codec", title, BENCH_RATIO_OPS, names, 2, o->reps, 0)) {
            ok = false;
            break;
        }
        uint64_t acc = 0;
        for (int r = 0; r < o->reps; r++)
            for (size_t v = 0; v < 2; v++) {
                int64_t t0 = bus_mono_ns();
                bool good = run_ops(c, op, v == 1, n, &sb, ev_out, &acc);
                bench_record(&g, v, n, bus_mono_ns() - t0);
                if (!good) bench_fail(&g, v, "a call failed");
            }
        bench_consume(acc);
        ok = bench_print_group(&g) && ok;
        bench_group_free(&g);
    }
    free(ev_out);
    msgpack_sbuffer_destroy(&sb);
    return ok;
}

bool bench_codec(const bench_opts *o) {
    static tb_tick ticks[NEVENTS];
    static tb_order orders[NEVENTS];
    static codec_case cases[2];
    make_ticks(ticks);
    make_orders(orders);
    cases[0] = (codec_case){.name = "tick",
                            .desc = &tb_tick_desc,
                            .events = (const char *)ticks,
                            .sp_enc = sp_enc_tick,
                            .sp_dec = sp_dec_tick};
    cases[1] = (codec_case){.name = "order",
                            .desc = &tb_order_desc,
                            .events = (const char *)orders,
                            .sp_enc = sp_enc_order,
                            .sp_dec = sp_dec_order};
    bool ok = true;
    for (size_t i = 0; i < 2; i++) {
        ok = bench_case(o, &cases[i]) && ok;
        for (size_t k = 0; k < NEVENTS; k++) msgpack_sbuffer_destroy(&cases[i].wire[k]);
    }
    return ok;
}
