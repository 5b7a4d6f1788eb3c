/* InfluxDB 1.x sink: points in the line protocol, written over HTTP in
 * batches by a background thread, so a producer never waits for InfluxDB.
 *
 * A producer formats a point with the bus_influx_line_* builder (into its
 * own buffer, no allocation) and hands it to bus_influx_write, which only
 * appends it to a bounded in-memory queue under a mutex held for a copy. A
 * thread takes the whole queue at once (a pointer swap), POSTs it to
 * <INFLUX_URL>/write?db=<INFLUX_DB>&precision=ns in batches of at most
 * INFLUX_BATCH_LINES lines over one keep-alive libcurl handle, and on a
 * failure (no answer, 5xx) waits and retries with exponential backoff
 * capped at INFLUX_BACKOFF_MAX_MS, holding the batch. While it waits, new
 * points fill the queue; once it holds INFLUX_QUEUE_LINES lines, further
 * points are dropped, counted (tb_influx_lines_total{outcome="dropped"})
 * and logged at most every 10 s. A batch InfluxDB refuses (4xx: a bad point,
 * a missing database) is not retried: its lines are counted "rejected".
 *
 * Settings (bus_influx_opts_from_env):
 *   INFLUX_URL             base URL, e.g. http://127.0.0.1:8086; empty (the
 *                          default): no sink, bus_influx_write does nothing
 *   INFLUX_DB              database (default tradebus)
 *   INFLUX_USER / INFLUX_PASSWORD  basic authentication, when set
 *   INFLUX_QUEUE_LINES     lines waiting at most (default 20000)
 *   INFLUX_BATCH_LINES     lines per POST at most (default 5000)
 *   INFLUX_FLUSH_MS        longest wait before queued lines are sent (1000)
 *   INFLUX_TIMEOUT_MS      one POST's time limit (5000)
 *   INFLUX_BACKOFF_MAX_MS  longest wait between retries (30000)
 *
 * Metrics (labels service and instance are the process's):
 *   tb_influx_lines_total{outcome=written|dropped|rejected}
 *   tb_influx_write_errors_total   POSTs that failed (each retry counts)
 *   tb_influx_queue_lines          lines waiting now
 *
 * Field values: a tb_fixed is written as its exact decimal text (8
 * decimals at most, "16000.5"), which InfluxDB reads as a float field;
 * integers carry the line protocol's `i` suffix. */
#ifndef BUS_INFLUX_H
#define BUS_INFLUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "money.h"
#include "status.h"

typedef struct bus_influx bus_influx;

typedef struct bus_influx_opts {
    char url[512]; /* "" disables the sink */
    char db[128];
    char user[128];
    char password[256];
    int64_t queue_lines;
    int64_t batch_lines;
    int64_t flush_ms;
    int64_t timeout_ms;
    int64_t backoff_max_ms;
} bus_influx_opts;

/* Reads the INFLUX_* settings above; TB_INVALID (err says which) when one is
 * set but malformed. */
tb_status bus_influx_opts_from_env(bus_influx_opts *o, tb_error *err) TB_WARN_UNUSED;

/* Starts the sink's thread. *out is NULL (and TB_OK returned) when o->url is
 * empty: every function here accepts a NULL sink. Metrics go to m (may be
 * NULL). */
tb_status bus_influx_create(const bus_influx_opts *o, bus_metrics *m, bus_influx **out,
                            tb_error *err) TB_WARN_UNUSED;

/* Sends what is queued (one attempt, bounded by the POST timeout), stops the
 * thread and frees the sink; lines not sent are counted dropped. NULL-safe. */
void bus_influx_destroy(bus_influx *s);

/* Queues one point (a line without its newline). Never blocks on I/O: only
 * copies the line. false when the sink is NULL, the line empty or holding a
 * newline, or the queue full (counted dropped). Thread-safe. */
bool bus_influx_write(bus_influx *s, const char *line, size_t len);

/* Lines in the queue now, and lines dropped since creation (tests). */
size_t bus_influx_queued(bus_influx *s);
uint64_t bus_influx_dropped(bus_influx *s);

/* ---- line builder ----
 *
 *   char buf[512];
 *   bus_influx_line l;
 *   bus_influx_line_init(&l, buf, sizeof buf, "bars");
 *   bus_influx_line_tag(&l, "symbol", "DAX");
 *   bus_influx_line_fixed(&l, "open", bar.open);
 *   size_t len = bus_influx_line_end(&l, bar.start);   // 0: did not fit
 *
 * Tags come first, then fields (a tag after a field, an empty tag value or
 * a point without fields makes the line invalid). Escaping follows the line
 * protocol: measurement commas and spaces; tag keys, tag values and field
 * keys commas, equal signs and spaces; string field values double quotes
 * and backslashes. A newline or carriage return anywhere makes the line
 * invalid (InfluxDB 1.x has no escape for them). */
typedef struct bus_influx_line {
    char *buf;
    size_t cap, len;
    int nfields;
    bool ok;
} bus_influx_line;

void bus_influx_line_init(bus_influx_line *l, char *buf, size_t cap, const char *measurement);
void bus_influx_line_tag(bus_influx_line *l, const char *key, const char *value);
void bus_influx_line_fixed(bus_influx_line *l, const char *key, tb_fixed v);
void bus_influx_line_int(bus_influx_line *l, const char *key, int64_t v);
void bus_influx_line_str(bus_influx_line *l, const char *key, const char *value);
/* Appends the timestamp (ns since the epoch) and NUL-terminates; returns the
 * line's length, 0 when it is invalid or did not fit. */
size_t bus_influx_line_end(bus_influx_line *l, int64_t ts_ns);

#endif
