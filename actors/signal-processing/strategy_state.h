/* Serialisation of sp_state for Redis: a compact JSON object, readable with
 * redis-cli, that round-trips exactly (prices as integers of 1e-8 units,
 * 128-bit sums as decimal strings).
 *
 * Decoding checks the text against the strategy's current parameters: a
 * state written for another kind or other periods is refused (TB_INVALID), and
 * the caller starts that strategy afresh. No I/O. */
#ifndef SP_STRATEGY_STATE_H
#define SP_STRATEGY_STATE_H

#include <stddef.h>

#include "strategy.h"

/* Version of the layout below; a state of another version is refused. */
#define SP_STATE_FORMAT 1

/* Encodes s. Returns a malloc'd NUL-terminated string (caller frees with
 * free()) and its length in *len, or NULL when out of memory. */
char *sp_state_encode(const sp_state *s, size_t *len);

/* Decodes buf[0..len) into *out for params p. TB_INVALID (err says why) when
 * the text is malformed, of another format, kind or shape; *out is only
 * written on success. */
tb_status sp_state_decode(const char *buf, size_t len, const sp_params *p, sp_state *out,
                          tb_error *err) TB_WARN_UNUSED;

/* The strategy version stamped in an encoded state (any kind); false when
 * the text is unreadable. Lets a worker tell "my configuration is older than
 * the state's" from "the state is older than the configuration". */
bool sp_state_version(const char *buf, size_t len, int64_t *out);

#endif
