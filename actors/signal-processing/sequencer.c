/* The ordering rule of sequencer.h as one pure function, so the corner cases
 * (first tick, restart, gap, duplicate) are unit-tested without Redis. */
#include "sequencer.h"

sp_seq_action sp_seq_decide(bool has_state, uint64_t last_seq, uint64_t seq, bool waited_out) {
    if (seq == 0) return SP_SEQ_STALE;
    if (!has_state) {
        if (seq == 1) return SP_SEQ_APPLY;
        /* Tick 1..seq-1 may be in flight on another worker. */
        return waited_out ? SP_SEQ_START : SP_SEQ_WAIT;
    }
    if (seq == last_seq + 1) return SP_SEQ_APPLY;
    if (seq == 1 && last_seq > 1) return SP_SEQ_RESTART;
    if (seq > last_seq) return waited_out ? SP_SEQ_GAP : SP_SEQ_WAIT;
    /* seq <= last_seq: a duplicate, or a tick of a restarted feed whose seq 1
     * another worker is applying right now. */
    return waited_out ? SP_SEQ_STALE : SP_SEQ_WAIT;
}

const char *sp_seq_action_name(sp_seq_action a) {
    switch (a) {
    case SP_SEQ_APPLY:
        return "apply";
    case SP_SEQ_START:
        return "start";
    case SP_SEQ_RESTART:
        return "restart";
    case SP_SEQ_GAP:
        return "gap";
    case SP_SEQ_WAIT:
        return "wait";
    case SP_SEQ_STALE:
        return "stale";
    }
    return "unknown";
}
