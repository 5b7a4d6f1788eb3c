/* Points historical-data writes to InfluxDB (see hist_influx.h). */
#include "hist_influx.h"

void hist_influx_bar(bus_influx *s, unsigned mask, const tb_bar *bar) {
    hist_interval iv;
    if (s == NULL || hist_interval_parse(bar->interval, &iv) != TB_OK || !(mask & 1u << iv)) return;
    char buf[512];
    bus_influx_line l;
    bus_influx_line_init(&l, buf, sizeof buf, "bars");
    bus_influx_line_tag(&l, "symbol", bar->symbol);
    bus_influx_line_tag(&l, "interval", bar->interval);
    bus_influx_line_fixed(&l, "open", bar->open);
    bus_influx_line_fixed(&l, "high", bar->high);
    bus_influx_line_fixed(&l, "low", bar->low);
    bus_influx_line_fixed(&l, "close", bar->close);
    bus_influx_line_fixed(&l, "volume", bar->volume);
    bus_influx_line_int(&l, "ticks", bar->ticks > INT64_MAX ? INT64_MAX : (int64_t)bar->ticks);
    size_t len = bus_influx_line_end(&l, bar->start);
    (void)bus_influx_write(s, buf, len); /* a drop is counted by the sink */
}

void hist_influx_ticks(bus_influx *s, const hist_batch *b, int64_t every, uint64_t *n) {
    if (s == NULL || every <= 0) return;
    for (size_t i = 0; i < b->nticks; i++) {
        const hist_batch_tick *t = &b->ticks[i];
        if (t->outcome != HIST_TICK_NEW || (*n)++ % (uint64_t)every != 0) continue;
        char buf[256];
        bus_influx_line l;
        bus_influx_line_init(&l, buf, sizeof buf, "ticks");
        bus_influx_line_tag(&l, "symbol", t->symbol);
        bus_influx_line_fixed(&l, "price", t->price);
        bus_influx_line_fixed(&l, "size", t->size);
        bus_influx_line_int(&l, "seq", (int64_t)t->seq);
        size_t len = bus_influx_line_end(&l, t->ts);
        (void)bus_influx_write(s, buf, len);
    }
}
