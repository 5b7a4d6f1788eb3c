/* Merging Prometheus text expositions (format 0.0.4) of many instances into
 * one, so /metrics shows every family's HELP and TYPE once followed by the
 * samples of every instance (each instance's series carry their own service
 * and instance labels, so samples never collide). Pure text processing. */
#ifndef GW_PROM_H
#define GW_PROM_H

#include <stddef.h>

typedef struct gw_prom gw_prom;

/* NULL on out-of-memory. Caller frees with gw_prom_destroy. */
gw_prom *gw_prom_create(void);
void gw_prom_destroy(gw_prom *p);

/* Adds one exposition of len bytes. Families keep the order in which they
 * were first seen and the HELP text first seen. Samples of a family whose
 * TYPE contradicts the one seen before, and samples outside any family, are
 * dropped; the return value is how many lines were dropped (-1 on
 * out-of-memory). */
long gw_prom_add(gw_prom *p, const char *text, size_t len);

/* The merged exposition; malloc'd and NUL-terminated (caller frees), *len
 * its length. NULL on out-of-memory. */
char *gw_prom_render(const gw_prom *p, size_t *len);

#endif
