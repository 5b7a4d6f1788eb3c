/* Strategy kinds and their parameters: validation of the JSON object a user
 * supplies, and the canonical form stored in PostgreSQL. Every error names
 * the field ("kind", "params", "params.<name>") so the REST caller can point
 * at it. No I/O. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "strategy.h"

static const char *const kind_names[SP_KIND_COUNT] = {
    [SP_KIND_SMA_CROSS] = "sma_cross", [SP_KIND_EMA_CROSS] = "ema_cross", [SP_KIND_RSI] = "rsi",
    [SP_KIND_BOLLINGER] = "bollinger", [SP_KIND_DONCHIAN] = "donchian",
};

/* Parameter names each kind accepts, all required. */
static const char *const kind_keys[SP_KIND_COUNT][4] = {
    [SP_KIND_SMA_CROSS] = {"fast", "slow", NULL},
    [SP_KIND_EMA_CROSS] = {"fast", "slow", NULL},
    [SP_KIND_RSI] = {"period", "lower", "upper", NULL},
    [SP_KIND_BOLLINGER] = {"period", "k", NULL},
    [SP_KIND_DONCHIAN] = {"period", NULL},
};

const char *sp_kind_name(sp_kind k) {
    return (unsigned)k < SP_KIND_COUNT ? kind_names[k] : NULL;
}

tb_status sp_kind_parse(const char *name, sp_kind *out, tb_error *err) {
    for (int k = 0; k < SP_KIND_COUNT; k++)
        if (name && strcmp(name, kind_names[k]) == 0) {
            *out = (sp_kind)k;
            return TB_OK;
        }
    return tb_error_set(err, TB_INVALID, "kind",
                        "unknown strategy kind '%.40s' (expected sma_cross, ema_cross, rsi, "
                        "bollinger or donchian)",
                        name ? name : "");
}

static tb_status get_period(const json_t *obj, const char *key, uint32_t min, uint32_t *out,
                            tb_error *err) {
    char field[32];
    snprintf(field, sizeof field, "params.%s", key);
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) return tb_error_set(err, TB_INVALID, field, "required");
    if (!json_is_integer(v))
        return tb_error_set(err, TB_INVALID, field,
                            "must be an integer number of periods (ticks, or bars)");
    json_int_t n = json_integer_value(v);
    if (n < (json_int_t)min || n > SP_MAX_PERIOD)
        return tb_error_set(err, TB_INVALID, field, "must be between %u and %d, got %lld", min,
                            SP_MAX_PERIOD, (long long)n);
    *out = (uint32_t)n;
    return TB_OK;
}

/* A JSON real as an exact decimal with at most 8 places: the shortest
 * "%.*f" text that reads back as the same double, so 2.5 and 29.75 are
 * accepted and 0.1 (really 0.1000000000000000055...) reads as 0.1. */
static tb_status real_to_fixed(double d, tb_fixed *out) {
    if (!isfinite(d) || fabs(d) > 9.0e10) return TB_OVERFLOW;
    char buf[64];
    for (int places = 0; places <= TB_FIXED_DECIMALS; places++) {
        snprintf(buf, sizeof buf, "%.*f", places, d);
        if (strtod(buf, NULL) == d) return tb_fixed_parse_cstr(buf, out);
    }
    return TB_PRECISION;
}

static tb_status get_fixed(const json_t *obj, const char *key, tb_fixed *out, tb_error *err) {
    char field[32];
    snprintf(field, sizeof field, "params.%s", key);
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) return tb_error_set(err, TB_INVALID, field, "required");
    tb_status s;
    if (json_is_integer(v))
        s = tb_fixed_from_int(json_integer_value(v), out);
    else if (json_is_real(v))
        s = real_to_fixed(json_real_value(v), out);
    else if (json_is_string(v))
        s = tb_fixed_parse(json_string_value(v), json_string_length(v), out);
    else
        return tb_error_set(err, TB_INVALID, field, "must be a number");
    if (s != TB_OK)
        return tb_error_set(err, s, field, "not a decimal number with at most 8 decimals (%s)",
                            tb_status_text(s));
    return TB_OK;
}

