/* JSON-lines logger. Lines are built with jansson so every string is escaped,
 * and written with a single write(2) so lines from threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "catalogue.h"

bus_log_level bus_log_threshold = BUS_LOG_INFO;

static char log_service[64] = "tradebus";
static char log_instance[64] = "";
static _Thread_local char log_trace[TB_ID_CAP];

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void bus_log_init(const char *service, const char *instance, bus_log_level level) {
    snprintf(log_service, sizeof log_service, "%s", service ? service : "tradebus");
    snprintf(log_instance, sizeof log_instance, "%s", instance ? instance : "");
    bus_log_threshold = level;
}

bus_log_level bus_log_level_parse(const char *s, bus_log_level dflt) {
    if (s == NULL || *s == '\0') return dflt;
    for (int i = 0; i <= BUS_LOG_OFF; i++)
        if (strcasecmp(s, level_names[i]) == 0) return (bus_log_level)i;
    if (strcasecmp(s, "warning") == 0) return BUS_LOG_WARN;
    return dflt;
}

void bus_log_set_trace(const char *trace_id) {
    snprintf(log_trace, sizeof log_trace, "%s", trace_id ? trace_id : "");
}

const char *bus_log_trace(void) {
    return log_trace;
}

const char *bus_log_service(void) {
    return log_service;
}

void bus_log_write(bus_log_level level, json_t *fields, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char ts[40];
    tb_ts_format(tb_now_ns(), ts);
    if ((unsigned)level > BUS_LOG_ERROR) level = BUS_LOG_ERROR;
    json_t *line = json_pack("{s:s, s:s, s:s, s:s}", "time", ts, "level", level_names[level],
                             "service", log_service, "instance", log_instance);
    if (line == NULL) {
        json_decref(fields);
        return;
    }
    if (log_trace[0] != '\0') json_object_set_new(line, "trace_id", json_string(log_trace));
    /* The message may hold bytes from hostile input: never let invalid UTF-8
     * drop the line. */
    json_t *m = json_string(msg);
    json_object_set_new(line, "msg", m ? m : json_string("(unprintable message)"));
    if (json_is_object(fields)) json_object_update_missing(line, fields);
    json_decref(fields);

    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (text == NULL) return;
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps leaves room: we overwrite the NUL and write n+1 */
    ssize_t w = write(STDERR_FILENO, text, n + 1);
    (void)w; /* nothing sensible to do when stderr is gone */
    free(text);
}
