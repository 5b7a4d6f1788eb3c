/* GW_BUS routes: HTTP request -> catalogue event -> bus request -> reply
 * -> JSON (or an SVG chart).
 *
 * The gateway holds no domain logic: it builds the request event from the
 * body, query string and path, applies the HTTP layer's checks (decimals,
 * no negative amounts, route guards, the caller's accounts), sends it to the
 * owning service with the request id as trace id, and maps the outcome:
 * a timeout is 504, nobody listening 503, a service error its own status and
 * message. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "attach.h"
#include "gateway.h"
#include "quotes.h"
#include "request.h"
#include "svg.h"

/* The route's attached string (route->attach, "object.key") taken out of
 * the body into *text (heap) and *len, its length left in its place; *text
 * stays NULL when the body has no such string. */
static tb_status take_attached(const gw_route *rt, json_t *j, char **text, size_t *len,
                               tb_error *err) {
    *text = NULL;
    *len = 0;
    if (rt->attach == NULL) return TB_OK;
    const char *dot = strchr(rt->attach, '.');
    char outer[64];
    snprintf(outer, sizeof outer, "%.*s", (int)(dot - rt->attach), rt->attach);
    json_t *o = json_object_get(j, outer);
    json_t *v = json_is_object(o) ? json_object_get(o, dot + 1) : NULL;
    if (!json_is_string(v)) return TB_OK; /* the service judges */
    *len = json_string_length(v);
    if ((*text = malloc(*len + 1)) == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    memcpy(*text, json_string_value(v), *len + 1);
    if (json_object_set_new(o, dot + 1, json_integer((json_int_t)*len)) != 0) {
        free(*text);
        *text = NULL;
        return tb_error_set(err, TB_NOMEM, NULL, NULL);
    }
    return TB_OK;
}

/* Builds and checks the request event of a GW_IN_QUERY / GW_IN_JSON route.
 * Returns the event (caller frees) or NULL after sending the error; the
 * route's attached string, when the body has one, into *attached. */
static void *build_event(gw_req *r, char *format, size_t format_cap, char **attached,
                         size_t *attached_len) {
    const gw_route *rt = r->match.route;
    tb_error err = {0};
    json_t *j = NULL;
    if (rt->input == GW_IN_QUERY) {
        if (gw_query_parse(rt, r->ri->query_string, &j, format, format_cap, &err) != TB_OK) {
            gw_send_error(r, &err);
            return NULL;
        }
    } else if ((j = gw_read_json(r)) == NULL) {
        return NULL;
    }
    gw_drop_server_set(rt, j);
    tb_status s = take_attached(rt, j, attached, attached_len, &err);
    if (s == TB_OK && rt->input == GW_IN_JSON) s = gw_params_as_text(j, &err);
    if (s == TB_OK && r->match.has_param) s = gw_inject_path(rt, j, r->match.param, &err);
    if (s == TB_OK && r->match.has_param2 && rt->path_field2)
        s = gw_inject_path_field(j, rt->path_field2, r->match.param2, &err);
    void *ev = calloc(1, rt->request->struct_size);
    if (ev == NULL) s = tb_error_set(&err, TB_NOMEM, NULL, "out of memory");
    if (s == TB_OK) s = tb_from_json(rt->request, j, ev, &err);
    json_decref(j);
    if (s == TB_OK && rt->input == GW_IN_JSON) s = gw_check_nonnegative(rt->request, ev, &err);
    if (s == TB_OK && rt->guard) s = rt->guard(&r->caller, ev, &err);
    if (s == TB_OK) s = gw_scope(rt, &r->caller, ev, &err);
    if (s != TB_OK) {
        free(ev);
        free(*attached);
        *attached = NULL;
        gw_send_error(r, &err);
        return NULL;
    }
    return ev;
}

static bool wants_svg(gw_req *r, const char *format) {
    if (!(r->match.route->flags & GW_F_SVG)) return false;
    if (r->match.route->flags & GW_F_SVG_ONLY) return true;
    if (format[0]) return strcmp(format, "svg") == 0;
    const char *accept = gw_header(r, "Accept");
    return accept && strcasestr(accept, "image/svg+xml") != NULL;
}

static void bad_reply(gw_req *r, const tb_error *err) {
    gw_send_fail(r, TB_ERR, NULL, "invalid reply from %s: %s", r->match.route->subject,
                 err->message);
}

static void send_list(gw_req *r, const bus_bytes *reply, bool svg) {
    const gw_route *rt = r->match.route;
    void *items = NULL;
    size_t n = 0;
    char next[TB_ID_CAP];
    tb_error err = {0};
    if (tb_decode_list(rt->reply, reply->data, reply->len, &items, &n, next, &err) != TB_OK) {
        bad_reply(r, &err);
        return;
    }
    if (svg) {
        char title[320];
        size_t len = 0;
        snprintf(title, sizeof title, "Equity of %s", r->match.param);
        char *text = gw_svg_equity(items, n, title, &len);
        free(items);
        if (text == NULL)
            gw_send_fail(r, TB_NOMEM, NULL, "out of memory drawing the chart");
        else
            gw_send(r, rt->success, "image/svg+xml", text, len, NULL);
        free(text);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *item = NULL;
        if (tb_to_json(rt->reply, (const char *)items + i * rt->reply->struct_size, &item) !=
                TB_OK ||
            json_array_append_new(arr, item) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    free(items);
    if (arr == NULL) {
        tb_error e = {.message = "an item cannot be shown as JSON"};
        bad_reply(r, &e);
        return;
    }
    json_t *body = json_pack("{s:o, s:I}", "items", arr, "count", (json_int_t)n);
    if (body && next[0]) json_object_set_new(body, "next", json_string(next));
    gw_send_json(r, rt->success, body);
}

/* Adds the route's embedded answer to the reply object j (routes.h,
 * gw_embed): j[key] is the answer of embed->subject for j's account, or
 * null (logged and counted) when it cannot be had. */
static void add_embed(gw_req *r, json_t *j) {
    const gw_embed *em = r->match.route->embed;
    tb_query q = {0};
    tb_error err = {0};
    json_t *value = NULL;
    const char *acct = json_string_value(json_object_get(j, "account"));
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tb_status s = TB_OK;
    if (acct == NULL || strlen(acct) >= sizeof q.account)
        s = tb_error_set(&err, TB_ERR, "account", "the reply names no account");
    else
        snprintf(q.account, sizeof q.account, "%s", acct);
    if (s == TB_OK) s = tb_encode(&tb_query_desc, &q, &sb, &err);
    bus_bytes reply = {0};
    bool have_reply = false;
    if (s == TB_OK) {
        int64_t t0 = bus_mono_ns();
        s = bus_request_bytes(bus_actor_conn(r->g->actor), em->subject, sb.data, sb.size,
                              tb_query_desc.name, r->g->set.bus_timeout_ms, r->id, &reply, &err);
        gw_observe_bus(r->g, em->subject, bus_mono_ns() - t0);
        have_reply = s == TB_OK;
    }
    msgpack_sbuffer_destroy(&sb);
    if (s == TB_OK) s = tb_msgpack_to_json(em->reply, reply.data, reply.len, &value, &err);
    if (have_reply) bus_bytes_free(&reply);
    if (s != TB_OK) {
        bus_counter_add(bus_metrics_counter(bus_actor_metrics(r->g->actor),
                                            "tb_gateway_embed_errors_total",
                                            "Replies sent without a part another service owns "
                                            "(that service did not answer)",
                                            "subject", em->subject, NULL),
                        1);
        bus_log(BUS_LOG_WARN, "%s %s: %s is null in the reply, %s failed: %s (%s)",
                r->ri->request_method, r->match.route->path, em->key, em->subject,
                tb_status_code(s), err.message);
        value = json_null();
    }
    json_object_set_new(j, em->key, value);
}

static void send_reply(gw_req *r, const bus_bytes *reply, const char *format) {
    const gw_route *rt = r->match.route;
    if (rt->reply == NULL) {
        gw_send(r, rt->success, NULL, NULL, 0, NULL);
        return;
    }
    if (rt->flags & GW_F_LIST) {
        send_list(r, reply, wants_svg(r, format));
        return;
    }
    json_t *j = NULL;
    tb_error err = {0};
    tb_status s = rt->flags & GW_F_RAW
                      ? tb_msgpack_to_json_raw(reply->data, reply->len, &j, &err)
                      : tb_msgpack_to_json(rt->reply, reply->data, reply->len, &j, &err);
    if (s != TB_OK) {
        bad_reply(r, &err);
        return;
    }
    if (rt->embed && json_is_object(j)) add_embed(r, j);
    gw_send_json(r, rt->success, j);
}

/* A quote the gateway's cache can give (quotes.h): sent, true. */
static bool cached_quote(gw_req *r, const void *ev) {
    const tb_query *q = ev;
    tb_tick t;
    if (!bus_quotes_get(r->g->quotes, q->symbol, &t)) return false;
    json_t *j = NULL;
    if (tb_to_json(&tb_tick_desc, &t, &j) != TB_OK) return false;
    gw_send_json(r, r->match.route->success, j);
    return true;
}

static void learn_quote(gw *g, const bus_bytes *reply, int64_t sent_ns) {
    tb_tick t;
    tb_error err = {0};
    if (tb_decode(&tb_tick_desc, reply->data, reply->len, &t, &err) == TB_OK)
        bus_quotes_learn(g->quotes, &t, sent_ns, NULL);
}

void gw_handle_bus(gw_req *r) {
    const gw_route *rt = r->match.route;
    gw *g = r->g;
    tb_error err = {0};
    char format[16] = "";
    char *raw = NULL;
    void *ev = NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    const void *payload = "";
    size_t plen = 0;
    const char *schema = NULL;
    char *attached = NULL;
    size_t attached_len = 0;
    if (rt->input == GW_IN_CSV) {
        if (gw_read_body(r, &raw, &plen, &err) != TB_OK) {
            gw_send_error(r, &err);
            return;
        }
        if (plen == 0) {
            free(raw);
            gw_send_fail(r, TB_INVALID, NULL, "a CSV body is required");
            return;
        }
        payload = raw;
    } else if (rt->input != GW_IN_NONE) {
        if ((ev = build_event(r, format, sizeof format, &attached, &attached_len)) == NULL) return;
        if ((rt->flags & GW_F_QUOTE) && cached_quote(r, ev)) {
            free(ev);
            free(attached);
            return;
        }
        if (format[0] && strcmp(format, "svg") != 0 && strcmp(format, "json") != 0) {
            free(ev);
            free(attached);
            gw_send_fail(r, TB_INVALID, GW_PARAM_FORMAT, "format: expected json or svg");
            return;
        }
        tb_status es = attached ? bus_attach_encode(rt->request, ev, strchr(rt->attach, '.') + 1,
                                                    attached, attached_len, &sb, &err)
                                : tb_encode(rt->request, ev, &sb, &err);
        free(attached);
        if (es != TB_OK) {
            free(ev);
            msgpack_sbuffer_destroy(&sb);
            gw_send_error(r, &err);
            return;
        }
        payload = sb.data;
        plen = sb.size;
        schema = rt->request->name;
    }
    bus_bytes reply;
    int64_t t0 = bus_mono_ns();
    int64_t timeout = rt->timeout_ms > 0 ? rt->timeout_ms : g->set.bus_timeout_ms;
    tb_status s = bus_request_bytes(bus_actor_conn(g->actor), rt->subject, payload, plen, schema,
                                    timeout, r->id, &reply, &err);
    gw_observe_bus(g, rt->subject, bus_mono_ns() - t0);
    free(ev);
    free(raw);
    msgpack_sbuffer_destroy(&sb);
    if (s != TB_OK) {
        /* bus_request_bytes already maps timeouts (504), no responders and a
         * lost connection (503) and the service's own error replies. */
        if (err.status == TB_OK) tb_error_set(&err, s, NULL, "%s failed", rt->subject);
        gw_send_error(r, &err);
        return;
    }
    if (rt->flags & GW_F_QUOTE) learn_quote(g, &reply, t0);
    send_reply(r, &reply, format);
    bus_bytes_free(&reply);
}
