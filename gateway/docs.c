/* The /docs page: the route table and the types it uses, as HTML.
 *
 * Generated from the same table as OpenAPI, served from memory (no files,
 * no document root). Every text from the table or catalogue is escaped. */
#include <string.h>

#include "openapi.h"
#include "strbuf.h"
#include "stream_proto.h"

static const char *type_name(const tb_field_desc *f) {
    switch (f->type) {
    case TB_FT_BOOL:
        return "boolean";
    case TB_FT_I64:
        return "integer";
    case TB_FT_U64:
        return "integer &ge; 0";
    case TB_FT_F64:
        return "number";
    case TB_FT_FIXED:
        return "decimal string (8 dp)";
    case TB_FT_TS:
        return "RFC 3339 time";
    case TB_FT_TOKEN:
        return "token [A-Za-z0-9_-]";
    case TB_FT_ID:
        return "id (printable ASCII)";
    case TB_FT_ENUM:
        return "one of";
    case TB_FT_TEXT:
        return "text (&le; 511 bytes)";
    }
    return "?";
}

static void type_link(gw_buf *b, const tb_event_desc *d, bool list) {
    if (d == NULL) {
        gw_buf_printf(b, "&mdash;");
        return;
    }
    gw_buf_printf(b, "<a href=\"#type-%s\">%s%s</a>", d->name, list ? "list of " : "", d->name);
}

static void types_section(gw_buf *b) {
    size_t n;
    const gw_route *rs = gw_routes(&n);
    const tb_event_desc *seen[64];
    size_t nseen = 0;
    for (size_t i = 0; i < n; i++) {
        const tb_event_desc *ds[2] = {rs[i].request, rs[i].reply};
        for (int k = 0; k < 2; k++) {
            bool dup = ds[k] == NULL;
            for (size_t j = 0; !dup && j < nseen; j++) dup = seen[j] == ds[k];
            if (!dup && nseen < sizeof seen / sizeof seen[0]) seen[nseen++] = ds[k];
        }
    }
    for (int t = 0; t < GW_TOPIC_COUNT; t++) { /* the stream's events */
        const tb_event_desc *d = gw_topic_get((gw_topic)t)->event;
        bool dup = false;
        for (size_t j = 0; !dup && j < nseen; j++) dup = seen[j] == d;
        if (!dup && nseen < sizeof seen / sizeof seen[0]) seen[nseen++] = d;
    }
    gw_buf_printf(b, "<h2>Types</h2>\n");
    for (size_t i = 0; i < nseen; i++) {
        const tb_event_desc *d = seen[i];
        gw_buf_printf(b, "<h3 id=\"type-%s\">%s</h3>\n<p>", d->name, d->name);
        gw_buf_escape(b, d->doc);
        gw_buf_printf(b, "</p>\n<table>\n<tr><th>field</th><th>type</th><th>required</th>"
                         "<th>description</th></tr>\n");
        for (size_t k = 0; k < d->nfields; k++) {
            const tb_field_desc *f = &d->fields[k];
            gw_buf_printf(b, "<tr><td><code>%s</code></td><td>%s", f->name, type_name(f));
            if (f->type == TB_FT_ENUM) {
                gw_buf_printf(b, " <code>");
                gw_buf_escape(b, f->enum_values);
                gw_buf_printf(b, "</code>");
            }
            gw_buf_printf(b, "</td><td>%s</td><td>", f->required ? "yes" : "");
            gw_buf_escape(b, f->doc);
            gw_buf_printf(b, "</td></tr>\n");
        }
        gw_buf_printf(b, "</table>\n");
    }
}

/* The /v1/stream protocol and its topics (stream_proto.c). */
static void stream_section(gw_buf *b) {
    gw_buf_printf(b, "<h2 id=\"stream\">Live stream: <code>GET /v1/stream</code></h2>\n<p>"
                     "A WebSocket; authenticate the upgrade request with the Authorization "
                     "header, or with <code>?api_key=</code> where headers cannot be set. ");
    gw_buf_escape(b, gw_stream_protocol_text);
    gw_buf_printf(b, "</p>\n<table>\n<tr><th>topic</th><th>key</th><th>bus subject</th>"
                     "<th>event</th></tr>\n");
    for (int t = 0; t < GW_TOPIC_COUNT; t++) {
        const gw_topic_info *ti = gw_topic_get((gw_topic)t);
        gw_buf_printf(b, "<tr><td><code>%s</code></td><td><code>%s</code></td><td><code>", ti->name,
                      ti->by_symbol ? "symbols" : "account");
        gw_buf_escape(b, ti->event->subject);
        gw_buf_printf(b, "</code>%s</td><td>",
                      ti->filter_account ? " (by the event's account)" : "");
        type_link(b, ti->event, false);
        gw_buf_printf(b, "</td></tr>\n");
    }
    gw_buf_printf(b, "</table>\n");
}

