/* An equity curve as an SVG line chart, drawn by the gateway from the points
 * analytics returns (GET /v1/analytics/{account}/equity?format=svg).
 * Presentation only: coordinates use double; the labels print the exact
 * decimal values. No I/O. */
#ifndef GW_SVG_H
#define GW_SVG_H

#include <stddef.h>

#include "catalogue.h"

#define GW_SVG_WIDTH  800
#define GW_SVG_HEIGHT 400

/* Renders the points (any order; drawn by time) with title (escaped here).
 * An empty series renders a chart saying so. Returns malloc'd,
 * NUL-terminated SVG (caller frees) and its length in *len; NULL on
 * out-of-memory. */
char *gw_svg_equity(const tb_equity_point *pts, size_t n, const char *title, size_t *len);

#endif
