/* A last-quote cache: a service that needs market-data's quote of a symbol
 * (the gateway's GET /v1/market/quotes/{symbol}, risk-management's checks)
 * answers from the ticks it receives itself instead of a bus round trip to
 * market-data (and its Redis read) every time. market-data stays the owner:
 * the cache only follows its ticks and its answers.
 *
 * A symbol enters the cache when market-data has answered a request for it
 * (so only symbols that exist, at most cap of them): the
 * service then subscribes to md.tick.<symbol> and keeps the last tick it
 * receives. market-data stores a tick in Redis before it publishes it, so
 * the cache lags the owner's answer by one delivery at most. The cache
 * answers only while it can vouch for its tick:
 *   - a tick arrived on the subscription, or market-data answered after the
 *     subscription was in place (an earlier answer may predate a tick the
 *     subscription never saw);
 *   - the NATS connection has not reconnected since (ticks published while
 *     it was down are lost to core NATS) and the subscription dropped none;
 *   - market-data confirmed it within verify_ms: after that
 *     one request goes to market-data again (the others are still answered
 *     from the cache, for one more period at most), whose answer wins when
 *     it is newer
 *     (a higher seq), which bounds any divergence (two publishers of one
 *     symbol interleaving differently in Redis and on the wire, a Redis that
 *     lost its seqs).
 * Otherwise the request goes to market-data as before. Symbols not asked for
 * during idle_ms are unsubscribed and forgotten by a sweep
 * timer. */
#ifndef BUS_QUOTES_H
#define BUS_QUOTES_H

#include "actor.h"
#include "catalogue.h"

typedef struct bus_quotes bus_quotes;

/* cap 0 disables the cache (every get misses, learn does nothing). The
 * metrics (m may be NULL) are named <prefix>_quote_cache_total (answer
 * cache|market-data), <prefix>_quote_cache_symbols and
 * <prefix>_quote_cache_gaps_total. */
bus_quotes *bus_quotes_create(bus_conn *conn, bus_metrics *m, const char *prefix, int64_t cap,
                              int64_t verify_ms, int64_t idle_ms);
/* Unsubscribes everything; call once no request and no sweep runs. NULL-safe. */
void bus_quotes_destroy(bus_quotes *q);

/* True and *out = symbol's last tick when the cache can answer for it. */
bool bus_quotes_get(bus_quotes *q, const char *symbol, tb_tick *out);

/* market-data answered t for a request sent at sent_ns (bus_mono_ns):
 * refreshes symbol's entry, or creates it and subscribes to its ticks.
 * newest (may be NULL) receives the quote to use now: the entry's tick
 * when it is vouched for and newer than t (a tick heard while the request
 * was out), else t. */
void bus_quotes_learn(bus_quotes *q, const tb_tick *t, int64_t sent_ns, tb_tick *newest);

/* Forgets symbols not asked for during idle_ms (the sweep timer's body). */
void bus_quotes_sweep(bus_quotes *q);

/* Symbols followed now (for tests and /metrics). */
size_t bus_quotes_count(bus_quotes *q);

#endif
