/* OpenAPI 3.0 document generated from the route table and the catalogue.
 *
 * Every route becomes one operation; every catalogue type a route sends or
 * receives becomes a component schema (and "<type>_list" for list replies).
 * Field schemas follow the catalogue's types: FIXED is a decimal string,
 * TS an RFC 3339 date-time, ENUM an enum, TOKEN and ID strings with their
 * alphabet as a pattern. Nothing here is written by hand per route, so the
 * document cannot describe a route that is not served or miss one that is. */
#include "openapi.h"

#include "stream_proto.h"

#include <stdio.h>
#include <string.h>

/* Decimal strings as tb_fixed_parse accepts them (trailing zeros beyond
 * the 8th decimal are accepted too; the pattern documents the usual form). */
#define FIXED_PATTERN "^[+-]?([0-9]+(\\.[0-9]{0,8})?|\\.[0-9]{1,8})$"

json_t *gw_openapi_field_schema(const tb_field_desc *f) {
    json_t *s = json_object();
    switch (f->type) {
    case TB_FT_BOOL:
        json_object_set_new(s, "type", json_string("boolean"));
        break;
    case TB_FT_I64:
        json_object_set_new(s, "type", json_string("integer"));
        json_object_set_new(s, "format", json_string("int64"));
        break;
    case TB_FT_U64:
        json_object_set_new(s, "type", json_string("integer"));
        json_object_set_new(s, "minimum", json_integer(0));
        break;
    case TB_FT_F64:
        json_object_set_new(s, "type", json_string("number"));
        json_object_set_new(s, "format", json_string("double"));
        break;
    case TB_FT_FIXED:
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "pattern", json_string(FIXED_PATTERN));
        json_object_set_new(s, "example", json_string("1.5"));
        break;
    case TB_FT_TS:
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "format", json_string("date-time"));
        break;
    case TB_FT_TOKEN:
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "pattern", json_string("^[A-Za-z0-9_-]{1,63}$"));
        break;
    case TB_FT_ID:
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "pattern", json_string("^[!-~]{1,63}$"));
        break;
    case TB_FT_ENUM: {
        json_t *vals = json_array();
        const char *p = f->enum_values;
        while (*p) {
            size_t n = strcspn(p, "|");
            json_array_append_new(vals, json_stringn(p, n));
            p += n + (p[n] == '|');
        }
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "enum", vals);
        break;
    }
    case TB_FT_TEXT:
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "maxLength", json_integer(TB_TEXT_CAP - 1));
        break;
    }
    /* A NUL field is present but may be null: a statistic that cannot be
     * computed (OpenAPI 3.0 spelling). */
    if (f->nullable) json_object_set_new(s, "nullable", json_true());
    char doc[640];
    snprintf(doc, sizeof doc, "%s%s", f->doc,
             f->type == TB_FT_FIXED
                 ? " Decimal string with at most 8 decimals (exact JSON numbers are accepted too)."
                 : "");
    json_object_set_new(s, "description", json_string(doc));
    return s;
}

static bool in_list(const char *list, const char *name) {
    size_t len = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, n) == 0) return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* Schema of an event; fields in omit are left out, fields in optional are
 * not required (filled from the path). */
static json_t *event_schema(const tb_event_desc *d, const char *omit, const char *optional) {
    json_t *props = json_object(), *req = json_array();
    for (size_t i = 0; i < d->nfields; i++) {
        const tb_field_desc *f = &d->fields[i];
        if (in_list(omit, f->name)) continue;
        json_object_set_new(props, f->name, gw_openapi_field_schema(f));
        if (f->required && !in_list(optional, f->name))
            json_array_append_new(req, json_string(f->name));
    }
    json_t *s =
        json_pack("{s:s, s:s, s:o}", "type", "object", "description", d->doc, "properties", props);
    if (json_array_size(req))
        json_object_set_new(s, "required", req);
    else
        json_decref(req);
    return s;
}

static json_t *ref(const char *kind, const char *name) {
    char buf[160];
    snprintf(buf, sizeof buf, "#/components/%s/%s", kind, name);
    return json_pack("{s:s}", "$ref", buf);
}