char *gw_docs_html(const char *version) {
    gw_buf b = {0};
    gw_buf_printf(
        &b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>tradebus API</title>\n<style>body{font-family:sans-serif;margin:2em;"
            "max-width:80em}table{border-collapse:collapse;margin-bottom:1em}"
            "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
            "code{font-size:95%%}</style></head><body>\n<h1>tradebus API ");
    gw_buf_escape(&b, version);
    gw_buf_printf(
        &b, "</h1>\n<p>JSON in and out. Authenticate with <code>Authorization: Bearer "
            "&lt;key&gt;</code>; keys have a role (viewer reads, trader also trades for its "
            "accounts, admin manages keys, accounts, limits and the global kill switch) and the "
            "accounts they may touch. Decimals are strings with up to 8 decimals; times are RFC "
            "3339. Errors are <code>{\"error\":{\"code\",\"message\",\"field\"}}</code>. Each key "
            "may make GATEWAY_RATE_LIMIT requests per second (429 with Retry-After beyond; "
            "X-RateLimit-Limit, -Remaining and -Reset on every authenticated response). "
            "<code>X-Request-Id</code> is echoed (or generated) and follows the request on the "
            "bus. The machine-readable description is <a href=\"/openapi.json\">/openapi.json</a>; "
            "<a href=\"/explorer.html\">the API explorer</a> sends requests from the browser with "
            "the key signed in on <a href=\"/\">the web UI</a>."
            "</p>\n<h2>Routes</h2>\n<table>\n<tr><th>method</th><th>path</th><th>key</th>"
            "<th>what</th><th>request</th><th>reply</th></tr>\n");
    size_t n;
    const gw_route *rs = gw_routes(&n);
    for (size_t i = 0; i < n; i++) {
        const gw_route *r = &rs[i];
        gw_buf_printf(&b, "<tr><td>%s</td><td><code>", r->method);
        gw_buf_escape(&b, r->path);
        gw_buf_printf(&b, "</code></td><td>%s</td><td>",
                      r->role == GW_ROLE_PUBLIC ? "none" : gw_role_name(r->role));
        gw_buf_escape(&b, r->summary);
        if (r->params && r->params[0]) {
            gw_buf_printf(&b, "<br>query: <code>");
            gw_buf_escape(&b, r->params);
            gw_buf_printf(&b, "</code>");
        }
        if (r->action == GW_BUS) gw_buf_printf(&b, "<br>bus: <code>%s</code>", r->subject);
        gw_buf_printf(&b, "</td><td>");
        if (r->input == GW_IN_JSON)
            type_link(&b, r->request, false);
        else if (r->input == GW_IN_CSV)
            gw_buf_printf(&b, "CSV text");
        else
            gw_buf_printf(&b, "&mdash;");
        gw_buf_printf(&b, "</td><td>%d ", r->success);
        if (r->reply) {
            type_link(&b, r->reply, (r->flags & GW_F_LIST) != 0);
            if (r->embed) {
                gw_buf_printf(&b, " with <code>%s</code>: ", r->embed->key);
                type_link(&b, r->embed->reply, false);
                gw_buf_printf(&b, " (bus: <code>%s</code>)", r->embed->subject);
            }
        } else if (r->action == GW_METRICS)
            gw_buf_printf(&b, "Prometheus text");
        else if (r->action == GW_DOCS)
            gw_buf_printf(&b, "this page");
        else if (r->action == GW_STREAM)
            gw_buf_printf(&b, "WebSocket (<a href=\"#stream\">protocol</a>)");
        else if (r->success != 204)
            gw_buf_printf(&b, "JSON");
        gw_buf_printf(&b, "</td></tr>\n");
    }
    gw_buf_printf(&b, "</table>\n");
    stream_section(&b);
    types_section(&b);
    gw_buf_printf(&b, "</body></html>\n");
    return gw_buf_finish(&b, NULL);
}
