/* What tb-tap and tb-ctl share: connecting from the environment, turning a
 * message payload into JSON whatever its content type, and printing errors.
 *
 * Tools are clients of the bus, not actors: they open one connection, do
 * their job and exit. They print results on stdout (JSON lines or a table)
 * and problems on stderr as "<tool>: <message>". */
#ifndef TB_TOOL_H
#define TB_TOOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "actor.h"

/* Exit codes shared by the tools. */
enum { TOOL_EXIT_OK = 0, TOOL_EXIT_FAILED = 1, TOOL_EXIT_USAGE = 2 };

/* Sets the program name used in messages and the log identity. */
void tool_init(const char *prog);
/* "<prog>: <message>\n" on stderr. */
void tool_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Loads the configuration (NATS_URL, BUS_REQUEST_TIMEOUT_MS, LOG_LEVEL) and
 * connects with SendAsap. On failure prints why and returns NULL. Caller
 * closes with bus_conn_close; cfg must outlive the connection. */
bus_conn *tool_connect(bus_config *cfg);

/* A message payload as JSON, chosen by its content type and schema:
 *   application/json -> parsed JSON (a string when it does not parse)
 *   text/...         -> a JSON string
 *   empty            -> null
 *   msgpack          -> decoded with the catalogue descriptor named by schema
 *                       (FIXED as decimal strings, TS as RFC 3339) unless raw
 *                       or the schema is unknown; else the schema-less
 *                       conversion. A typed decode that fails falls back to
 *                       the schema-less one and *note says why.
 *   not msgpack      -> a string "<N bytes, not msgpack>" and *note says why.
 * content_type and schema may be NULL. note (may be NULL) is cleared first.
 * Returns a new reference (caller json_decref); NULL only when out of memory. */
json_t *tool_payload_json(const char *content_type, const char *schema, const void *data,
                          size_t len, bool raw, tb_error *note);

/* One compact JSON line on f, flushed. Steals obj. Returns false when the
 * line could not be written (closed pipe). */
bool tool_print_line(FILE *f, json_t *obj);

/* Parses a non-negative decimal integer within [min, max]; false otherwise. */
bool tool_parse_int(const char *s, long long min, long long max, long long *out);

#endif
