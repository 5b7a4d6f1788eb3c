/* Backtest requests, pure (an_bt_spec.h). */
#include "an_bt_spec.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_token(const char *s, size_t n) {
    if (n == 0 || n >= TB_TOKEN_CAP) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

static tb_status add_symbol(an_bt_symbols *out, const char *s, size_t n, size_t prefix_len,
                            tb_error *err) {
    if (!is_token(s, n))
        return tb_error_set(err, TB_INVALID, "symbols",
                            "symbols: \"%.*s\" is not a symbol (A-Z a-z 0-9 _ -)",
                            (int)(n > 64 ? 64 : n), s);
    if (n + prefix_len >= TB_TOKEN_CAP)
        return tb_error_set(err, TB_INVALID, "symbols", "symbols: %.*s is too long for a run",
                            (int)n, s);
    for (size_t i = 0; i < out->n; i++)
        if (strlen(out->sym[i]) == n && strncmp(out->sym[i], s, n) == 0)
            return tb_error_set(err, TB_INVALID, "symbols", "symbols: %.*s is listed twice", (int)n,
                                s);
    if (out->n == AN_BT_MAX_SYMBOLS)
        return tb_error_set(err, TB_INVALID, "symbols", "symbols: at most %d", AN_BT_MAX_SYMBOLS);
    memcpy(out->sym[out->n], s, n);
    out->sym[out->n][n] = '\0';
    out->n++;
    return TB_OK;
}

tb_status an_bt_parse_symbols(const char *text, size_t prefix_len, an_bt_symbols *out,
                              tb_error *err) {
    memset(out, 0, sizeof *out);
    tb_status s = TB_OK;
    if (text[0] == '[') {
        json_t *a = json_loads(text, 0, NULL);
        if (!json_is_array(a)) {
            json_decref(a);
            return tb_error_set(err, TB_INVALID, "symbols", "symbols: not a JSON array");
        }
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
            if (!json_is_string(v)) {
                s = tb_error_set(err, TB_INVALID, "symbols", "symbols: items must be strings");
                break;
            }
            s = add_symbol(out, json_string_value(v), json_string_length(v), prefix_len, err);
            if (s != TB_OK) break;
        }
        json_decref(a);
    } else {
        size_t len = strlen(text);
        if (len > 0 && text[len - 1] == ',')
            return tb_error_set(err, TB_INVALID, "symbols", "symbols: an empty name at the end");
        for (const char *p = text; s == TB_OK && *p;) {
            size_t n = strcspn(p, ",");
            s = add_symbol(out, p, n, prefix_len, err);
            p += n + (p[n] == ',');
        }
    }
    if (s == TB_OK && out->n == 0)
        s = tb_error_set(err, TB_INVALID, "symbols", "symbols: name at least one");
    return s;
}

void an_bt_symbols_join(const an_bt_symbols *s, char *out, size_t cap) {
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < s->n && o < cap; i++) {
        int w = snprintf(out + o, cap - o, "%s%s", i ? "," : "", s->sym[i]);
        if (w < 0) break;
        o += (size_t)w;
    }
}

static const struct {
    const char *name;
    int64_t ns;
} intervals[] = {{"1s", INT64_C(1000000000)},
                 {"1m", INT64_C(60000000000)},
                 {"5m", INT64_C(300000000000)},
                 {"1h", INT64_C(3600000000000)},
                 {"1d", INT64_C(86400000000000)}};

/* A time of bars: RFC 3339 text ("2024-01-02T00:00:00Z"), a date
 * ("2024-01-02", 00:00Z) or integer nanoseconds. */
static tb_status bars_time(json_t *v, const char *name, int64_t *out, tb_error *err) {
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return TB_OK;
    }
    const char *t = json_string_value(v);
    char buf[40];
    if (t && strlen(t) == 10 && t[4] == '-' && t[7] == '-') {
        snprintf(buf, sizeof buf, "%sT00:00:00Z", t);
        t = buf;
    }
    if (t == NULL || tb_ts_parse(t, out) != TB_OK)
        return tb_error_set(err, v ? TB_INVALID : TB_MISSING_FIELD, "data",
                            "data.bars.%s: a time (RFC 3339, YYYY-MM-DD or nanoseconds)", name);
    return TB_OK;
}

