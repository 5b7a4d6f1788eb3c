/* The gateway's route table: every HTTP route the gateway serves, once.
 *
 * A route says who may call it (role), what the gateway does with it (proxy
 * to a bus subject, or one of its own handlers), how the request is built
 * (JSON body, query string, raw CSV) and which catalogue types go in and out.
 * The HTTP layer, the OpenAPI document and /docs are all driven by this one
 * table, so they cannot drift apart. This file does no I/O. */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

/* Roles in increasing power; a route names the least role it needs. */
typedef enum { GW_ROLE_PUBLIC, GW_ROLE_VIEWER, GW_ROLE_TRADER, GW_ROLE_ADMIN } gw_role;

/* "public" | "viewer" | "trader" | "admin". */
const char *gw_role_name(gw_role r);
/* Inverse for the stored roles (viewer, trader, admin); false when unknown. */
bool gw_role_parse(const char *s, gw_role *out);

typedef enum {
    GW_BUS,            /* proxied as a request to route->subject */
    GW_HEALTH,         /* the gateway itself and its connections */
    GW_HEALTH_SERVICE, /* svc.<service>.health */
    GW_HEALTH_ALL,     /* every discovered instance */
    GW_SERVICES,       /* $SRV.INFO + $SRV.STATS of every instance */
    GW_METRICS,        /* Prometheus text of every instance plus the gateway's */
    GW_OPENAPI,
    GW_DOCS,
    GW_KEY_CREATE, /* api_keys in PostgreSQL, handled by the gateway */
    GW_KEY_REVOKE,
    GW_STREAM, /* the WebSocket stream (stream.c); without an upgrade a 426 */
    GW_ME,     /* the caller's key: id, role, accounts (ui.c) */
} gw_action;

typedef enum {
    GW_IN_NONE,  /* no request body is read */
    GW_IN_QUERY, /* request event built from the query string and path */
    GW_IN_JSON,  /* request event from the JSON body and path */
    GW_IN_CSV,   /* the raw body is forwarded as it is */
} gw_input;

enum {
    GW_F_LIST = 1u << 0,     /* reply is a list (tb_encode_list) */
    GW_F_SCOPED = 1u << 1,   /* touches account data: the caller's accounts are enforced */
    GW_F_SVG = 1u << 2,      /* ?format=svg or Accept: image/svg+xml renders an equity chart */
    GW_F_RAW = 1u << 3,      /* reply is a msgpack map of several catalogue types: shown as is */
    GW_F_SVG_ONLY = 1u << 4, /* with GW_F_SVG: always the chart (a .svg path) */
    GW_F_QUOTE = 1u << 5,    /* reply is a tick the gateway's quote cache may give (quotes.h) */
};

/* Who is calling, after authentication. accounts is a comma-separated list;
 * empty means every account, which only an admin key may have. */
typedef struct gw_caller {
    gw_role role;
    char key_id[TB_ID_CAP];
    char accounts[TB_TEXT_CAP];
} gw_caller;

/* Route-specific authorisation on the decoded request, after the generic
 * checks; returns TB_OK or an error (TB_FORBIDDEN, TB_INVALID) in err. */
typedef tb_status (*gw_guard)(const gw_caller *caller, const void *req, tb_error *err);

/* A second bus request whose reply the gateway adds to a route's reply, so
 * one call answers with data two services own (each keeps its table): the
 * request is a `query` with `account` = the first reply's `account`, the
 * answer goes under `key`. When it fails, `key` is null: the first request
 * already took effect and a retry would not repeat it. */
typedef struct gw_embed {
    const char *key;            /* field added to the JSON reply */
    const char *subject;        /* bus subject asked */
    const tb_event_desc *reply; /* its reply type */
    const char *description;    /* for OpenAPI */
} gw_embed;

typedef struct gw_route {
    const char *method;
    const char *path; /* "/v1/orders/{id}": at most two {field} segments */
    gw_role role;     /* least role needed; GW_ROLE_PUBLIC: no key */
    gw_action action;
    const char *subject; /* GW_BUS: the bus subject */
    gw_input input;
    const tb_event_desc *request; /* GW_IN_QUERY / GW_IN_JSON: request type */
    const char *params;           /* query parameters accepted: comma-separated request fields */
    const char *path_field;       /* request field that gets the path parameter's value */
    const char *path_alias;       /* another request field that also gets it, or NULL */
    const char *server_set;       /* GW_IN_JSON: fields the server sets, dropped from the body */
    const tb_event_desc *reply;   /* reply type (list item type with GW_F_LIST); NULL: no body */
    unsigned flags;               /* GW_F_* */
    int success;                  /* HTTP status on success */
    int64_t timeout_ms;           /* bus request timeout; 0: GATEWAY_BUS_TIMEOUT_MS */
    gw_guard guard;               /* may be NULL */
    const gw_embed *embed;        /* added to a single-object reply; may be NULL */
    const char *summary;          /* one line for OpenAPI and /docs */
    /* GW_IN_JSON: "object.key" of a string in the body that may be longer
     * than a catalogue TEXT (a backtest's data.csv): sent beside the event
     * under key (bus/attach.h), its length in bytes left in its place. */
    const char *attach;
    const char *path_field2; /* request field that gets a second path parameter's value */
} gw_route;

/* The table, in match order. Borrowed, static. */
const gw_route *gw_routes(size_t *n);

/* Gateway query parameters that are not request fields (presentation only). */
#define GW_PARAM_FORMAT "format"

typedef enum { GW_MATCH_OK, GW_MATCH_NO_ROUTE, GW_MATCH_NO_METHOD } gw_match_result;

typedef struct gw_match {
    const gw_route *route;
    bool has_param;  /* the pattern has a {parameter} segment */
    char param[256]; /* its value from the path */
    bool has_param2; /* a second {parameter} segment (route->path_field2) */
    char param2[256];
    char allow[64]; /* GW_MATCH_NO_METHOD: "GET, POST" for the Allow header */
} gw_match;

/* Finds the route for method and an already URL-decoded path. The first
 * route in table order whose pattern matches wins, so literal segments
 * (/health/all) are listed before parameters (/health/{service}). A parameter
 * matches one non-empty segment. */
gw_match_result gw_route_match(const char *method, const char *path, gw_match *out);

/* The parameter name of a pattern ("id" for "/v1/orders/{id}") into out, as
 * documented in OpenAPI; false when the pattern has none. */
bool gw_route_param(const gw_route *r, char *out, size_t cap);

#endif
