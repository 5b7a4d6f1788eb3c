/* Shared helpers of the command-line tools; see tool.h. */
#include "tool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static char prog_name[64] = "tb-tool";

void tool_init(const char *prog) {
    snprintf(prog_name, sizeof prog_name, "%s", prog);
}

void tool_errorf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bus_conn *tool_connect(bus_config *cfg) {
    tb_error err = {0};
    if (bus_config_load(cfg, prog_name, &err) != TB_OK) {
        tool_errorf("bad configuration: %s", err.message);
        return NULL;
    }
    /* Library notices (reconnects, slow consumer) go to stderr as JSON
     * lines; stdout stays the tool's output. */
    bus_log_init(prog_name, cfg->instance, cfg->log_level);
    bus_conn *c = NULL;
    bus_conn_opts o = {.name = prog_name, .send_asap = true};
    if (bus_conn_open(cfg, &o, &c, &err) != TB_OK) {
        tool_errorf("%s (is NATS running? eval \"$(scripts/env)\" sets NATS_URL)", err.message);
        return NULL;
    }
    return c;
}

static bool has_prefix(const char *s, const char *prefix) {
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

json_t *tool_payload_json(const char *content_type, const char *schema, const void *data,
                          size_t len, bool raw, tb_error *note) {
    if (note) tb_error_clear(note);
    if (len == 0) return json_null();
    if (has_prefix(content_type, "application/json")) {
        json_t *j = json_loadb(data, len, JSON_DECODE_ANY, NULL);
        return j ? j : json_stringn_nocheck(data, len);
    }
    if (has_prefix(content_type, "text/")) return json_stringn_nocheck(data, len);
    json_t *out = NULL;
    tb_error e = {0};
    const tb_event_desc *d = (!raw && schema && schema[0]) ? tb_event_find(schema) : NULL;
    if (d != NULL) {
        if (tb_msgpack_to_json(d, data, len, &out, &e) == TB_OK) return out;
        /* The payload does not match its schema (e.g. a list reply of that
         * item type): still show what it holds. */
        if (note) tb_error_set(note, e.status, e.field, "not a valid %s: %s", schema, e.message);
    }
    tb_error_clear(&e);
    if (tb_msgpack_to_json_raw(data, len, &out, &e) == TB_OK) return out;
    if (note) tb_error_set(note, e.status, NULL, "not msgpack: %s", e.message);
    char text[64];
    snprintf(text, sizeof text, "<%zu bytes, not msgpack>", len);
    return json_string(text);
}

bool tool_print_line(FILE *f, json_t *obj) {
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (s == NULL) return false;
    bool ok = fputs(s, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0;
    free(s);
    return ok;
}

bool tool_parse_int(const char *s, long long min, long long max, long long *out) {
    if (s == NULL || *s < '0' || *s > '9') return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) return false;
    *out = v;
    return true;
}
