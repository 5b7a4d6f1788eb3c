/* A long text beside a catalogue event in one message.
 *
 * Catalogue strings are inline and short (TB_TEXT_CAP), so a CSV sent with a
 * backtest request does not fit a TEXT field. The sender encodes the event as
 * usual and adds one more key to its msgpack map holding the text; tb_decode
 * ignores keys it does not know, so the receiver decodes the event as before
 * and reads the text with bus_attach_find from the raw payload
 * (bus_ctx_payload). */
#ifndef BUS_ATTACH_H
#define BUS_ATTACH_H

#include <msgpack.h>
#include <stddef.h>

#include "catalogue.h"

/* ev encoded by its descriptor (validated), plus key = text[0..len) as a
 * msgpack string, appended to out. TB_TOO_LARGE when the whole message is
 * over TB_MAX_MSG_BYTES. */
tb_status bus_attach_encode(const tb_event_desc *d, const void *ev, const char *key,
                            const char *text, size_t len, msgpack_sbuffer *out,
                            tb_error *err) TB_WARN_UNUSED;

/* The string under key in the top-level msgpack map data[0..len): a heap copy,
 * NUL-terminated, into *text (caller frees) and its length into *tlen.
 * TB_NOT_FOUND when the map has no such key, TB_WRONG_TYPE when it is not a
 * string, TB_DECODE when data is not a map. */
tb_status bus_attach_find(const void *data, size_t len, const char *key, char **text, size_t *tlen,
                          tb_error *err) TB_WARN_UNUSED;

#endif
