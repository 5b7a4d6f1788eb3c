/* The API description, generated from the route table and the catalogue:
 * the OpenAPI 3.0 document (/openapi.json) and a readable HTML page (/docs).
 * Built once at start; no I/O. */
#ifndef GW_OPENAPI_H
#define GW_OPENAPI_H

#include <jansson.h>

#include "catalogue.h"
#include "routes.h"

/* The OpenAPI document; a new reference (caller json_decref), NULL on
 * out-of-memory. version is the API version shown in info. */
json_t *gw_openapi(const char *version);

/* JSON Schema (OpenAPI 3.0 dialect) of one catalogue field. New reference. */
json_t *gw_openapi_field_schema(const tb_field_desc *f);

/* operationId of a route, e.g. "get_v1_orders_id", into out. */
void gw_openapi_operation_id(const gw_route *r, char *out, size_t cap);

/* The /docs page: malloc'd NUL-terminated HTML (caller frees), NULL on
 * out-of-memory. */
char *gw_docs_html(const char *version);

#endif
