/* The api_keys table (schemas/migrations/0001_init.sql, index 0600): find
 * a key by its non-secret prefix and compare hashes in constant time,
 * create keys, revoke them. Keys themselves are never stored or logged. */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "keys.h"
#include "request.h"

tb_status gw_keystore_find(PGconn *c, const char *key, gw_caller *out, tb_error *err) {
    if (!gw_key_well_formed(key))
        return tb_error_set(err, TB_UNAUTHORIZED, NULL, "not a tradebus API key");
    char prefix[GW_KEY_PREFIX_LEN + 1], hash[GW_KEY_HASH_HEX];
    gw_key_prefix(key, prefix);
    gw_key_hash(key, strlen(key), hash);
    const char *params[] = {prefix};
    PGresult *res = NULL;
    tb_status s = bus_pg_exec(c,
                              "SELECT id, key_hash, role, array_to_string(accounts, ',') "
                              "FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL",
                              1, params, &res, err);
    if (s != TB_OK) { /* whatever broke, the caller cannot be told who they are */
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "key store: %s", why);
    }
    int found = -1;
    /* Every candidate is compared, so the time taken does not depend on
     * where (or whether) a match is. */
    for (int i = 0; i < PQntuples(res); i++)
        if (gw_key_hash_equal(PQgetvalue(res, i, 1), hash)) found = i;
    if (found < 0) {
        PQclear(res);
        return tb_error_set(err, TB_UNAUTHORIZED, NULL, "unknown or revoked API key");
    }
    gw_caller caller = {0};
    /* A cut list could end in a prefix of another account's name. */
    if (strlen(PQgetvalue(res, found, 3)) >= sizeof caller.accounts) {
        PQclear(res);
        return tb_error_set(err, TB_UNAUTHORIZED, NULL, "API key has too many accounts to use");
    }
    bool role_ok = gw_role_parse(PQgetvalue(res, found, 2), &caller.role);
    snprintf(caller.key_id, sizeof caller.key_id, "%s", PQgetvalue(res, found, 0));
    snprintf(caller.accounts, sizeof caller.accounts, "%s", PQgetvalue(res, found, 3));
    PQclear(res);
    if (!role_ok) return tb_error_set(err, TB_UNAUTHORIZED, NULL, "API key has an unknown role");
    const char *idp[] = {caller.key_id};
    /* Best effort: an operator's hint, not worth failing the request; to the
     * minute, so a busy key's lookups do not all write (and wait on) its row. */
    tb_error ignore = {0};
    if (bus_pg_exec(c,
                    "UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND"
                    " (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
                    1, idp, NULL, &ignore) != TB_OK)
        bus_log(BUS_LOG_DEBUG, "last_used_at not recorded: %s", ignore.message);
    *out = caller;
    return TB_OK;
}

tb_status gw_keystore_create(PGconn *c, gw_role role, const char *accounts, const char *name,
                             tb_api_key *out, tb_error *err) {
    if (role < GW_ROLE_VIEWER || role > GW_ROLE_ADMIN)
        return tb_error_set(err, TB_INVALID, "role", "role: expected admin, trader or viewer");
    if (!gw_account_list_valid(accounts))
        return tb_error_set(err, TB_INVALID, "accounts",
                            "accounts: expected comma-separated account ids without repeats");
    if (role != GW_ROLE_ADMIN && accounts[0] == '\0')
        return tb_error_set(err, TB_INVALID, "accounts",
                            "accounts: a %s key needs at least one account", gw_role_name(role));
    tb_api_key k;
    memset(&k, 0, sizeof k);
    tb_status s = gw_key_generate(k.key, sizeof k.key, k.id, sizeof k.id, err);
    if (s != TB_OK) return s;
    char hash[GW_KEY_HASH_HEX], prefix[GW_KEY_PREFIX_LEN + 1];
    gw_key_hash(k.key, strlen(k.key), hash);
    gw_key_prefix(k.key, prefix);
    const char *params[] = {k.id, hash, prefix, name, gw_role_name(role), accounts};
    PGresult *res = NULL;
    s = bus_pg_exec(c,
                    "INSERT INTO api_keys (id, key_hash, prefix, name, role, accounts) "
                    "VALUES ($1, $2, $3, $4, $5, string_to_array($6, ',')::text[]) "
                    "RETURNING (extract(epoch FROM created_at) * 1000000)::bigint",
                    6, params, &res, err);
    if (s != TB_OK) return s;
    k.created_at = strtoll(PQgetvalue(res, 0, 0), NULL, 10) * 1000;
    PQclear(res);
    snprintf(k.role, sizeof k.role, "%s", gw_role_name(role));
    snprintf(k.accounts, sizeof k.accounts, "%s", accounts);
    snprintf(k.name, sizeof k.name, "%s", name);
    *out = k;
    return TB_OK;
}

tb_status gw_keystore_revoke(PGconn *c, const char *id, tb_error *err) {
    const char *params[] = {id};
    PGresult *res = NULL;
    tb_status s = bus_pg_exec(
        c, "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", 1, params,
        &res, err);
    if (s != TB_OK) return s;
    bool hit = strcmp(PQcmdTuples(res), "0") != 0;
    PQclear(res);
    return hit ? TB_OK : tb_error_set(err, TB_NOT_FOUND, "id", "no live API key %s", id);
}

tb_status gw_keystore_live(PGconn *c, const char *const *ids, size_t n, bool *live, tb_error *err) {
    /* One query for every id: a text[] literal, each element quoted. */
    size_t cap = 3;
    for (size_t i = 0; i < n; i++) cap += 2 * strlen(ids[i]) + 3;
    char *arr = malloc(cap), *p = arr;
    if (arr == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ',';
        *p++ = '"';
        for (const char *q = ids[i]; *q; q++) {
            if (*q == '"' || *q == '\\') *p++ = '\\';
            *p++ = *q;
        }
        *p++ = '"';
        live[i] = false;
    }
    *p++ = '}';
    *p = '\0';
    const char *params[] = {arr};
    PGresult *res = NULL;
    tb_status s =
        bus_pg_exec(c, "SELECT id FROM api_keys WHERE id = ANY($1::text[]) AND revoked_at IS NULL",
                    1, params, &res, err);
    free(arr);
    if (s != TB_OK) return s;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *id = PQgetvalue(res, r, 0);
        for (size_t i = 0; i < n; i++)
            if (strcmp(ids[i], id) == 0) live[i] = true;
    }
    PQclear(res);
    return TB_OK;
}