static json_t *list_schema(const tb_event_desc *d) {
    char desc[160];
    snprintf(desc, sizeof desc, "A page of %s items.", d->name);
    return json_pack("{s:s, s:s, s:[s,s], s:{s:{s:s, s:o}, s:{s:s, s:i}, s:{s:s, s:s}}}", "type",
                     "object", "description", desc, "required", "items", "count", "properties",
                     "items", "type", "array", "items", ref("schemas", d->name), "count", "type",
                     "integer", "minimum", 0, "next", "type", "string", "description",
                     "Cursor for the next page (pass as ?cursor=); absent on the last page.");
}

/* Name of the reply schema of a route with an embedded answer:
 * "<reply>_with_<key>". */
static void embed_schema_name(const gw_route *r, char *out, size_t cap) {
    snprintf(out, cap, "%s_with_%s", r->reply->name, r->embed->key);
}

/* The reply type plus the embedded answer under its key (nullable). */
static json_t *embed_schema(const gw_route *r) {
    json_t *extra = json_pack("{s:s, s:[o], s:b, s:s}", "description", r->embed->description,
                              "allOf", ref("schemas", r->embed->reply->name), "nullable", 1,
                              "x-subject", r->embed->subject);
    return json_pack("{s:[o, {s:s, s:[s], s:{s:o}}]}", "allOf", ref("schemas", r->reply->name),
                     "type", "object", "required", r->embed->key, "properties", r->embed->key,
                     extra);
}

void gw_openapi_operation_id(const gw_route *r, char *out, size_t cap) {
    size_t n = 0;
    for (const char *m = r->method; *m && n + 1 < cap; m++) out[n++] = (char)(*m | 0x20);
    for (const char *p = r->path; *p && n + 1 < cap; p++) {
        char c = *p;
        if (c == '{' || c == '}') continue;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        char w = alnum ? c : '_';
        if (w == '_' && n > 0 && out[n - 1] == '_') continue;
        out[n++] = w;
    }
    while (n > 0 && out[n - 1] == '_') n--;
    out[n] = '\0';
}

static void tag_of(const gw_route *r, char *out, size_t cap) {
    if (strncmp(r->path, "/v1/", 4) != 0) {
        snprintf(out, cap, "operations");
        return;
    }
    const char *p = r->path + 4;
    snprintf(out, cap, "%.*s", (int)strcspn(p, "/"), p);
}

static void add_error(json_t *responses, int status, const char *name) {
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    json_object_set_new(responses, code, ref("responses", name));
}

