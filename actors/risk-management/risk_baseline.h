/* The start-of-day P&L baselines risk-management has read, kept in memory.
 *
 * A baseline (the account's P&L at its first check of a UTC day, kept in
 * Redis by risk_day_baseline) never changes once set: every copy of the
 * service reads the first value written. So a copy that has read it once
 * needs no Redis round trip for the account's later checks of that day.
 * Pure: a fixed table, one entry per slot (a newer key takes the slot),
 * safe to share between threads. */
#ifndef RISK_BASELINE_H
#define RISK_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "catalogue.h"

#define RISK_BASELINE_SLOTS 4096

/* day: days since the epoch (UTC) of the check's time. */
bool risk_baseline_get(const char *account, int64_t day, tb_fixed *out);
void risk_baseline_put(const char *account, int64_t day, tb_fixed baseline);
/* Forgets every baseline (tests). */
void risk_baseline_clear(void);

#endif
