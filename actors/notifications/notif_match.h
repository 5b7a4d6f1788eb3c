/* Which webhook wants which event: NATS subject patterns, webhook event
 * lists and URL checks. Pure functions, no I/O (unit-tested in
 * tests/unit/test_notif_match.c).
 *
 * A webhook's `events` is a comma-separated list of subject patterns with
 * NATS wildcard semantics: tokens are separated by '.', '*' matches exactly
 * one token, '>' (last token only) matches one or more tokens. Three kind
 * names are accepted as shorthands: `fill` = `fills.>`, `risk_decision` =
 * `risk.decision.>`, `alert` = `alerts.>`. An empty list means every event. */
#ifndef NOTIF_MATCH_H
#define NOTIF_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

/* Longest pattern list kept (the webhook's TEXT field, NUL included). */
#define NOTIF_EVENTS_CAP 512

/* Whether subject (no wildcards) matches pattern (NATS semantics). Empty
 * tokens ("a..b", ".a", "a.") never match. */
bool notif_subject_match(const char *pattern, const char *subject);

/* Checks a comma-separated pattern list (spaces around commas allowed) and
 * writes its canonical form (no spaces, no empty entries) to out. TB_INVALID
 * naming the bad entry: empty tokens, '>' not last, wildcards inside tokens,
 * characters outside printable ASCII, a comma-only list. "" is valid (all). */
tb_status notif_patterns_normalize(const char *list, char *out, size_t cap,
                                   tb_error *err) TB_WARN_UNUSED;

/* Whether a canonical list matches subject ("" matches everything). */
bool notif_patterns_match(const char *list, const char *subject);

/* Whether a webhook (its events list and account filter, "" = every
 * account) wants an event on subject about event_account ("" when the event
 * concerns no account: such events only reach webhooks without a filter). */
bool notif_webhook_wants(const char *events, const char *webhook_account, const char *subject,
                         const char *event_account);

/* Accepts only absolute http:// and https:// URLs (lowercase scheme) with a
 * non-empty host, printable ASCII without spaces, shorter than cap_len.
 * TB_INVALID with field "url" otherwise. */
tb_status notif_url_validate(const char *url, size_t cap_len, tb_error *err) TB_WARN_UNUSED;

#endif