static json_t *json_content(json_t *schema) {
    return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static json_t *success_response(const gw_route *r) {
    if (r->action == GW_STREAM)
        return json_pack("{s:s}", "description",
                         "Switching Protocols: the WebSocket is open (the protocol is in the "
                         "operation's description).");
    json_t *resp = json_object();
    json_t *content = NULL;
    switch (r->action) {
    case GW_METRICS:
        content =
            json_pack("{s:{s:{s:s}}}", "text/plain; version=0.0.4", "schema", "type", "string");
        break;
    case GW_DOCS:
        content = json_pack("{s:{s:{s:s}}}", "text/html", "schema", "type", "string");
        break;
    case GW_HEALTH:
    case GW_HEALTH_SERVICE:
    case GW_HEALTH_ALL:
    case GW_SERVICES:
    case GW_OPENAPI:
        content = json_content(json_pack("{s:s}", "type", "object"));
        break;
    default:
        if (r->reply && (r->flags & GW_F_LIST)) {
            char name[96];
            snprintf(name, sizeof name, "%s_list", r->reply->name);
            content = json_content(ref("schemas", name));
        } else if (r->reply && r->embed) {
            char name[96];
            embed_schema_name(r, name, sizeof name);
            content = json_content(ref("schemas", name));
        } else if (r->reply) {
            content = json_content(ref("schemas", r->reply->name));
        }
        if (content && (r->flags & GW_F_SVG))
            json_object_set_new(content, "image/svg+xml",
                                json_pack("{s:{s:s}}", "schema", "type", "string"));
    }
    json_object_set_new(resp, "description",
                        json_string(r->success == 201   ? "Created."
                                    : r->success == 204 ? "Done; no content."
                                                        : "OK."));
    if (content) json_object_set_new(resp, "content", content);
    json_t *headers = json_pack("{s:o}", "X-Request-Id", ref("headers", "X-Request-Id"));
    if (r->role != GW_ROLE_PUBLIC) {
        json_object_set_new(headers, "X-RateLimit-Limit", ref("headers", "X-RateLimit-Limit"));
        json_object_set_new(headers, "X-RateLimit-Remaining",
                            ref("headers", "X-RateLimit-Remaining"));
        json_object_set_new(headers, "X-RateLimit-Reset", ref("headers", "X-RateLimit-Reset"));
    }
    json_object_set_new(resp, "headers", headers);
    return resp;
}

static json_t *parameters(const gw_route *r) {
    json_t *ps = json_array();
    json_array_append_new(ps, ref("parameters", "X-Request-Id"));
    char pname[64];
    if (gw_route_param(r, pname, sizeof pname)) {
        const tb_field_desc *f =
            r->request && r->path_field
                ? tb_field_find(r->request, r->path_field, strlen(r->path_field))
                : NULL;
        json_t *schema = f ? gw_openapi_field_schema(f)
                           : json_pack("{s:s, s:s}", "type", "string", "pattern", "^[!-~]{1,63}$");
        json_array_append_new(ps, json_pack("{s:s, s:s, s:b, s:o}", "name", pname, "in", "path",
                                            "required", 1, "schema", schema));
    }
    /* A second {parameter}: the request field path_field2. */
    const char *b2 = strchr(r->path, '}') ? strchr(strchr(r->path, '}'), '{') : NULL;
    const char *e2 = b2 ? strchr(b2, '}') : NULL;
    if (e2 && r->request && r->path_field2) {
        const tb_field_desc *f = tb_field_find(r->request, r->path_field2, strlen(r->path_field2));
        json_t *schema = f ? gw_openapi_field_schema(f)
                           : json_pack("{s:s, s:s}", "type", "string", "pattern", "^[!-~]{1,63}$");
        json_array_append_new(ps, json_pack("{s:s%, s:s, s:b, s:o}", "name", b2 + 1,
                                            (size_t)(e2 - b2 - 1), "in", "path", "required", 1,
                                            "schema", schema));
    }
    for (const char *p = r->params; p && *p;) {
        size_t n = strcspn(p, ",");
        const tb_field_desc *f = tb_field_find(r->request, p, n);
        if (f) {
            json_t *schema = gw_openapi_field_schema(f);
            json_array_append_new(ps, json_pack("{s:s%, s:s, s:b, s:s, s:o}", "name", p, n, "in",
                                                "query", "required", 0, "description", f->doc,
                                                "schema", schema));
        }
        p += n + (p[n] == ',');
    }
    if (r->action == GW_STREAM)
        json_array_append_new(
            ps, json_pack("{s:s, s:s, s:b, s:s, s:{s:s, s:s}}", "name", "api_key", "in", "query",
                          "required", 0, "description",
                          "The API key, for clients that cannot send an Authorization header on "
                          "a WebSocket (browsers). Give the key one way only.",
                          "schema", "type", "string", "pattern", "^tb_[0-9a-f]{40}$"));
    if (r->flags & GW_F_SVG)
        json_array_append_new(
            ps, json_pack(
                    "{s:s, s:s, s:b, s:s, s:{s:s, s:[s,s]}}", "name", GW_PARAM_FORMAT, "in",
                    "query", "required", 0, "description",
                    "svg renders the series as an SVG line chart (as Accept: image/svg+xml does).",
                    "schema", "type", "string", "enum", "json", "svg"));
    return ps;
}

/* A backtest's data as clients send it: an object with one of three keys
 * (the catalogue carries it as text; actors/analytics/README.md). */
static json_t *backtest_data_schema(void) {
    json_t *file =
        json_pack("{s:s, s:[s], s:b, s:{s:{s:s, s:s}}}", "type", "object", "required", "file",
                  "additionalProperties", 0, "properties", "file", "type", "string", "description",
                  "A CSV file under market-data's MD_REPLAY_DIR.");
    json_t *csv = json_pack(
        "{s:s, s:[s], s:b, s:{s:{s:s, s:s}}}", "type", "object", "required", "csv",
        "additionalProperties", 0, "properties", "csv", "type", "string", "description",
        "The CSV itself, in a format the file replay reads (ticks or closes). At most "
        "BACKTEST_CSV_MAX bytes (default 786432; 413 above it, and above GATEWAY_MAX_BODY for "
        "the whole body); a malformed row is 422 naming the first bad lines.");
    json_t *bars = json_pack(
        "{s:s, s:[s], s:b, s:{s:{s:s, s:[s,s,s], s:b, s:{s:{s:s, s:[s,s,s,s,s]}, s:{s:s, "
        "s:s}, s:{s:s, s:s}}, s:s}}}",
        "type", "object", "required", "bars", "additionalProperties", 0, "properties", "bars",
        "type", "object", "required", "interval", "from", "to", "additionalProperties", 0,
        "properties", "interval", "type", "string", "enum", "1s", "1m", "5m", "1h", "1d", "from",
        "type", "string", "description", "Start of the first bar (RFC 3339 or YYYY-MM-DD).", "to",
        "type", "string", "description", "Bars starting before this time (exclusive).",
        "description",
        "historical-data's bars of every symbol, each replayed as one event: its close at the "
        "bar's end time (start + interval). No bar of a symbol in the range is 422.");
    return json_pack("{s:[o,o,o], s:s}", "oneOf", file, csv, bars, "description",
                     "Where the run's events come from: exactly one of file, csv and bars.");
}

static json_t *request_body(const gw_route *r) {
    if (r->input == GW_IN_CSV)
        return json_pack("{s:b, s:{s:{s:{s:s}}}}", "required", 1, "content", "text/csv", "schema",
                         "type", "string");
    if (r->input != GW_IN_JSON || r->request == NULL) return NULL;
    /* Inline rather than a $ref: a body is strict (a key that is no field
     * is 400 unknown_field), which OpenAPI 3.0 cannot add beside a $ref,
     * and the shared schema also describes replies. */
    char optional[128];
    snprintf(optional, sizeof optional, "%s,%s", r->path_field ? r->path_field : "",
             r->path_alias ? r->path_alias : "");
    json_t *schema = event_schema(r->request, r->server_set, optional);
    json_object_set_new(schema, "additionalProperties", json_false());
    if (r->request == &tb_backtest_desc)
        json_object_set_new(json_object_get(schema, "properties"), "data", backtest_data_schema());
    return json_pack("{s:b, s:o}", "required", 1, "content", json_content(schema));
}

static json_t *operation(const gw_route *r) {
    char opid[128], tag[32], desc[4096];
    gw_openapi_operation_id(r, opid, sizeof opid);
    tag_of(r, tag, sizeof tag);
    int n = snprintf(desc, sizeof desc, "%s\n\n%s", r->summary,
                     r->role == GW_ROLE_PUBLIC   ? "No API key needed."
                     : r->role == GW_ROLE_VIEWER ? "Any API key (viewer, trader or admin)."
                     : r->role == GW_ROLE_TRADER ? "A trader or admin key."
                                                 : "An admin key.");
    if (r->flags & GW_F_SCOPED)
        n += snprintf(desc + n, sizeof desc - (size_t)n,
                      " Limited to the accounts of the key: another account's data is 403 or 404.");
    if (r->action == GW_BUS)
        snprintf(desc + n, sizeof desc - (size_t)n, "\n\nServed by the bus request `%s`.",
                 r->subject);
    if (r->action == GW_STREAM)
        snprintf(desc + n, sizeof desc - (size_t)n, "\n\n%s", gw_stream_protocol_text);
    json_t *op = json_pack("{s:s, s:s, s:s, s:[s]}", "operationId", opid, "summary", r->summary,
                           "description", desc, "tags", tag);
    if (r->role == GW_ROLE_PUBLIC) json_object_set_new(op, "security", json_array());
    json_object_set_new(op, "parameters", parameters(r));
    json_t *body = request_body(r);
    if (body) json_object_set_new(op, "requestBody", body);
    json_t *resp = json_object();
    char code[8];
    snprintf(code, sizeof code, "%d", r->success);
    json_object_set_new(resp, code, success_response(r));
    bool has_body = r->input == GW_IN_JSON || r->input == GW_IN_CSV;
    bool reads = has_body || r->input == GW_IN_QUERY || r->params;
    bool bus = r->action == GW_BUS;
    bool stream = r->action == GW_STREAM;
    if (reads || stream || r->action == GW_KEY_REVOKE || r->action == GW_HEALTH_SERVICE)
        add_error(resp, 400, "BadRequest");
    if (stream) add_error(resp, 426, "UpgradeRequired");
    if (r->role != GW_ROLE_PUBLIC) {
        add_error(resp, 401, "Unauthorized");
        add_error(resp, 403, "Forbidden");
        add_error(resp, 429, "RateLimited");
    }
    if (bus || r->action == GW_KEY_REVOKE || strchr(r->path, '{')) add_error(resp, 404, "NotFound");
    if (bus && strcmp(r->method, "GET") != 0) add_error(resp, 409, "Conflict");
    if (has_body) add_error(resp, 413, "TooLarge");
    if (bus && strcmp(r->method, "GET") != 0) add_error(resp, 422, "Rejected");
    if (bus || stream || r->action == GW_HEALTH || r->action == GW_HEALTH_SERVICE ||
        r->action == GW_HEALTH_ALL || r->action == GW_KEY_CREATE || r->action == GW_KEY_REVOKE)
        add_error(resp, 503, "Unavailable");
    if (bus || r->action == GW_HEALTH_SERVICE) add_error(resp, 504, "Timeout");
    json_object_set_new(op, "responses", resp);
    return op;
}

static json_t *error_response(const char *text, bool retry_after) {
    json_t *r = json_pack("{s:s, s:o}", "description", text, "content",
                          json_content(ref("schemas", "Error")));
    json_object_set_new(r, "headers",
                        json_pack("{s:o}", "X-Request-Id", ref("headers", "X-Request-Id")));
    if (retry_after)
        json_object_set_new(json_object_get(r, "headers"), "Retry-After",
                            ref("headers", "Retry-After"));
    return r;
}

static json_t *components(void) {
    json_t *schemas = json_object();
    json_t *eprops = json_pack(
        "{s:{s:s, s:s}, s:{s:s}, s:{s:s, s:b, s:s}, s:{s:s}, s:{s:s}, s:{s:s}}", "code", "type",
        "string", "description", "Stable code from schemas/status.h, e.g. missing_field.",
        "message", "type", "string", "field", "type", "string", "nullable", 1, "description",
        "The offending field or parameter; null when none.", "line", "type", "integer", "column",
        "type", "integer", "position", "type", "integer");
    json_object_set_new(schemas, "Error",
                        json_pack("{s:s, s:[s], s:{s:{s:s, s:[s,s], s:o}}}", "type", "object",
                                  "required", "error", "properties", "error", "type", "object",
                                  "required", "code", "message", "properties", eprops));
    size_t n;
    const gw_route *rs = gw_routes(&n);
    for (size_t i = 0; i < n; i++) {
        const tb_event_desc *ds[2] = {rs[i].request, rs[i].reply};
        for (int k = 0; k < 2; k++) {
            if (ds[k] == NULL || json_object_get(schemas, ds[k]->name)) continue;
            json_object_set_new(schemas, ds[k]->name, event_schema(ds[k], NULL, NULL));
        }
        if (rs[i].reply && (rs[i].flags & GW_F_LIST)) {
            char name[96];
            snprintf(name, sizeof name, "%s_list", rs[i].reply->name);
            json_object_set_new(schemas, name, list_schema(rs[i].reply));
        }
        if (rs[i].reply && rs[i].embed && !(rs[i].flags & GW_F_LIST)) {
            char name[96];
            embed_schema_name(&rs[i], name, sizeof name);
            json_object_set_new(schemas, name, embed_schema(&rs[i]));
            if (json_object_get(schemas, rs[i].embed->reply->name) == NULL)
                json_object_set_new(schemas, rs[i].embed->reply->name,
                                    event_schema(rs[i].embed->reply, NULL, NULL));
        }
    }

    json_t *responses = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "UpgradeRequired",
        error_response("Not a WebSocket upgrade request (Upgrade: websocket).", false),
        "BadRequest",
        error_response("Malformed request: bad JSON (with line, column and position), an invalid "
                       "field or parameter, or a body key that is no field of the body "
                       "(unknown_field, with the nearest field name in the message).",
                       false),
        "Unauthorized", error_response("No API key, or an unknown or revoked one.", false),
        "Forbidden", error_response("The key's role or accounts do not allow this.", false),
        "NotFound", error_response("No such object (or not one of the key's accounts).", false),
        "Conflict",
        error_response("Duplicate, e.g. a client_order_id reused with other parameters.", false),
        "TooLarge", error_response("The body is larger than GATEWAY_MAX_BODY.", false), "Rejected",
        error_response("Rejected by risk-management or the service's validation.", false),
        "RateLimited",
        error_response("More requests than GATEWAY_RATE_LIMIT per second for this key.", true),
        "Unavailable",
        error_response("No instance of the service responded, or a dependency is down.", false),
        "Timeout", error_response("The service did not answer within the timeout.", false));
    json_t *headers = json_pack(
        "{s:{s:s, s:{s:s}}, s:{s:s, s:{s:s}}, s:{s:s, s:{s:s}}, s:{s:s, s:{s:s}}, s:{s:s, "
        "s:{s:s}}}",
        "X-Request-Id", "description",
        "The request's id (the caller's X-Request-Id or a generated one); also the trace id on the "
        "bus.",
        "schema", "type", "string", "X-RateLimit-Limit", "description",
        "Requests allowed per second for this key.", "schema", "type", "integer",
        "X-RateLimit-Remaining", "description", "Requests left in the current one-second window.",
        "schema", "type", "integer", "X-RateLimit-Reset", "description",
        "Seconds until the window resets.", "schema", "type", "integer", "Retry-After",
        "description", "Seconds to wait before retrying.", "schema", "type", "integer");
    json_t *params = json_pack("{s:{s:s, s:s, s:b, s:s, s:{s:s, s:s}}}", "X-Request-Id", "name",
                               "X-Request-Id", "in", "header", "required", 0, "description",
                               "Caller's request id: 1..63 printable ASCII characters without "
                               "spaces; otherwise a new one is generated.",
                               "schema", "type", "string", "pattern", "^[!-~]{1,63}$");
    json_t *security = json_pack("{s:{s:s, s:s, s:s}}", "bearerAuth", "type", "http", "scheme",
                                 "bearer", "description",
                                 "Authorization: Bearer tb_<40 hex digits>; keys are created with "
                                 "POST /v1/api-keys or tb-gateway --create-admin-key.");
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "schemas", schemas, "responses", responses,
                     "headers", headers, "parameters", params, "securitySchemes", security);
}

json_t *gw_openapi(const char *version) {
    json_t *paths = json_object();
    size_t n;
    const gw_route *rs = gw_routes(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_object_get(paths, rs[i].path);
        if (item == NULL) {
            item = json_object();
            json_object_set_new(paths, rs[i].path, item);
        }
        char m[16];
        size_t k = 0;
        for (; rs[i].method[k] && k + 1 < sizeof m; k++) m[k] = (char)(rs[i].method[k] | 0x20);
        m[k] = '\0';
        json_object_set_new(item, m, operation(&rs[i]));
    }
    return json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:[{s:[]}], s:o, s:o}", "openapi", "3.0.3", "info",
        "title", "tradebus API", "version", version, "description",
        "REST surface of tradebus. JSON in and out; decimals are strings with up to 8 decimals; "
        "times are RFC 3339. Errors are {\"error\":{\"code\",\"message\",\"field\"}}. Every call "
        "but /health*, /metrics, /openapi.json and /docs needs Authorization: Bearer <key>.",
        "servers", "url", "/", "security", "bearerAuth", "paths", paths, "components",
        components());
}
