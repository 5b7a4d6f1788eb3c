/* Per-(strategy, symbol) tick ordering: what to do with tick `seq` given the
 * sequence number the stored state has reached.
 *
 * Ticks are core NATS (at most once) and N workers in a queue group may
 * receive consecutive ticks of one symbol, so a worker can see tick k before
 * another worker has applied k-1. The rule: the state only ever advances to
 * last_seq + 1. A tick that is ahead waits (the caller polls, bounded) for its
 * predecessor; when the wait expires the predecessor is taken as lost and the
 * tick is applied across the gap. A tick at or behind the state also waits,
 * because seq 1 after a higher last_seq means the feed restarted and a worker
 * may be about to apply that restart; when the wait expires it is dropped.
 * No I/O. */
#ifndef SP_SEQUENCER_H
#define SP_SEQUENCER_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SP_SEQ_APPLY,   /* seq == last_seq + 1, or seq 1 on an empty state */
    SP_SEQ_START,   /* no state yet and the wait for earlier ticks expired: begin here */
    SP_SEQ_RESTART, /* seq 1 after a higher last_seq: the feed restarted; reset the state */
    SP_SEQ_GAP,     /* predecessor(s) never came: apply across the gap, count it */
    SP_SEQ_WAIT,    /* not yet: poll the state again */
    SP_SEQ_STALE,   /* at or behind the state for the whole wait: drop */
} sp_seq_action;

/* has_state: a state exists (last_seq is meaningful). waited_out: the caller's
 * bounded wait for this tick has expired. seq 0 is invalid and always STALE. */
sp_seq_action sp_seq_decide(bool has_state, uint64_t last_seq, uint64_t seq, bool waited_out);

const char *sp_seq_action_name(sp_seq_action a);

#endif
