/* What risk-management asks other services and Redis for: quotes
 * (market-data), a target signal's position (position-management), the order-rate
 * window and the start-of-day P&L baseline (Redis). Every function here
 * fails closed: a dependency that does not answer is reported as
 * unavailable, and the checks reject with their reason code. */
#ifndef RISK_DEPS_H
#define RISK_DEPS_H

#include <hiredis/hiredis.h>

#include "conn.h"
#include "quotes.h"
#include "risk_checks.h"

/* The quote of symbol: from cache when it can vouch for one (quotes.h),
 * else api.market.quote, whose answer the cache then learns (cache may be
 * NULL). NOT_FOUND -> RISK_QUOTE_NONE; no answer or any other error ->
 * RISK_QUOTE_UNAVAILABLE. */
void risk_fetch_quote(bus_conn *c, bus_quotes *cache, const char *symbol, int64_t timeout_ms,
                      const char *trace, risk_quote *out);
/* The quote of symbol when cache can vouch for one (no request): true.
 * A false return may have made this caller the one to confirm the quote
 * (quotes.h): it then asks with risk_request_quote, not risk_fetch_quote. */
bool risk_cached_quote(bus_quotes *cache, const char *symbol, risk_quote *out);
/* risk_fetch_quote without the cache lookup: always asks market-data. */
void risk_request_quote(bus_conn *c, bus_quotes *cache, const char *symbol, int64_t timeout_ms,
                        const char *trace, risk_quote *out);

/* api.positions.get for account and symbol: the signed quantity. */
bool risk_fetch_position(bus_conn *c, const char *account, const char *symbol, int64_t timeout_ms,
                         const char *trace, tb_fixed *qty);

/* Order-rate sliding window of window_ms (one second, max_orders_per_sec;
 * tests lengthen it) per account, atomic in Redis (Lua, server clock so every
 * worker shares one time line): counts the orders of the window plus this
 * one into *count, and records this one (member must be unique, e.g. the
 * order id) only when *count <= limit.
 * event_ns > 0 counts in event time instead (a signal's order, at its tick's
 * time): a window of its own per account, from event_ns - window to
 * event_ns + window (later entries are a replay started over), so a replay's
 * orders are counted per second of the data, not of the machine. */
/* risk_rate_take for n orders of account in one round trip (a pipeline),
 * taken in the order given: members[i], event_ns[i] (NULL: all on the
 * clock), counts[i] receives what risk_rate_take's *count would. */
tb_status risk_rate_take_many(redisContext *r, const char *account, uint64_t limit,
                              int64_t window_ms, size_t n, const char *const *members,
                              const int64_t *event_ns, uint64_t *counts,
                              tb_error *err) TB_WARN_UNUSED;
tb_status risk_rate_take(redisContext *r, const char *account, uint64_t limit, int64_t window_ms,
                         const char *member, int64_t event_ns, uint64_t *count,
                         tb_error *err) TB_WARN_UNUSED;

/* The account's P&L at its first check of the UTC day of now_ns (pnl when
 * this is the first), kept in Redis for two days. A baseline read once is
 * answered from memory afterwards (risk_baseline.h): it never changes. */
tb_status risk_day_baseline(redisContext *r, const char *account, int64_t now_ns, tb_fixed pnl,
                            tb_fixed *baseline, tb_error *err) TB_WARN_UNUSED;

#endif
