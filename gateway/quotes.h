/* The gateway's last-quote cache: GET /v1/market/quotes/{symbol} answered
 * from the ticks the gateway itself receives instead of a bus round trip to
 * market-data (and its Redis read) for every request.
 *
 * A symbol enters the cache when market-data has answered a request for it
 * (so only symbols that exist, at most GATEWAY_QUOTE_CACHE of them): the
 * gateway then subscribes to md.tick.<symbol> and keeps the last tick it
 * receives. market-data stores a tick in Redis before it publishes it, so
 * the cache lags the owner's answer by one delivery at most. The cache
 * answers only while it can vouch for its tick:
 *   - a tick arrived on the subscription, or market-data answered after the
 *     subscription was in place (an earlier answer may predate a tick the
 *     subscription never saw);
 *   - the NATS connection has not reconnected since (ticks published while
 *     it was down are lost to core NATS) and the subscription dropped none;
 *   - market-data confirmed it within GATEWAY_QUOTE_VERIFY_MS: after that
 *     one request goes to market-data again (the others are still answered
 *     from the cache, for one more period at most), whose answer wins when
 *     it is newer
 *     (a higher seq), which bounds any divergence (two publishers of one
 *     symbol interleaving differently in Redis and on the wire, a Redis that
 *     lost its seqs).
 * Otherwise the request goes to market-data as before. Symbols not asked for
 * during GATEWAY_QUOTE_IDLE_MS are unsubscribed and forgotten by a sweep
 * timer. */
#ifndef GW_QUOTES_H
#define GW_QUOTES_H

#include "actor.h"
#include "catalogue.h"

typedef struct gw_quotes gw_quotes;

/* cap 0 disables the cache (every get misses, learn does nothing). */
gw_quotes *gw_quotes_create(bus_conn *conn, bus_metrics *m, int64_t cap, int64_t verify_ms,
                            int64_t idle_ms);
/* Unsubscribes everything; call once no request and no sweep runs. NULL-safe. */
void gw_quotes_destroy(gw_quotes *q);

/* True and *out = symbol's last tick when the cache can answer for it. */
bool gw_quotes_get(gw_quotes *q, const char *symbol, tb_tick *out);

/* market-data answered t for a request sent at sent_ns (bus_mono_ns):
 * refreshes symbol's entry, or creates it and subscribes to its ticks. */
void gw_quotes_learn(gw_quotes *q, const tb_tick *t, int64_t sent_ns);

/* Forgets symbols not asked for during idle_ms (the sweep timer's body). */
void gw_quotes_sweep(gw_quotes *q);

/* Symbols followed now (for tests and /metrics). */
size_t gw_quotes_count(gw_quotes *q);

#endif
