/* API key format, generation and hashing; see keys.h. */
#include "keys.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

static void to_hex(const unsigned char *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

tb_status gw_key_generate(char *key, size_t key_cap, char *id, size_t id_cap, tb_error *err) {
    unsigned char secret[20], idb[8];
    char hex[41];
    if (key_cap < GW_KEY_LEN + 1 || id_cap < 21)
        return tb_error_set(err, TB_INVALID, NULL, "key buffers too small");
    if (RAND_bytes(secret, sizeof secret) != 1 || RAND_bytes(idb, sizeof idb) != 1)
        return tb_error_set(err, TB_ERR, NULL, "the random generator failed");
    to_hex(secret, sizeof secret, hex);
    snprintf(key, key_cap, "%s%s", GW_KEY_PREFIX, hex);
    to_hex(idb, sizeof idb, hex);
    snprintf(id, id_cap, "key_%s", hex);
    OPENSSL_cleanse(secret, sizeof secret);
    return TB_OK;
}

bool gw_key_well_formed(const char *s) {
    size_t plen = strlen(GW_KEY_PREFIX);
    if (s == NULL || strlen(s) != GW_KEY_LEN || strncmp(s, GW_KEY_PREFIX, plen) != 0) return false;
    for (const char *p = s + plen; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

/* OpenSSL 3's SHA256() looks the algorithm up in the provider store
 * (under a read-write lock) on every call; every authenticated request
 * hashes its key, so the algorithm is fetched once. */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void) {
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void gw_key_hash(const char *key, size_t len, char hex[GW_KEY_HASH_HEX]) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    pthread_once(&sha256_once, fetch_sha256);
    if (sha256 == NULL || EVP_Digest(key, len, md, NULL, sha256, NULL) != 1)
        SHA256((const unsigned char *)key, len, md); /* same digest, slower */
    to_hex(md, sizeof md, hex);
}

bool gw_key_hash_equal(const char *a, const char *b) {
    return strlen(a) == GW_KEY_HASH_HEX - 1 && strlen(b) == GW_KEY_HASH_HEX - 1 &&
           CRYPTO_memcmp(a, b, GW_KEY_HASH_HEX - 1) == 0;
}

void gw_key_prefix(const char *key, char out[GW_KEY_PREFIX_LEN + 1]) {
    snprintf(out, GW_KEY_PREFIX_LEN + 1, "%.*s", GW_KEY_PREFIX_LEN, key);
}

bool gw_account_list_valid(const char *list) {
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n > 63) return false;
        for (size_t i = 0; i < n; i++) {
            char c = p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-'))
                return false;
        }
        /* a repeat is a mistake worth reporting, not silently merging */
        for (const char *q = list; q < p;) {
            size_t m = strcspn(q, ",");
            if (m == n && memcmp(q, p, n) == 0) return false;
            q += m + 1;
        }
        p += n;
        if (*p == ',' && *++p == '\0') return false; /* trailing comma */
    }
    return true;
}
