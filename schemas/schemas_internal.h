/* Helpers shared by catalogue.c, codec.c and json.c; not part of the public
 * contract (catalogue.h) and not to be included outside schemas/. */
#ifndef TB_SCHEMAS_INTERNAL_H
#define TB_SCHEMAS_INTERNAL_H

#include "catalogue.h"

/* Deepest container nesting any decoder accepts; equal to msgpack-c's fixed
 * unpack stack (MSGPACK_EMBED_STACK_SIZE), so no input is refused by the
 * library that the pre-scan let through. */
#define TB_MAX_DEPTH 32

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). NUL bytes count as valid here. */
bool tb__utf8_valid(const char *s, size_t len);

/* True when the field holds its zero value: all bytes zero for scalars, an
 * empty string for string types. Zero OPT fields are not written. */
bool tb__field_is_zero(const tb_field_desc *f, const void *ev);

/* Checks buf[0..len) is exactly one well-formed msgpack value, no deeper than
 * max_depth, whose declared lengths fit in the input, then unpacks it into
 * *result (caller msgpack_unpacked_init'ed it and always _destroy's it).
 * The scan comes first because msgpack-c allocates every array and map at its
 * declared size: without it a 5-byte input could ask for gigabytes. */
tb_status tb__msgpack_unpack(const void *buf, size_t len, int max_depth, msgpack_unpacked *result,
                             tb_error *err);

#endif
