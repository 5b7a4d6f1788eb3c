/* tb-position-management: positions, average cost, realized and unrealized
 * P&L, cash and equity per account (DESIGN §1).
 *
 * Consumes fills.<account>.<symbol> (JetStream FILLS, durable
 * "position-management"; each fill applied exactly once, a fetched batch of
 * fills in one transaction, pos_fill_batch.c, one by one pos_fills.c) and
 * md.tick.> (marks, pos_marks.c). Produces pos.update.<account>.<symbol>.
 * Answers api.positions.list|get, api.accounts.get|list|create and
 * api.fills.list (pos_api.c). State lives in PostgreSQL only: any number of
 * copies may run and any may die. */
#include <stdlib.h>

#include "actor.h"
#include "pos_api.h"
#include "pos_db.h"
#include "pos_fills.h"
#include "pos_marks.h"
#include "wire.h"

static pos_service service;
static int64_t mark_interval_ms;

static bus_endpoint endpoints[] = {
    {.name = "fills",
     .kind = BUS_STREAM,
     .subject = "fills.>",
     .event = &tb_fill_desc,
     .batch_handler = pos_on_fills,
     .batch_max = 128,
     .stream = {.stream = BUS_STREAM_FILLS, .durable = "position-management", .batch = 128}},
    {.name = "positions-list",
     .kind = BUS_REQUEST,
     .subject = "api.positions.list",
     .event = &tb_query_desc,
     .handler = pos_api_positions_list},
    {.name = "positions-get",
     .kind = BUS_REQUEST,
     .subject = "api.positions.get",
     .event = &tb_query_desc,
     .handler = pos_api_positions_get},
    {.name = "accounts-get",
     .kind = BUS_REQUEST,
     .subject = "api.accounts.get",
     .event = &tb_query_desc,
     .handler = pos_api_accounts_get},
    {.name = "accounts-list",
     .kind = BUS_REQUEST,
     .subject = "api.accounts.list",
     .event = &tb_query_desc,
     .handler = pos_api_accounts_list},
    {.name = "accounts-create",
     .kind = BUS_REQUEST,
     .subject = "api.accounts.create",
     .event = &tb_account_desc,
     .handler = pos_api_accounts_create},
    {.name = "accounts-delete",
     .kind = BUS_REQUEST,
     .subject = "api.accounts.delete",
     .event = &tb_query_desc,
     .handler = pos_api_accounts_delete},
    {.name = "fills-list",
     .kind = BUS_REQUEST,
     .subject = "api.fills.list",
     .event = &tb_query_desc,
     .handler = pos_api_fills_list},
    /* Last, so POS_MARKS=false can leave it out. */
    {.name = "marks",
     .kind = BUS_EVENT,
     .subject = "md.tick.>",
     .event = &tb_tick_desc,
     .batch_handler = pos_on_ticks},
};

static tb_status start(bus_actor *a, tb_error *err) {
    bus_metrics *m = bus_actor_metrics(a);
    service.m_applied = bus_metrics_counter(m, "tb_pos_fills_total", "Fills by outcome", "outcome",
                                            "applied", NULL);
    service.m_duplicates = bus_metrics_counter(m, "tb_pos_fills_total", "Fills by outcome",
                                               "outcome", "duplicate", NULL);
    service.m_rejected = bus_metrics_counter(m, "tb_pos_fills_total", "Fills by outcome", "outcome",
                                             "rejected", NULL);
    service.m_reordered = bus_metrics_counter(
        m, "tb_pos_fills_reordered_total",
        "Fills that arrived after later fills of their position and were inserted in order", NULL);
    const char *batches = "tb_pos_fill_batches_total";
    const char *batches_help = "Fill batches: booked in one transaction, or fill by fill";
    service.m_batches =
        bus_metrics_counter(m, batches, batches_help, "outcome", "one_transaction", NULL);
    service.m_batch_fallbacks =
        bus_metrics_counter(m, batches, batches_help, "outcome", "one_by_one", NULL);
    service.m_marks_written = bus_metrics_counter(m, "tb_pos_marks_written_total",
                                                  "Mark prices written to positions", NULL);
    service.marks = pos_marks_create(mark_interval_ms);
    if (service.marks == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    bus_actor_set_user(a, &service);
    return pos_marks_start(a, service.marks, err);
}

static void usage(FILE *f) {
    fprintf(
        f,
        "position-management settings:\n"
        "  POS_FILLS_SUBJECT     fills consumed (default fills.>)\n"
        "  POS_DURABLE           JetStream durable consumer (default position-management)\n"
        "  POS_ACK_WAIT_MS       redelivery delay of an unacked fill (default 30000)\n"
        "  POS_MAX_DELIVER       deliveries before a failing fill is dead-lettered (default 10)\n"
        "  POS_FILL_BATCH        fills fetched and booked in one transaction (1..1024,\n"
        "                        default 128)\n"
        "  POS_MARKS             consume md.tick.> for marks (default true)\n"
        "  POS_MARK_INTERVAL_MS  at most one mark write per symbol per interval; 0 = every\n"
        "                        tick (default 1000)\n");
}

static bus_actor_def def = {
    .name = "position-management",
    .version = "0.1.0",
    .description = "Positions, average cost, realized/unrealized P&L, cash and equity per account",
    .endpoints = endpoints,
    .nendpoints = sizeof endpoints / sizeof endpoints[0],
    .needs = BUS_NEEDS_PG | BUS_NEEDS_STREAMS,
    .start = start,
    .usage = usage,
};

static int settings(void) {
    tb_error err = {0};
    int64_t ack_wait, max_deliver, fill_batch;
    bool marks;
    if (bus_env_int("POS_ACK_WAIT_MS", 30000, 100, 3600000, &ack_wait, &err) != TB_OK ||
        bus_env_int("POS_MAX_DELIVER", 10, 1, 1000, &max_deliver, &err) != TB_OK ||
        bus_env_int("POS_FILL_BATCH", 128, 1, 1024, &fill_batch, &err) != TB_OK ||
        bus_env_int("POS_MARK_INTERVAL_MS", 1000, 0, 3600000, &mark_interval_ms, &err) != TB_OK ||
        bus_env_bool("POS_MARKS", true, &marks, &err) != TB_OK) {
        fprintf(stderr, "tb-position-management: %s\n", err.message);
        return 2;
    }
    endpoints[0].subject = bus_env("POS_FILLS_SUBJECT", "fills.>");
    endpoints[0].stream.durable = bus_env("POS_DURABLE", "position-management");
    endpoints[0].stream.ack_wait_ms = ack_wait;
    endpoints[0].stream.max_deliver = (int)max_deliver;
    endpoints[0].stream.batch = (int)fill_batch;
    endpoints[0].batch_max = (int)fill_batch;
    if (!marks) def.nendpoints--;
    return 0;
}

int main(int argc, char **argv) {
    int rc = settings();
    if (rc != 0) return rc;
    rc = bus_actor_main(&def, argc, argv);
    pos_marks_destroy(service.marks);
    return rc;
}
