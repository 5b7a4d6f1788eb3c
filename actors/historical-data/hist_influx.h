/* What historical-data writes to InfluxDB (bus/influx.h): closed bars of the
 * intervals INFLUX_BAR_INTERVALS names and, when INFLUX_TICK_SAMPLE is set, a
 * sample of the stored ticks. Each call only formats points and queues them
 * (never waits for InfluxDB).
 *
 *   bars,symbol=<SYM>,interval=<1s|1m|5m|1h|1d>
 *        open=,high=,low=,close=,volume=<decimal>,ticks=<n>i  <bar start, ns>
 *   ticks,symbol=<SYM> price=,size=<decimal>,seq=<n>i         <event time, ns>
 */
#ifndef HIST_INFLUX_H
#define HIST_INFLUX_H

#include <stdint.h>

#include "hist_bar.h"
#include "hist_batch.h"
#include "influx.h"

/* The intervals written by default: 1s bars, about one per tick on a busy
 * feed, would cost InfluxDB more than the rest of the chain's points
 * together, and the dashboards read 1m bars. */
#define HIST_INFLUX_DEFAULT_INTERVALS "1m,5m,1h,1d"

/* One closed bar, as announced on md.bar.<interval>.<SYM>, when its interval
 * is in mask. */
void hist_influx_bar(bus_influx *s, unsigned mask, const tb_bar *bar);

/* Every every-th tick the batch counted (outcome HIST_TICK_NEW), counted
 * across batches with *n; nothing when every is 0. */
void hist_influx_ticks(bus_influx *s, const hist_batch *b, int64_t every, uint64_t *n);

#endif
