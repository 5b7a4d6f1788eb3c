/* Request building and the HTTP layer's checks; see request.h. */
#include "request.h"

#include <stdlib.h>
#include <string.h>

bool gw_request_id_valid(const char *s) {
    size_t n = 0;
    if (s == NULL) return false;
    for (; s[n]; n++)
        if (s[n] < '!' || s[n] > '~' || n >= GW_REQUEST_ID_MAX) return false;
    return n > 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool gw_url_decode(const char *s, size_t len, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len) return false;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return false;
            c = (char)(hi * 16 + lo);
            if (c == '\0') return false;
            i += 2;
        }
        if (o + 1 >= cap) return false;
        out[o++] = c;
    }
    if (cap == 0) return false;
    out[o] = '\0';
    return true;
}

/* Whether name is one of the comma-separated names in list. */
static bool list_has(const char *list, const char *name, size_t len) {
    const char *p = list;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        if (n == len && memcmp(p, name, len) == 0) return true;
        p += n;
        if (*p == ',') p++;
    }
    return false;
}

tb_status gw_query_parse(const gw_route *route, const char *qs, json_t **out, char *format,
                         size_t format_cap, tb_error *err) {
    json_t *obj = json_object();
    if (obj == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    if (format_cap) format[0] = '\0';
    bool have_format = false;
    const char *p = qs ? qs : "";
    while (*p) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        size_t klen = eq ? (size_t)(eq - p) : n;
        const char *v = eq ? eq + 1 : p + n;
        size_t vlen = eq ? n - klen - 1 : 0;
        char key[64], val[TB_TEXT_CAP];
        if (n == 0) {
            p += *p == '&';
            continue;
        }
        if (!gw_url_decode(p, klen, key, sizeof key)) {
            json_decref(obj);
            return tb_error_set(err, TB_INVALID, "", "malformed query parameter name");
        }
        if (!gw_url_decode(v, vlen, val, sizeof val)) {
            json_decref(obj);
            return tb_error_set(err, TB_INVALID, key, "%s: malformed or too long value", key);
        }
        if ((route->flags & GW_F_SVG) && strcmp(key, GW_PARAM_FORMAT) == 0) {
            if (have_format) {
                json_decref(obj);
                return tb_error_set(err, TB_INVALID, key, "%s: given twice", key);
            }
            have_format = true;
            snprintf(format, format_cap, "%s", val);
        } else if (!list_has(route->params, key, strlen(key))) {
            json_decref(obj);
            return tb_error_set(err, TB_INVALID, key, "unknown query parameter '%s'", key);
        } else if (json_object_get(obj, key) != NULL) {
            json_decref(obj);
            return tb_error_set(err, TB_INVALID, key, "%s: given twice", key);
        } else if (json_object_set_new(obj, key, json_string(val)) != 0) {
            /* json_string fails on invalid UTF-8 */
            json_decref(obj);
            return tb_error_set(err, TB_INVALID, key, "%s: not valid UTF-8", key);
        }
        p += n;
        if (*p == '&') p++;
    }
    *out = obj;
    return TB_OK;
}

static tb_status put_path(json_t *obj, const char *field, const char *value, tb_error *err) {
    json_t *have = json_object_get(obj, field);
    if (have != NULL) {
        if (!json_is_string(have) || strcmp(json_string_value(have), value) != 0)
            return tb_error_set(err, TB_INVALID, field, "%s: differs from the path", field);
        return TB_OK;
    }
    json_t *s = json_string(value);
    if (s == NULL) return tb_error_set(err, TB_INVALID, field, "%s: not valid UTF-8", field);
    if (json_object_set_new(obj, field, s) != 0) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    return TB_OK;
}

tb_status gw_inject_path_field(json_t *obj, const char *field, const char *value, tb_error *err) {
    return put_path(obj, field, value, err);
}

tb_status gw_inject_path(const gw_route *route, json_t *obj, const char *value, tb_error *err) {
    tb_status s = TB_OK;
    if (route->path_field) s = put_path(obj, route->path_field, value, err);
    if (s == TB_OK && route->path_alias) s = put_path(obj, route->path_alias, value, err);
    return s;
}

void gw_drop_server_set(const gw_route *route, json_t *obj) {
    for (const char *p = route->server_set; p && *p;) {
        size_t n = strcspn(p, ",");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        json_object_del(obj, name);
        p += n + (p[n] == ',');
    }
}

/* The object (or array) in field name, when it is one, as its compact JSON
 * text: the catalogue carries nested values as TEXT. */
static tb_status nested_as_text(json_t *obj, const char *name, bool arrays, tb_error *err) {
    json_t *v = json_object_get(obj, name);
    if (!json_is_object(v) && !(arrays && json_is_array(v)))
        return TB_OK; /* the catalogue judges */
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL || json_object_set_new(obj, name, json_string(text)) != 0) {
        free(text);
        return tb_error_set(err, TB_NOMEM, name, "out of memory");
    }
    free(text);
    return TB_OK;
}

tb_status gw_params_as_text(json_t *obj, tb_error *err) {
    /* params of strategies and backtests; data, grid and symbols of backtests */
    static const char *const nested[] = {"params", "data", "grid"};
    for (size_t i = 0; i < sizeof nested / sizeof nested[0]; i++) {
        tb_status s = nested_as_text(obj, nested[i], false, err);
        if (s != TB_OK) return s;
    }
    return nested_as_text(obj, "symbols", true, err);
}

tb_status gw_check_nonnegative(const tb_event_desc *d, const void *ev, tb_error *err) {
    for (size_t i = 0; i < d->nfields; i++) {
        const tb_field_desc *f = &d->fields[i];
        if (f->type != TB_FT_FIXED) continue;
        tb_fixed v;
        memcpy(&v, (const char *)ev + f->offset, sizeof v);
        if (v < 0)
            return tb_error_set(err, TB_INVALID, f->name, "%s: must not be negative", f->name);
    }
    return TB_OK;
}

bool gw_accounts_contains(const char *list, const char *account) {
    return account && account[0] && list_has(list, account, strlen(account));
}

bool gw_caller_scoped(const gw_caller *c) {
    return c->role != GW_ROLE_ADMIN || c->accounts[0] != '\0';
}

tb_status gw_scope(const gw_route *route, const gw_caller *caller, void *ev, tb_error *err) {
    if (!(route->flags & GW_F_SCOPED) || !gw_caller_scoped(caller)) return TB_OK;
    /* An empty list would read as "every account" to the services. */
    if (caller->accounts[0] == '\0')
        return tb_error_set(err, TB_FORBIDDEN, "account", "this key may not touch any account");
    const char *account;
    if (route->request == &tb_query_desc) {
        tb_query *q = ev;
        snprintf(q->accounts, sizeof q->accounts, "%s", caller->accounts);
        account = q->account;
        if (account[0] == '\0') return TB_OK; /* the service filters by q->accounts */
    } else {
        const tb_field_desc *f = tb_field_find(route->request, "account", 7);
        if (f == NULL) return TB_OK;
        account = (const char *)ev + f->offset;
        if (account[0] == '\0')
            return tb_error_set(err, TB_FORBIDDEN, "account",
                                "account: required for a key limited to accounts");
    }
    if (!gw_accounts_contains(caller->accounts, account))
        return tb_error_set(err, TB_FORBIDDEN, "account",
                            "account %s is not one of this key's accounts", account);
    return TB_OK;
}
