/* Webhook bodies, signatures and the retry schedule; see notif_webhook.h.
 * Uses OpenSSL's libcrypto for HMAC-SHA256 (no I/O). */
#include "notif_webhook.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static void hex(const unsigned char *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void notif_hmac_sha256_hex(const char *key, const void *data, size_t len,
                           char out[NOTIF_HMAC_HEX_LEN + 1]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const unsigned char empty[1] = {0};
    /* HMAC() with a NULL data pointer is refused by some builds: pass a
     * valid one for empty bodies. */
    if (HMAC(EVP_sha256(), key, (int)strlen(key), len ? data : empty, len, md, &mdlen) == NULL ||
        mdlen != 32) {
        memset(out, '0', NOTIF_HMAC_HEX_LEN); /* never matches a real signature check */
        out[NOTIF_HMAC_HEX_LEN] = '\0';
        return;
    }
    hex(md, mdlen, out);
}

void notif_signature(const char *secret, const void *body, size_t len,
                     char out[NOTIF_SIGNATURE_LEN + 1]) {
    memcpy(out, "sha256=", 7);
    notif_hmac_sha256_hex(secret, body, len, out + 7);
}

bool notif_signature_ok(const char *secret, const void *body, size_t len, const char *header) {
    char want[NOTIF_SIGNATURE_LEN + 1];
    notif_signature(secret, body, len, want);
    if (header == NULL || strlen(header) != NOTIF_SIGNATURE_LEN) return false;
    return CRYPTO_memcmp(want, header, NOTIF_SIGNATURE_LEN) == 0;
}

void notif_secret_format(const unsigned char *random, size_t n, char *out, size_t cap) {
    char h[2 * 64 + 1];
    if (n > 64) n = 64;
    hex(random, n, h);
    snprintf(out, cap, "whsec_%s", h);
}

void notif_event_id(const char *type, const char *id, char *out, size_t cap) {
    snprintf(out, cap, "%s:%s", type, id);
}

void notif_idempotency_key(const char *webhook_id, const char *event_id, char *out, size_t cap) {
    snprintf(out, cap, "%s:%s", webhook_id, event_id);
}

json_t *notif_payload(const char *type, const char *event_id, const char *subject,
                      const tb_event_desc *desc, const void *ev, tb_error *err) {
    json_t *data = NULL;
    if (tb_to_json(desc, ev, &data) != TB_OK) {
        tb_error_set(err, TB_INVALID, NULL, "%s %s cannot be shown as JSON", type, event_id);
        return NULL;
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:o}", "id", event_id, "type", type, "subject",
                             subject, "data", data);
    if (body == NULL) tb_error_set(err, TB_NOMEM, NULL, "out of memory building a payload");
    return body;
}

int64_t notif_backoff_ms(int64_t attempts, int64_t base_ms, int64_t cap_ms) {
    if (base_ms <= 0) return 0;
    int64_t d = base_ms;
    for (int64_t i = 1; i < attempts && d < cap_ms; i++) d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
    return d > cap_ms ? cap_ms : d;
}

notif_outcome notif_delivery_outcome(long http_status, int64_t attempts, int64_t max_attempts) {
    if (http_status >= 200 && http_status <= 299) return NOTIF_DELIVERED;
    return attempts >= max_attempts ? NOTIF_DEAD : NOTIF_RETRY;
}

const char *notif_outcome_name(notif_outcome o) {
    switch (o) {
    case NOTIF_DELIVERED:
        return "delivered";
    case NOTIF_RETRY:
        return "retry";
    case NOTIF_DEAD:
        return "dead";
    }
    return "unknown";
}
