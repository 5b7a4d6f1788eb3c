/* bus_outbox_add_many: the outbox rows of a batch as array parameters,
 * unnested by the server (one round trip; see outbox_many.h). */
#include "outbox_many.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>

#include "pgarray.h"
#include "store.h"
#include "wire.h"

tb_status bus_outbox_add_many(PGconn *c, const char *producer, const tb_event_desc *desc,
                              const bus_outbox_item *items, size_t n, tb_error *err) {
    if (n == 0) return TB_OK;
    enum { NA = 4 };
    bus_pgarray a[NA] = {{0}};
    tb_status s = TB_OK;
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    for (size_t i = 0; s == TB_OK && i < n; i++) {
        msgpack_sbuffer_clear(&b);
        s = tb_encode(desc, items[i].ev, &b, err);
        if (s != TB_OK) break;
        json_t *h = json_pack("{s:s, s:s}", BUS_HDR_SCHEMA, desc->name, BUS_HDR_TRACE,
                              items[i].trace_id ? items[i].trace_id : "");
        char *hdrs = h ? json_dumps(h, JSON_COMPACT) : NULL;
        json_decref(h);
        if (hdrs == NULL) s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        bus_pgarray_str(&a[0], items[i].subject);
        bus_pgarray_str(&a[1], items[i].msg_id);
        bus_pgarray_hex(&a[2], (const uint8_t *)b.data, b.size);
        bus_pgarray_str(&a[3], hdrs ? hdrs : "{}");
        free(hdrs);
    }
    msgpack_sbuffer_destroy(&b);
    const char *p[NA + 1] = {producer};
    if (s == TB_OK) s = bus_pgarray_finish_all(a, NA, p + 1, err);
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        "INSERT INTO outbox (producer, subject, msg_id, payload, headers) "
                        "SELECT $1, u.subject, u.msg_id, decode(u.payload, 'hex'), "
                        "u.headers::jsonb FROM unnest($2::text[], $3::text[], $4::text[], "
                        "$5::text[]) WITH ORDINALITY AS u(subject, msg_id, payload, headers, i) "
                        "ORDER BY u.i",
                        NA + 1, p, NULL, err);
    bus_pgarray_close_all(a, NA);
    return s;
}
