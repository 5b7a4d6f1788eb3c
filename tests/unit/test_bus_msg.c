/* bus_msg_destroy frees a message on the calling thread: nats.c's own
 * natsMsg_Destroy hands it to a collector thread, woken per message, and
 * the memory is released later, on that thread (bus/conn.c says what that
 * cost). Each check reads the allocator right after the call: a message
 * left to the collector is still allocated then, in practice always and
 * certainly in fifty tries out of fifty. */
#include <malloc.h>
#include <nats/nats.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "tb_test.h"

#if defined(__SANITIZE_ADDRESS__)
#define TB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TB_ASAN 1
#endif
#endif
#ifdef TB_ASAN
/* From the sanitizer runtime (GCC ships no header for it). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

enum { PAYLOAD = 4 << 20, TRIES = 50 };

static size_t allocated_bytes(void) {
#ifdef TB_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

START_TEST(freed_on_the_calling_thread) {
    ck_assert_int_eq(nats_Open(-1), NATS_OK);
    char *payload = malloc(PAYLOAD);
    ck_assert_ptr_nonnull(payload);
    memset(payload, 'x', PAYLOAD);
    int freed = 0;
    for (int i = 0; i < TRIES; i++) {
        natsMsg *m = NULL;
        ck_assert_int_eq(natsMsg_Create(&m, "tb.test.msg", NULL, payload, PAYLOAD), NATS_OK);
        /* Headers are freed with the message (natsMsg_free). */
        ck_assert_int_eq(natsMsgHeader_Set(m, "Tb-Trace-Id", "abc"), NATS_OK);
        size_t before = allocated_bytes();
        bus_msg_destroy(m);
        size_t after = allocated_bytes();
        if (before >= after + PAYLOAD) freed++;
    }
    ck_assert_msg(freed == TRIES, "freed at once %d times of %d", freed, TRIES);
    bus_msg_destroy(NULL);
    free(payload);
    nats_Close();
}
END_TEST

int main(void) {
    Suite *s = suite_create("bus_msg");
    TCase *tc = tcase_create("destroy");
    tcase_add_test(tc, freed_on_the_calling_thread);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
