/* How nats.c failures become tb_status: a lost or failing connection is an
 * outage (TB_UNAVAILABLE, which the gateway answers with 503 and
 * Retry-After), never an internal error (500). test_dep_faults found a
 * request cut by a NATS restart answered "IO Error" as a 500. */
#include <nats/nats.h>
#include <stdlib.h>

#include "conn.h"
#include "tb_test.h"

START_TEST(connection_failures_are_unavailable) {
    const natsStatus outages[] = {
        NATS_IO_ERROR,  NATS_CONNECTION_CLOSED, NATS_CONNECTION_DISCONNECTED,
        NATS_NO_SERVER, NATS_STALE_CONNECTION,  NATS_DRAINING};
    for (size_t i = 0; i < sizeof outages / sizeof outages[0]; i++)
        ck_assert_msg(bus_status_from_nats(outages[i]) == TB_UNAVAILABLE, "%s is %s",
                      natsStatus_GetText(outages[i]),
                      tb_status_code(bus_status_from_nats(outages[i])));
    ck_assert_int_eq(bus_status_from_nats(NATS_OK), TB_OK);
    ck_assert_int_eq(bus_status_from_nats(NATS_TIMEOUT), TB_TIMEOUT);
    ck_assert_int_eq(bus_status_from_nats(NATS_NO_RESPONDERS), TB_NO_RESPONDERS);
    ck_assert_int_eq(bus_status_from_nats(NATS_ERR), TB_ERR);
}
END_TEST

int main(void) {
    Suite *s = suite_create("bus_nats_status");
    TCase *tc = tcase_create("map");
    tcase_add_test(tc, connection_failures_are_unavailable);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
