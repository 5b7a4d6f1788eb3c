/* A tally of the bus.flow reports of tick consumers (tb_flow), for tests that
 * wait until every consumer of a run has finished a replay's ticks. */
#ifndef TB_FLOW_H
#define TB_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

#define TB_FLOW_MAX_INST 32

typedef struct tb_flow_inst {
    char service[TB_TOKEN_CAP], instance[TB_TOKEN_CAP];
    uint64_t handled; /* the highest count reported: reports may overtake each other */
} tb_flow_inst;

typedef struct tb_flow_tally {
    tb_flow_inst inst[TB_FLOW_MAX_INST];
    int ninst;
} tb_flow_tally;

/* Records one flow report (raw message body) of an md.tick.> endpoint whose
 * instance id starts with prefix; anything else is ignored. */
void tb_flow_tally_add(tb_flow_tally *t, const void *data, size_t len, const char *prefix);
/* Ticks the service's instances finished, summed; *instances (may be NULL)
 * is how many of them reported. */
uint64_t tb_flow_finished(const tb_flow_tally *t, const char *service, int *instances);

#endif
