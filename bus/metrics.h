/* Metrics registry: counters, gauges and duration histograms, rendered in the
 * Prometheus text exposition format (version 0.0.4).
 *
 * A series is found or created by family name plus label pairs and stays
 * valid until the registry is destroyed, so hot paths look it up once and then
 * only do atomic adds. Label values are escaped here; names are checked
 * against the Prometheus grammar when the family is created. Thread-safe. */
#ifndef BUS_METRICS_H
#define BUS_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bus_metrics bus_metrics;
typedef struct bus_series bus_series;

/* Const labels (e.g. service="x",instance="y") are added to every series.
 * Both may be NULL. Caller destroys with bus_metrics_destroy. */
bus_metrics *bus_metrics_create(const char *service, const char *instance);
void bus_metrics_destroy(bus_metrics *m);

/* Label pairs are given as a NULL-terminated list of key, value strings:
 *   bus_metrics_counter(m, "tb_orders_total", "Orders by outcome", "outcome", "filled", NULL)
 * Return NULL only on out-of-memory or when name/help/type conflict with an
 * existing family; the update functions accept NULL and do nothing. */
bus_series *bus_metrics_counter(bus_metrics *m, const char *name, const char *help, ...)
    __attribute__((sentinel));
bus_series *bus_metrics_gauge(bus_metrics *m, const char *name, const char *help, ...)
    __attribute__((sentinel));
/* Durations in seconds, buckets 0.0001 s .. 10 s. */
bus_series *bus_metrics_histogram(bus_metrics *m, const char *name, const char *help, ...)
    __attribute__((sentinel));

/* Sizes (e.g. messages per batch), buckets 1, 2, 4 .. 16384, 65536. */
bus_series *bus_metrics_size_histogram(bus_metrics *m, const char *name, const char *help, ...)
    __attribute__((sentinel));

void bus_counter_add(bus_series *s, uint64_t n);
void bus_gauge_set(bus_series *s, int64_t v);
void bus_gauge_add(bus_series *s, int64_t delta);
void bus_histogram_observe_ns(bus_series *s, int64_t ns);
void bus_histogram_observe_size(bus_series *s, uint64_t n);

/* Value of a counter or gauge (for tests and health). */
int64_t bus_series_value(const bus_series *s);

/* Renders every family. *out is malloc'd and NUL-terminated (caller frees),
 * *len its length. Returns 0, or -1 on out-of-memory. */
int bus_metrics_render(bus_metrics *m, char **out, size_t *len);

/* Appends the escaped form of a label value (backslash, quote, newline). */
size_t bus_metrics_escape_label(const char *in, char *out, size_t cap);

#endif
