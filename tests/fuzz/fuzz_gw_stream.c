/* WebSocket client messages of GET /v1/stream (gw_stream_parse) for a
 * scoped and an unscoped key; an accepted command must have a reply frame
 * and a subject for each of its keys. */
#include <string.h>

#include "fuzz.h"
#include "stream_proto.h"

static void one(const uint8_t *data, size_t size, const gw_caller *caller) {
    gw_stream_cmd cmd;
    tb_error err = {0};
    if (gw_stream_parse((const char *)data, size, caller, &cmd, &err) != TB_OK) {
        char *e = gw_stream_error(cmd.id, &err);
        FUZZ_CHECK(e != NULL, "no error frame");
        free(e);
        return;
    }
    char *r = gw_stream_reply(&cmd, cmd.op == GW_OP_SUBSCRIBE ? "subscribed" : "unsubscribed");
    FUZZ_CHECK(r != NULL, "no reply frame");
    free(r);
    char subject[256];
    if (cmd.topic == GW_TOPIC_QUOTES) {
        for (size_t i = 0; i < cmd.nsymbols; i++)
            FUZZ_CHECK(gw_stream_subject(cmd.topic, cmd.symbols[i], subject, sizeof subject),
                       "accepted symbol without a subject");
    } else if (cmd.account[0]) {
        FUZZ_CHECK(gw_stream_subject(cmd.topic, cmd.account, subject, sizeof subject),
                   "accepted account without a subject");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gw_caller viewer = {.role = GW_ROLE_VIEWER, .key_id = "k1", .accounts = "A1,A2"};
    gw_caller admin = {.role = GW_ROLE_ADMIN, .key_id = "k2", .accounts = ""};
    one(data, size, &viewer);
    one(data, size, &admin);
    return 0;
}
