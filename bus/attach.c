/* A long text beside a catalogue event (attach.h). */
#include "attach.h"

#include <stdlib.h>
#include <string.h>

/* Bytes of the map header at the start of a msgpack buffer and the map's
 * size; 0 when it does not start with a map. */
static size_t map_header(const unsigned char *p, size_t len, uint32_t *n) {
    if (len >= 1 && (p[0] & 0xf0) == 0x80) {
        *n = p[0] & 0x0f;
        return 1;
    }
    if (len >= 3 && p[0] == 0xde) {
        *n = (uint32_t)p[1] << 8 | p[2];
        return 3;
    }
    if (len >= 5 && p[0] == 0xdf) {
        *n = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        return 5;
    }
    return 0;
}

tb_status bus_attach_encode(const tb_event_desc *d, const void *ev, const char *key,
                            const char *text, size_t len, msgpack_sbuffer *out, tb_error *err) {
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    tb_status s = tb_encode(d, ev, &body, err);
    uint32_t n = 0;
    size_t hdr = s == TB_OK ? map_header((const unsigned char *)body.data, body.size, &n) : 0;
    if (s == TB_OK && hdr == 0) s = tb_error_set(err, TB_ERR, NULL, "%s: not a map", d->name);
    if (s == TB_OK && body.size + strlen(key) + len + 16 > (size_t)TB_MAX_MSG_BYTES)
        s = tb_error_set(err, TB_TOO_LARGE, key, "%s: %zu bytes do not fit one message (%d)", key,
                         len, TB_MAX_MSG_BYTES);
    if (s == TB_OK) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
        size_t klen = strlen(key);
        if (msgpack_pack_map(&pk, n + 1) != 0 ||
            msgpack_sbuffer_write(out, body.data + hdr, body.size - hdr) != 0 ||
            msgpack_pack_str(&pk, klen) != 0 || msgpack_pack_str_body(&pk, key, klen) != 0 ||
            msgpack_pack_str(&pk, len) != 0 || msgpack_pack_str_body(&pk, text, len) != 0)
            s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    }
    msgpack_sbuffer_destroy(&body);
    return s;
}

tb_status bus_attach_find(const void *data, size_t len, const char *key, char **text, size_t *tlen,
                          tb_error *err) {
    *text = NULL;
    *tlen = 0;
    if (len > (size_t)TB_MAX_MSG_BYTES)
        return tb_error_set(err, TB_TOO_LARGE, NULL, "message over %d bytes", TB_MAX_MSG_BYTES);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    tb_status s = TB_OK;
    if (msgpack_unpack_next(&up, data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        up.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(&up);
        return tb_error_set(err, TB_DECODE, NULL, "not a msgpack map");
    }
    size_t klen = strlen(key);
    const msgpack_object *v = NULL;
    for (uint32_t i = 0; i < up.data.via.map.size && v == NULL; i++) {
        const msgpack_object_kv *kv = &up.data.via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen &&
            memcmp(kv->key.via.str.ptr, key, klen) == 0)
            v = &kv->val;
    }
    if (v == NULL)
        s = tb_error_set(err, TB_NOT_FOUND, key, "%s: absent", key);
    else if (v->type != MSGPACK_OBJECT_STR)
        s = tb_error_set(err, TB_WRONG_TYPE, key, "%s: not a string", key);
    else if ((*text = malloc(v->via.str.size + 1)) == NULL)
        s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    else {
        memcpy(*text, v->via.str.ptr, v->via.str.size);
        (*text)[v->via.str.size] = '\0';
        *tlen = v->via.str.size;
    }
    msgpack_unpacked_destroy(&up);
    return s;
}
