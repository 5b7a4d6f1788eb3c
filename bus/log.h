/* JSON-lines logging: one object per line on stderr with time, level,
 * service, instance, trace id, message and optional fields.
 *
 * The level check happens in the macro, before any formatting. The trace id is
 * per thread: the dispatcher sets it around each handler, so handlers never
 * pass it. Never log secrets or message payloads. */
#ifndef BUS_LOG_H
#define BUS_LOG_H

#include <jansson.h>

typedef enum {
    BUS_LOG_DEBUG,
    BUS_LOG_INFO,
    BUS_LOG_WARN,
    BUS_LOG_ERROR,
    BUS_LOG_OFF
} bus_log_level;

extern bus_log_level bus_log_threshold;

/* Sets the identity written on every line. Copies both strings. */
void bus_log_init(const char *service, const char *instance, bus_log_level level);
/* "debug" | "info" | "warn" | "error" | "off" (case-insensitive); dflt otherwise. */
bus_log_level bus_log_level_parse(const char *s, bus_log_level dflt);

/* Trace id of the calling thread ("" when none). The string is copied. */
void bus_log_set_trace(const char *trace_id);
const char *bus_log_trace(void);
/* The service named by bus_log_init ("tradebus" before it). */
const char *bus_log_service(void);

/* Writes one line. fields, when not NULL, is a JSON object whose members are
 * added to the line; the reference is stolen. */
void bus_log_write(bus_log_level level, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define bus_log(level, ...)                                                                        \
    do {                                                                                           \
        if ((level) >= bus_log_threshold) bus_log_write((level), NULL, __VA_ARGS__);               \
    } while (0)

/* With structured fields: bus_logf(BUS_LOG_WARN, json_pack("{s:s}", "k", v), "msg"). */
#define bus_logf(level, fields, ...)                                                               \
    do {                                                                                           \
        if ((level) >= bus_log_threshold)                                                          \
            bus_log_write((level), (fields), __VA_ARGS__);                                         \
        else                                                                                       \
            json_decref(fields);                                                                   \
    } while (0)

#endif
