/* Equity chart rendering; see svg.h.
 *
 * Layout: a plot area inside fixed margins, the curve as one polyline, the
 * lowest and highest equity on the y axis, the first and last time on the x
 * axis. A flat series (or a single point) is drawn at mid-height. */
#include "svg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static int by_time(const void *a, const void *b) {
    const tb_equity_point *x = *(const tb_equity_point *const *)a;
    const tb_equity_point *y = *(const tb_equity_point *const *)b;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

/* "2026-01-02 03:04" from a timestamp. */
static void short_time(int64_t ns, char out_buf[40]) {
    char full[40];
    tb_ts_format(ns, full);
    snprintf(out_buf, 40, "%.10s %.5s", full, strlen(full) > 11 ? full + 11 : "");
}

char *gw_svg_equity(const tb_equity_point *pts, size_t n, const char *title, size_t *len) {
    const double left = 90, right = 20, top = 40, bottom = 50;
    const double pw = GW_SVG_WIDTH - left - right, ph = GW_SVG_HEIGHT - top - bottom;
    gw_buf o = {0};
    gw_buf_printf(&o,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                  "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">",
                  GW_SVG_WIDTH, GW_SVG_HEIGHT, GW_SVG_WIDTH, GW_SVG_HEIGHT, GW_SVG_WIDTH / 2);
    gw_buf_escape(&o, title ? title : "");
    gw_buf_printf(
        &o,
        "</text>\n<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
        "stroke=\"#999\"/>\n",
        left, top, pw, ph);
    const tb_equity_point **sorted = n ? malloc(n * sizeof *sorted) : NULL;
    if (n && sorted == NULL) o.oom = true;
    if (n == 0 || sorted == NULL) {
        gw_buf_printf(
            &o, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666\">no data</text>\n",
            GW_SVG_WIDTH / 2, GW_SVG_HEIGHT / 2);
    } else {
        for (size_t i = 0; i < n; i++) sorted[i] = &pts[i];
        qsort(sorted, n, sizeof *sorted, by_time);
        tb_fixed lo = sorted[0]->equity, hi = lo;
        for (size_t i = 1; i < n; i++) {
            if (sorted[i]->equity < lo) lo = sorted[i]->equity;
            if (sorted[i]->equity > hi) hi = sorted[i]->equity;
        }
        int64_t t0 = sorted[0]->ts, t1 = sorted[n - 1]->ts;
        double span_v = tb_fixed_to_double(hi) - tb_fixed_to_double(lo);
        double span_t = (double)(t1 - t0);
        gw_buf_printf(&o,
                      "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
        for (size_t i = 0; i < n; i++) {
            double fx = span_t > 0 ? (double)(sorted[i]->ts - t0) / span_t : 0.5;
            double fy =
                span_v > 0
                    ? (tb_fixed_to_double(sorted[i]->equity) - tb_fixed_to_double(lo)) / span_v
                    : 0.5;
            gw_buf_printf(&o, "%s%.1f,%.1f", i ? " " : "", left + fx * pw, top + (1 - fy) * ph);
        }
        gw_buf_printf(&o, "\"/>\n");
        char vlo[TB_FIXED_STRLEN], vhi[TB_FIXED_STRLEN], ta[40], tz[40];
        tb_fixed_format(lo, vlo);
        tb_fixed_format(hi, vhi);
        short_time(t0, ta);
        short_time(t1, tz);
        gw_buf_printf(&o, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n", left - 6,
                      top + 4, vhi);
        gw_buf_printf(&o, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n", left - 6,
                      top + ph, vlo);
        gw_buf_printf(&o, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"start\">%s</text>\n", left,
                      top + ph + 20, ta);
        gw_buf_printf(&o, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n", left + pw,
                      top + ph + 20, tz);
    }
    gw_buf_printf(&o, "</svg>\n");
    free(sorted);
    return gw_buf_finish(&o, len);
}
