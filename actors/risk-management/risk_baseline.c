/* The start-of-day P&L baselines read, kept in memory; see risk_baseline.h. */
#include "risk_baseline.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct slot {
    char account[TB_TOKEN_CAP];
    int64_t day;
    tb_fixed baseline;
    bool used;
} slot;

static slot slots[RISK_BASELINE_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(const char *account, int64_t day) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the account, then the day */
    for (const char *p = account; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (int i = 0; i < 8; i++) h = (h ^ (uint8_t)((uint64_t)day >> (8 * i))) * 1099511628211ull;
    return (size_t)(h % RISK_BASELINE_SLOTS);
}

bool risk_baseline_get(const char *account, int64_t day, tb_fixed *out) {
    const slot *s = &slots[slot_of(account, day)];
    pthread_mutex_lock(&lock);
    bool hit = s->used && s->day == day && strcmp(s->account, account) == 0;
    if (hit) *out = s->baseline;
    pthread_mutex_unlock(&lock);
    return hit;
}

void risk_baseline_put(const char *account, int64_t day, tb_fixed baseline) {
    if (strlen(account) >= TB_TOKEN_CAP) return; /* cannot be keyed exactly: not kept */
    slot *s = &slots[slot_of(account, day)];
    pthread_mutex_lock(&lock);
    snprintf(s->account, sizeof s->account, "%s", account);
    s->day = day;
    s->baseline = baseline;
    s->used = true;
    pthread_mutex_unlock(&lock);
}

void risk_baseline_clear(void) {
    pthread_mutex_lock(&lock);
    memset(slots, 0, sizeof slots);
    pthread_mutex_unlock(&lock);
}