static tb_status parse_bars(json_t *b, an_bt_data *out, tb_error *err) {
    static const char *const keys[] = {"interval", "from", "to"};
    if (!json_is_object(b))
        return tb_error_set(err, TB_INVALID, "data",
                            "data.bars: {\"interval\": \"1d\", \"from\": ..., \"to\": ...}");
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v) {
        bool ok = false;
        for (size_t i = 0; i < 3; i++) ok |= strcmp(key, keys[i]) == 0;
        if (!ok)
            return tb_error_set(err, TB_UNKNOWN_FIELD, "data",
                                "unknown field \"data.bars.%.40s\" (bars takes interval, from, to)",
                                key);
    }
    const char *iv = json_string_value(json_object_get(b, "interval"));
    if (iv == NULL)
        return tb_error_set(err, TB_MISSING_FIELD, "data", "data.bars.interval: required");
    for (size_t i = 0; i < sizeof intervals / sizeof intervals[0]; i++)
        if (strcmp(iv, intervals[i].name) == 0) {
            snprintf(out->interval, sizeof out->interval, "%s", iv);
            out->interval_ns = intervals[i].ns;
        }
    if (out->interval_ns == 0)
        return tb_error_set(err, TB_INVALID, "data",
                            "data.bars.interval: \"%.20s\" is not one of 1s|1m|5m|1h|1d", iv);
    tb_status s = bars_time(json_object_get(b, "from"), "from", &out->from, err);
    if (s == TB_OK) s = bars_time(json_object_get(b, "to"), "to", &out->to, err);
    if (s == TB_OK && out->to <= out->from)
        s = tb_error_set(err, TB_INVALID, "data", "data.bars: to must be after from");
    return s;
}

tb_status an_bt_parse_data(const char *text, an_bt_data *out, tb_error *err) {
    memset(out, 0, sizeof *out);
    out->csv_bytes = -1;
    json_t *d = json_loads(text, 0, NULL);
    tb_status s = TB_OK;
    static const char *const known[] = {"file", "csv", "bars"};
    const char *key = NULL;
    json_t *v;
    if (json_is_object(d)) {
        /* Strict like the body around it: a misspelt "file" is named. */
        json_object_foreach(d, key, v) {
            bool ok = false;
            for (size_t i = 0; i < 3; i++) ok |= strcmp(key, known[i]) == 0;
            if (!ok) break;
        }
    }
    if (!json_is_object(d)) {
        s = tb_error_set(err, TB_INVALID, "data",
                         "data: a JSON object such as {\"file\": \"eustock_daily.csv\"}");
    } else if (key != NULL) {
        const char *near = NULL;
        for (size_t i = 0; i < 3 && near == NULL; i++)
            if (tb_name_distance(key, strlen(key), known[i], strlen(known[i]), 1) <= 1)
                near = known[i];
        if (near)
            s = tb_error_set(err, TB_UNKNOWN_FIELD, "data",
                             "unknown field \"data.%.40s\" (did you mean \"data.%s\"?)", key, near);
        else
            s = tb_error_set(err, TB_UNKNOWN_FIELD, "data",
                             "unknown field \"data.%.40s\" (data takes file, csv or bars)", key);
    } else if (json_object_size(d) != 1) {
        s = tb_error_set(err, TB_INVALID, "data", "data: one of file, csv or bars");
    } else if ((v = json_object_get(d, "file")) != NULL) {
        out->kind = AN_BT_DATA_FILE;
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) >= sizeof out->path)
            s = tb_error_set(err, TB_INVALID, "data", "data.file: a path under MD_REPLAY_DIR");
        else
            snprintf(out->path, sizeof out->path, "%s", json_string_value(v));
    } else if ((v = json_object_get(d, "csv")) != NULL) {
        out->kind = AN_BT_DATA_CSV;
        if (json_is_integer(v) && json_integer_value(v) >= 0)
            out->csv_bytes = (int64_t)json_integer_value(v);
        else if (json_is_string(v) && json_string_length(v) < sizeof out->csv_inline)
            snprintf(out->csv_inline, sizeof out->csv_inline, "%s", json_string_value(v));
        else
            s = tb_error_set(err, TB_INVALID, "data", "data.csv: the CSV text");
    } else {
        out->kind = AN_BT_DATA_BARS;
        s = parse_bars(json_object_get(d, "bars"), out, err);
    }
    json_decref(d);
    return s;
}

tb_status an_bt_bar_row(char *out, size_t cap, size_t *len, const char *symbol, int64_t start,
                        int64_t interval_ns, tb_fixed close, tb_error *err) {
    char px[TB_FIXED_STRLEN];
    tb_fixed_format(close, px);
    int w = snprintf(out + *len, cap - *len, "%lld,%s,%s\n", (long long)(start + interval_ns),
                     symbol, px);
    if (w < 0 || (size_t)w >= cap - *len) {
        out[*len] = '\0';
        return tb_error_set(err, TB_TOO_LARGE, "data",
                            "data.bars: the bars do not fit BACKTEST_CSV_MAX (%zu bytes); "
                            "narrow from and to",
                            cap - 1);
    }
    *len += (size_t)w;
    return TB_OK;
}

