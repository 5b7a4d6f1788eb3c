/* Status codes shared by every tradebus module.
 *
 * Each code is listed once in TB_STATUS_MAP; the enum, the stable
 * machine-readable code string, the human text and the HTTP status used by
 * error replies and the gateway all expand from that one list. This file does
 * not format messages: see tb_error for the per-call detail. */
#ifndef TB_STATUS_H
#define TB_STATUS_H

#include <stddef.h>

/* XX(enum suffix, code string, http status, description) */
#define TB_STATUS_MAP(XX)                                                                          \
    XX(OK, "ok", 200, "ok")                                                                        \
    XX(ERR, "internal", 500, "internal error")                                                     \
    XX(NOMEM, "out_of_memory", 500, "out of memory")                                               \
    XX(INVALID, "invalid", 400, "invalid input")                                                   \
    XX(DECODE, "malformed", 400, "malformed message")                                              \
    XX(MISSING_FIELD, "missing_field", 400, "required field missing")                              \
    XX(UNKNOWN_FIELD, "unknown_field", 400, "field not known to the body's type")                  \
    XX(WRONG_TYPE, "wrong_type", 400, "field has the wrong type")                                  \
    XX(TOO_LONG, "too_long", 400, "value too long")                                                \
    XX(OVERFLOW, "overflow", 400, "numeric overflow")                                              \
    XX(PRECISION, "precision", 400, "more decimals than the fixed-point scale")                    \
    XX(UNAUTHORIZED, "unauthorized", 401, "missing or bad credentials")                            \
    XX(FORBIDDEN, "forbidden", 403, "not permitted")                                               \
    XX(NOT_FOUND, "not_found", 404, "not found")                                                   \
    XX(CONFLICT, "conflict", 409, "conflict")                                                      \
    XX(TOO_LARGE, "too_large", 413, "payload too large")                                           \
    XX(REJECTED, "rejected", 422, "rejected")                                                      \
    XX(RATE_LIMITED, "rate_limited", 429, "rate limited")                                          \
    XX(UNAVAILABLE, "unavailable", 503, "dependency unavailable")                                  \
    XX(NO_RESPONDERS, "no_responders", 503, "no service responded")                                \
    XX(TIMEOUT, "timeout", 504, "timed out")                                                       \
    XX(IO, "io", 500, "I/O error")

typedef enum {
#define TB_STATUS_ENUM(name, code, http, text) TB_##name,
    TB_STATUS_MAP(TB_STATUS_ENUM)
#undef TB_STATUS_ENUM
        TB_STATUS_COUNT
} tb_status;

/* Stable snake_case code, e.g. "missing_field". Never NULL. */
const char *tb_status_code(tb_status s);
/* Human text, e.g. "required field missing". Never NULL. */
const char *tb_status_text(tb_status s);
/* HTTP status that represents s (500 for unknown values). */
int tb_status_http(tb_status s);
/* Inverse of tb_status_code; TB_ERR for unknown strings. */
tb_status tb_status_from_code(const char *code);

/* Detail of a failure: which field, and a message fit for a client. Filled
 * by decoders and validators; never allocates. */
typedef struct tb_error {
    tb_status status;
    char field[64];
    char message[256];
} tb_error;

/* Sets err (when not NULL) and returns s, so callers can write
 * `return tb_error_set(err, TB_INVALID, "qty", "must be positive");`. */
tb_status tb_error_set(tb_error *err, tb_status s, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tb_error_clear(tb_error *err);

#define TB_WARN_UNUSED __attribute__((warn_unused_result))

#endif
