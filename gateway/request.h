/* Building a bus request from an HTTP request: query strings, path
 * parameters, the HTTP layer's value checks and scoping to the caller's
 * accounts. Pure functions on strings, jansson values and catalogue structs;
 * no I/O, so they are unit-tested directly (tests/unit/test_gw_request.c). */
#ifndef GW_REQUEST_H
#define GW_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "catalogue.h"
#include "routes.h"

/* Longest X-Request-Id accepted (it travels as the bus trace id, an ID). */
#define GW_REQUEST_ID_MAX 63

/* True when s is 1..63 printable ASCII characters without spaces. */
bool gw_request_id_valid(const char *s);

/* Decodes %XX escapes and '+' (as space) of s[0..len) into out (cap bytes,
 * NUL-terminated). False on a bad escape, an encoded NUL or overflow. */
bool gw_url_decode(const char *s, size_t len, char *out, size_t cap);

/* Parses a query string ("a=1&b=x%20y", may be NULL) into a JSON object of
 * strings holding the parameters route->params allows. Unknown and repeated
 * parameters are TB_INVALID with the parameter as field. The presentation
 * parameter "format" (GW_F_SVG routes) is returned in format (cap bytes, ""
 * when absent) instead. *out is a new reference (caller json_decref). */
tb_status gw_query_parse(const gw_route *route, const char *qs, json_t **out, char *format,
                         size_t format_cap, tb_error *err) TB_WARN_UNUSED;

/* Sets field of obj to a path parameter's value (the second one of a
 * route: gw_route.path_field2); as gw_inject_path. */
tb_status gw_inject_path_field(json_t *obj, const char *field, const char *value,
                               tb_error *err) TB_WARN_UNUSED;
/* Puts the path parameter's value into obj under route->path_field (and
 * path_alias). A body that already holds a different value there is
 * TB_INVALID: the path names the object, the body cannot contradict it. */
tb_status gw_inject_path(const gw_route *route, json_t *obj, const char *value,
                         tb_error *err) TB_WARN_UNUSED;

/* Removes the fields the server sets (route->server_set) from a body. */
void gw_drop_server_set(const gw_route *route, json_t *obj);

/* A body's "params" (a strategy's parameters, a JSON object the catalogue
 * carries as text) may be given as the object itself rather than as its
 * JSON text: an object is replaced by its compact text. TB_NOMEM only. */
tb_status gw_params_as_text(json_t *obj, tb_error *err) TB_WARN_UNUSED;

/* No request body carries negative amounts or quantities: every FIXED field
 * of ev must be >= 0. */
tb_status gw_check_nonnegative(const tb_event_desc *d, const void *ev,
                               tb_error *err) TB_WARN_UNUSED;

/* Whether the comma-separated list holds account exactly. */
bool gw_accounts_contains(const char *list, const char *account);

/* Whether the caller is limited to the accounts of its key (every key but an
 * admin key without accounts). */
bool gw_caller_scoped(const gw_caller *c);

/* Scoping of a decoded request to the caller's accounts (GW_F_SCOPED
 * routes). For a tb_query it fills accounts with the caller's list and
 * rejects an account filter outside it; for a body with an account field the
 * account must be one of the caller's. TB_FORBIDDEN with a message otherwise.
 * Unscoped callers pass unchanged. */
tb_status gw_scope(const gw_route *route, const gw_caller *caller, void *ev,
                   tb_error *err) TB_WARN_UNUSED;

#endif
