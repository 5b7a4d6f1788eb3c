/* API keys: their format, generation and hashing (OpenSSL libcrypto).
 *
 * A key is "tb_" followed by 40 lowercase hex digits (160 random bits from
 * RAND_bytes). Only its SHA-256 (lowercase hex) is stored, with its first
 * GW_KEY_PREFIX_LEN characters as a non-secret prefix that finds the row and
 * tells keys apart for people; the hashes are then compared in constant time
 * (CRYPTO_memcmp), so lookup timing says nothing about the secret part. Key
 * ids ("key_" + 16 hex digits) are separate and not secret. This file does no
 * database I/O (see keystore.h). */
#ifndef GW_KEYS_H
#define GW_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

#define GW_KEY_PREFIX     "tb_"
#define GW_KEY_LEN        43 /* "tb_" + 40 hex digits */
#define GW_KEY_PREFIX_LEN 11 /* "tb_" + 8 hex digits: stored and shown */
#define GW_KEY_HASH_HEX   65 /* 64 hex digits + NUL */

/* New random key (GW_KEY_LEN + 1 bytes) and key id (>= 21 bytes). TB_ERR
 * when the random generator fails. */
tb_status gw_key_generate(char *key, size_t key_cap, char *id, size_t id_cap,
                          tb_error *err) TB_WARN_UNUSED;
/* Whether s has the key format (cheap rejection before any lookup). */
bool gw_key_well_formed(const char *s);
/* Lowercase hex SHA-256 of key[0..len). */
void gw_key_hash(const char *key, size_t len, char hex[GW_KEY_HASH_HEX]);
/* Constant-time equality of two hex hashes. */
bool gw_key_hash_equal(const char *a, const char *b);
/* The stored, shown prefix of a well-formed key. */
void gw_key_prefix(const char *key, char out[GW_KEY_PREFIX_LEN + 1]);

/* Whether list is empty or comma-separated account tokens ([A-Za-z0-9_-],
 * 1..63 bytes each) without repeats. */
bool gw_account_list_valid(const char *list);

#endif
