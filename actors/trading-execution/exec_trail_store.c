/* Persisting trailing stops' current stops: whatever moved in a
 * transaction (a tick round, an order batch) is written by one statement,
 * so a batch costs the same number of round trips however many stops its
 * ticks moved. The stop is in its own table (order_trail_stops): moving it
 * is not a transition of the order. */
#include "exec_store.h"

#include "pgarray.h"
#include "store.h"

void exec_trail_collect(const exec_row *rows, size_t n, exec_trail_pos *out, size_t *nout) {
    for (size_t i = 0; i < n; i++)
        if (rows[i].ord.trail_moved && rows[i].ord.trail_stop > 0)
            out[(*nout)++] =
                (exec_trail_pos){.order_id = rows[i].rec.order_id, .stop = rows[i].ord.trail_stop};
}

tb_status exec_store_save_trails(PGconn *c, const exec_trail_pos *v, size_t n, tb_error *err) {
    if (n == 0) return TB_OK;
    enum { NA = 2 };
    bus_pgarray a[NA] = {{0}};
    for (size_t i = 0; i < n; i++) {
        bus_pgarray_str(&a[0], v[i].order_id);
        bus_pgarray_fixed(&a[1], v[i].stop);
    }
    const char *p[NA];
    tb_status s = bus_pgarray_finish_all(a, NA, p, err);
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        "INSERT INTO order_trail_stops (order_id, trail_stop) "
                        "SELECT id, stop FROM unnest($1::text[], $2::numeric[]) AS u(id, stop) "
                        "ON CONFLICT (order_id) DO UPDATE SET trail_stop = EXCLUDED.trail_stop",
                        NA, p, NULL, err);
    bus_pgarray_close_all(a, NA);
    return s;
}
