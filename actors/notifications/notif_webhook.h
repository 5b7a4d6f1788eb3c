/* Webhook delivery rules as pure functions: the request body, its
 * signature, the retry schedule and the outcome of an attempt. No I/O
 * (notif_deliver.c does the HTTP). Unit-tested in tests/unit/test_notif_webhook.c.
 *
 * Every POST carries Content-Type: application/json, Idempotency-Key,
 * X-Tradebus-Event (event type) and X-Tradebus-Signature:
 * sha256=<lowercase hex HMAC-SHA256 of the exact body bytes, keyed with the
 * webhook's secret>. */
#ifndef NOTIF_WEBHOOK_H
#define NOTIF_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

/* Event types (webhook_outbox.event_type, X-Tradebus-Event). */
#define NOTIF_EVENT_FILL     "fill"
#define NOTIF_EVENT_DECISION "risk_decision"
#define NOTIF_EVENT_ALERT    "alert"

/* Lowercase hex HMAC-SHA256 of data keyed with key, NUL-terminated. */
#define NOTIF_HMAC_HEX_LEN 64
void notif_hmac_sha256_hex(const char *key, const void *data, size_t len,
                           char out[NOTIF_HMAC_HEX_LEN + 1]);
/* The X-Tradebus-Signature value: "sha256=<hex>". */
#define NOTIF_SIGNATURE_LEN (7 + NOTIF_HMAC_HEX_LEN)
void notif_signature(const char *secret, const void *body, size_t len,
                     char out[NOTIF_SIGNATURE_LEN + 1]);
/* Whether header (as received) is the signature of body with secret; the
 * comparison takes the same time wherever the first difference is. */
bool notif_signature_ok(const char *secret, const void *body, size_t len, const char *header);

/* A webhook secret from random bytes: "whsec_" + hex of the bytes. out needs
 * 7 + 2 * n bytes; n <= 28 keeps it a valid ID (<= 63 bytes). */
void notif_secret_format(const unsigned char *random, size_t n, char *out, size_t cap);

/* The event id of a delivery ("<type>:<id>", e.g. "fill:F-1"), unique per
 * webhook, and the Idempotency-Key "<webhook id>:<event id>". */
void notif_event_id(const char *type, const char *id, char *out, size_t cap);
void notif_idempotency_key(const char *webhook_id, const char *event_id, char *out, size_t cap);

/* The JSON body of a delivery:
 *   {"id": event id, "type": type, "subject": subject, "data": <event as JSON>}
 * New reference (caller json_decref); NULL with err on failure. */
json_t *notif_payload(const char *type, const char *event_id, const char *subject,
                      const tb_event_desc *desc, const void *ev, tb_error *err);

/* Delay before the next attempt after `attempts` failed attempts (>= 1):
 * base_ms * 2^(attempts - 1), at most cap_ms. */
int64_t notif_backoff_ms(int64_t attempts, int64_t base_ms, int64_t cap_ms);

typedef enum {
    NOTIF_DELIVERED, /* 2xx */
    NOTIF_RETRY,     /* failed, tried again after notif_backoff_ms */
    NOTIF_DEAD,      /* failed for the max_attempts-th time: dead-lettered */
} notif_outcome;

/* Outcome of an attempt: http_status is the response's status, 0 when there
 * was none (connection refused, timeout); attempts counts this one. */
notif_outcome notif_delivery_outcome(long http_status, int64_t attempts, int64_t max_attempts);
const char *notif_outcome_name(notif_outcome o);

#endif
