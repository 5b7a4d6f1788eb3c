/* Tally of tick consumers' flow reports (see tb_flow.h). */
#include "tb_flow.h"

#include <stdio.h>
#include <string.h>

void tb_flow_tally_add(tb_flow_tally *t, const void *data, size_t len, const char *prefix) {
    tb_flow f;
    if (tb_decode(&tb_flow_desc, data, len, &f, NULL) != TB_OK) return;
    if (strncmp(f.subject, "md.tick.", 8) != 0 || strncmp(f.instance, prefix, strlen(prefix)) != 0)
        return;
    int i = 0;
    while (i < t->ninst && strcmp(t->inst[i].instance, f.instance) != 0) i++;
    if (i == t->ninst) {
        if (t->ninst == TB_FLOW_MAX_INST) return;
        t->ninst++;
        snprintf(t->inst[i].service, sizeof t->inst[i].service, "%s", f.service);
        snprintf(t->inst[i].instance, sizeof t->inst[i].instance, "%s", f.instance);
        t->inst[i].handled = 0;
    }
    if (f.handled > t->inst[i].handled) t->inst[i].handled = f.handled;
}

uint64_t tb_flow_finished(const tb_flow_tally *t, const char *service, int *instances) {
    uint64_t n = 0;
    int k = 0;
    for (int i = 0; i < t->ninst; i++)
        if (strcmp(t->inst[i].service, service) == 0) n += t->inst[i].handled, k++;
    if (instances) *instances = k;
    return n;
}