/* Bar lengths a strategy may count its periods in: historical-data's. */
static const struct {
    const char *name;
    int64_t ns;
} bar_lengths[] = {{"1s", INT64_C(1000000000)},
                   {"1m", INT64_C(60000000000)},
                   {"5m", INT64_C(300000000000)},
                   {"1h", INT64_C(3600000000000)},
                   {"1d", INT64_C(86400000000000)}};
#define N_BAR_LENGTHS (sizeof bar_lengths / sizeof bar_lengths[0])

/* The optional "bars" parameter of every kind: absent counts ticks. */
static tb_status get_bars(const json_t *obj, int64_t *out, tb_error *err) {
    const json_t *v = json_object_get(obj, "bars");
    *out = 0;
    if (v == NULL) return TB_OK;
    const char *name = json_string_value(v);
    for (size_t i = 0; name && i < N_BAR_LENGTHS; i++)
        if (strcmp(name, bar_lengths[i].name) == 0) {
            *out = bar_lengths[i].ns;
            return TB_OK;
        }
    return tb_error_set(err, TB_INVALID, "params.bars",
                        "must be one of \"1s\", \"1m\", \"5m\", \"1h\", \"1d\" (periods "
                        "counted in bars of that length; leave it out to count ticks)");
}

static const char *bars_name(int64_t ns) {
    for (size_t i = 0; i < N_BAR_LENGTHS; i++)
        if (bar_lengths[i].ns == ns) return bar_lengths[i].name;
    return NULL;
}

static tb_status check_keys(const json_t *obj, sp_kind kind, tb_error *err) {
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool known = strcmp(key, "bars") == 0;
        for (int i = 0; kind_keys[kind][i]; i++) known |= strcmp(key, kind_keys[kind][i]) == 0;
        if (!known) {
            /* Refused like an unknown body field, with the nearest name. */
            char expected[64] = "";
            const char *near = NULL;
            size_t near_d = 3;
            for (int i = 0; kind_keys[kind][i]; i++) {
                snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s%s",
                         i ? ", " : "", kind_keys[kind][i]);
                size_t d = tb_name_distance(key, strlen(key), kind_keys[kind][i],
                                            strlen(kind_keys[kind][i]), 2);
                if (d < near_d) {
                    near = kind_keys[kind][i];
                    near_d = d;
                }
            }
            if (tb_name_distance(key, strlen(key), "bars", 4, 2) < near_d) near = "bars";
            char field[48], hint[48] = "";
            snprintf(field, sizeof field, "params.%.30s", key);
            if (near) snprintf(hint, sizeof hint, "did you mean \"%s\"? ", near);
            return tb_error_set(err, TB_UNKNOWN_FIELD, field,
                                "unknown parameter %s for %s (%sexpected %s, optionally bars)",
                                field, kind_names[kind], hint, expected);
        }
    }
    return TB_OK;
}