static tb_status load_grid(const char *grid, json_t **out, tb_error *err) {
    json_t *g = json_loads(grid, 0, NULL);
    if (!json_is_object(g) || json_object_size(g) == 0) {
        json_decref(g);
        return tb_error_set(err, TB_INVALID, "grid",
                            "grid: a JSON object of lists, e.g. {\"fast\": [5, 10]}");
    }
    const char *k;
    json_t *v;
    json_object_foreach(g, k, v) {
        tb_status s = TB_OK;
        if (!json_is_array(v) || json_array_size(v) == 0)
            s = tb_error_set(err, TB_INVALID, "grid", "grid.%.64s: a non-empty list", k);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (s == TB_OK && !json_is_number(x) && !json_is_string(x))
                s = tb_error_set(err, TB_INVALID, "grid", "grid.%.64s: numbers or strings only", k);
        }
        if (s != TB_OK) { /* k belongs to g: the message is made before g goes */
            json_decref(g);
            return s;
        }
    }
    *out = g;
    return TB_OK;
}

tb_status an_bt_grid_count(const char *grid, size_t max, size_t *n, tb_error *err) {
    *n = 0;
    if (grid[0] == '\0') return TB_OK;
    json_t *g = NULL;
    tb_status s = load_grid(grid, &g, err);
    if (s != TB_OK) return s;
    size_t total = 1;
    const char *k;
    json_t *v;
    json_object_foreach(g, k, v) {
        size_t m = json_array_size(v);
        if (total > max / m + 1) {
            total = max + 1;
            break;
        }
        total *= m;
    }
    json_decref(g);
    if (total > max)
        return tb_error_set(err, TB_TOO_LARGE, "grid",
                            "grid: more than %zu runs (BACKTEST_GRID_MAX)", max);
    *n = total;
    return TB_OK;
}

tb_status an_bt_grid_params(const char *params, const char *grid, size_t index, char *out,
                            size_t cap, tb_error *err) {
    json_t *g = NULL;
    tb_status s = load_grid(grid, &g, err);
    if (s != TB_OK) return s;
    json_t *p = params[0] ? json_loads(params, 0, NULL) : json_object();
    if (!json_is_object(p)) {
        json_decref(p);
        json_decref(g);
        return tb_error_set(err, TB_INVALID, "params", "params: a JSON object");
    }
    /* Mixed radix, the last key the lowest digit. */
    size_t nkeys = json_object_size(g), i = nkeys;
    const char **keys = calloc(nkeys, sizeof *keys);
    if (keys == NULL) s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    const char *k;
    json_t *v;
    size_t j = 0;
    if (keys) json_object_foreach(g, k, v) keys[j++] = k;
    while (s == TB_OK && i-- > 0) {
        json_t *list = json_object_get(g, keys[i]);
        size_t m = json_array_size(list);
        if (json_object_set(p, keys[i], json_array_get(list, index % m)) != 0)
            s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        index /= m;
    }
    free(keys);
    char *text = s == TB_OK ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s == TB_OK && (text == NULL || strlen(text) >= cap))
        s = tb_error_set(err, TB_TOO_LONG, "params", "params of a grid run are too long");
    if (s == TB_OK) snprintf(out, cap, "%s", text);
    free(text);
    json_decref(p);
    json_decref(g);
    return s;
}

double an_bt_rank_value(const tb_performance *p, const char *rank_by) {
    if (rank_by[0] == '\0' || strcmp(rank_by, "sharpe") == 0) return p->sharpe;
    if (strcmp(rank_by, "sortino") == 0) return p->sortino;
    if (strcmp(rank_by, "calmar") == 0) return p->calmar;
    if (strcmp(rank_by, "cagr") == 0) return p->cagr;
    if (strcmp(rank_by, "total_return") == 0) return p->total_return;
    if (strcmp(rank_by, "profit_factor") == 0) return p->profit_factor;
    if (strcmp(rank_by, "win_rate") == 0) return p->win_rate;
    if (strcmp(rank_by, "max_drawdown") == 0) return -p->max_drawdown;
    if (strcmp(rank_by, "expectancy") == 0)
        return p->expectancy == TB_NULL_INT ? NAN : (double)p->expectancy / TB_FIXED_SCALE;
    return NAN;
}