static tb_status parse_obj(const json_t *obj, sp_params *p, tb_error *err) {
    const tb_fixed hundred = 100 * TB_FIXED_SCALE;
    tb_status s = check_keys(obj, p->kind, err);
    if (s == TB_OK) s = get_bars(obj, &p->bar_ns, err);
    if (s != TB_OK) return s;
    switch (p->kind) {
    case SP_KIND_SMA_CROSS:
    case SP_KIND_EMA_CROSS:
        if ((s = get_period(obj, "fast", 1, &p->fast, err)) != TB_OK) return s;
        if ((s = get_period(obj, "slow", 2, &p->slow, err)) != TB_OK) return s;
        if (p->fast >= p->slow)
            return tb_error_set(err, TB_INVALID, "params.fast",
                                "fast (%u) must be less than slow (%u)", p->fast, p->slow);
        return TB_OK;
    case SP_KIND_RSI:
        if ((s = get_period(obj, "period", 2, &p->period, err)) != TB_OK) return s;
        if ((s = get_fixed(obj, "lower", &p->lower, err)) != TB_OK) return s;
        if ((s = get_fixed(obj, "upper", &p->upper, err)) != TB_OK) return s;
        if (p->lower <= 0 || p->lower >= hundred)
            return tb_error_set(err, TB_INVALID, "params.lower",
                                "must be between 0 and 100 (exclusive)");
        if (p->upper <= 0 || p->upper >= hundred)
            return tb_error_set(err, TB_INVALID, "params.upper",
                                "must be between 0 and 100 (exclusive)");
        if (p->lower >= p->upper)
            return tb_error_set(err, TB_INVALID, "params.lower", "lower must be less than upper");
        return TB_OK;
    case SP_KIND_BOLLINGER:
        if ((s = get_period(obj, "period", 2, &p->period, err)) != TB_OK) return s;
        if ((s = get_fixed(obj, "k", &p->k, err)) != TB_OK) return s;
        if (p->k <= 0 || p->k > 10 * TB_FIXED_SCALE)
            return tb_error_set(err, TB_INVALID, "params.k",
                                "must be above 0 and at most 10 standard deviations");
        return TB_OK;
    case SP_KIND_DONCHIAN:
        return get_period(obj, "period", 1, &p->period, err);
    default:
        return tb_error_set(err, TB_INVALID, "kind", "unknown strategy kind");
    }
}

tb_status sp_params_parse(const char *kind, const char *json_text, sp_params *out, tb_error *err) {
    sp_params p;
    memset(&p, 0, sizeof p);
    tb_status s = sp_kind_parse(kind, &p.kind, err);
    if (s != TB_OK) return s;
    json_error_t je;
    json_t *obj =
        json_loads(json_text && json_text[0] ? json_text : "{}", JSON_REJECT_DUPLICATES, &je);
    if (obj == NULL)
        return tb_error_set(err, TB_INVALID, "params", "not valid JSON: %s (column %d)", je.text,
                            je.column);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return tb_error_set(err, TB_INVALID, "params", "must be a JSON object");
    }
    s = parse_obj(obj, &p, err);
    json_decref(obj);
    if (s == TB_OK) *out = p;
    return s;
}

size_t sp_params_format(const sp_params *p, char *buf, size_t cap) {
    char a[TB_FIXED_STRLEN], b[TB_FIXED_STRLEN];
    int n;
    switch (p->kind) {
    case SP_KIND_SMA_CROSS:
    case SP_KIND_EMA_CROSS:
        n = snprintf(buf, cap, "{\"fast\":%u,\"slow\":%u}", p->fast, p->slow);
        break;
    case SP_KIND_RSI:
        tb_fixed_format(p->lower, a);
        tb_fixed_format(p->upper, b);
        n = snprintf(buf, cap, "{\"period\":%u,\"lower\":%s,\"upper\":%s}", p->period, a, b);
        break;
    case SP_KIND_BOLLINGER:
        tb_fixed_format(p->k, a);
        n = snprintf(buf, cap, "{\"period\":%u,\"k\":%s}", p->period, a);
        break;
    case SP_KIND_DONCHIAN:
        n = snprintf(buf, cap, "{\"period\":%u}", p->period);
        break;
    default:
        n = snprintf(buf, cap, "{}");
        break;
    }
    if (n < 0) n = 0;
    const char *bars = bars_name(p->bar_ns);
    if (bars && n >= 1 && (size_t)n < cap) /* before the closing brace */
        n = n - 1 + snprintf(buf + n - 1, cap - (size_t)(n - 1), ",\"bars\":\"%s\"}", bars);
    return (size_t)n < cap ? (size_t)n : cap ? cap - 1 : 0;
}
