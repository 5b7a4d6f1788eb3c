/* Webhook address rules; see notif_addr.h. */
#include "notif_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Whether the first prefix bits of a and b are equal. */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, int prefix) {
    int whole = prefix / 8, rest = prefix % 8;
    if (memcmp(a, b, (size_t)whole) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

static const char *v4_forbidden(const uint8_t a[4]) {
    static const struct {
        uint8_t net[4];
        int prefix;
        const char *kind;
    } blocks[] = {
        {{0, 0, 0, 0}, 32, "unspecified"},       {{0, 0, 0, 0}, 8, "reserved"},
        {{127, 0, 0, 0}, 8, "loopback"},         {{10, 0, 0, 0}, 8, "private"},
        {{172, 16, 0, 0}, 12, "private"},        {{192, 168, 0, 0}, 16, "private"},
        {{169, 254, 0, 0}, 16, "link-local"},    {{100, 64, 0, 0}, 10, "shared"},
        {{255, 255, 255, 255}, 32, "broadcast"}, {{224, 0, 0, 0}, 4, "multicast"},
        {{240, 0, 0, 0}, 4, "reserved"},
    };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        if (prefix_eq(a, blocks[i].net, blocks[i].prefix)) return blocks[i].kind;
    return NULL;
}

/* The IPv4 address carried by an IPv6 one (mapped ::ffff:0:0/96, compatible
 * ::/96, NAT64 64:ff9b::/96), else false. */
static bool v6_embeds_v4(const uint8_t a[16], uint8_t v4[4]) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t compat[12] = {0};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (memcmp(a, mapped, 12) != 0 && memcmp(a, compat, 12) != 0 && memcmp(a, nat64, 12) != 0)
        return false;
    memcpy(v4, a + 12, 4);
    return true;
}

static const char *v6_forbidden(const uint8_t a[16]) {
    static const uint8_t zero[16] = {0}, one[16] = {[15] = 1};
    if (memcmp(a, zero, 16) == 0) return "unspecified";
    if (memcmp(a, one, 16) == 0) return "loopback";
    uint8_t v4[4];
    if (v6_embeds_v4(a, v4)) return v4_forbidden(v4);
    if (a[0] == 0xff) return "multicast";
    if ((a[0] & 0xfe) == 0xfc) return "unique-local";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return "link-local";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return "unique-local"; /* deprecated site-local */
    return NULL;
}

const char *notif_addr_forbidden(const struct sockaddr *addr) {
    if (addr == NULL) return "unsupported";
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        uint8_t a[4];
        memcpy(a, &in->sin_addr, 4);
        return v4_forbidden(a);
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        uint8_t a[16];
        memcpy(a, &in6->sin6_addr, 16);
        return v6_forbidden(a);
    }
    return "unsupported";
}

static bool host_name_ok(const char *s) {
    if (*s == '\0') return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_') return false;
    return true;
}

/* One entry of the list, NUL-terminated, trimmed. */
static tb_status parse_entry(const char *s, notif_allow_entry *e, tb_error *err) {
    memset(e, 0, sizeof *e);
    char buf[256];
    size_t len = strlen(s);
    if (len >= sizeof buf)
        return tb_error_set(err, TB_INVALID, NULL, "NOTIF_WEBHOOK_ALLOW: entry too long");
    memcpy(buf, s, len + 1);
    char *slash = strchr(buf, '/');
    if (slash) *slash = '\0';
    int max = 0;
    if (inet_pton(AF_INET, buf, e->net) == 1) {
        e->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, e->net) == 1) {
        e->family = AF_INET6;
        max = 128;
    }
    if (max > 0) {
        e->is_net = true;
        e->prefix = max;
        if (slash) {
            char *end = NULL;
            long p = strtol(slash + 1, &end, 10);
            if (slash[1] == '\0' || *end != '\0' || p < 0 || p > max)
                return tb_error_set(err, TB_INVALID, NULL,
                                    "NOTIF_WEBHOOK_ALLOW: bad prefix length in %s", s);
            e->prefix = (int)p;
        }
        return TB_OK;
    }
    if (slash || !host_name_ok(buf))
        return tb_error_set(err, TB_INVALID, NULL,
                            "NOTIF_WEBHOOK_ALLOW: %s is neither a host name nor an address block",
                            s);
    snprintf(e->host, sizeof e->host, "%s", buf);
    return TB_OK;
}

tb_status notif_allow_parse(const char *spec, notif_allow *out, tb_error *err) {
    memset(out, 0, sizeof *out);
    for (const char *p = spec ? spec : ""; *p;) {
        size_t n = strcspn(p, ",");
        const char *b = p, *e = p + n;
        while (b < e && isspace((unsigned char)*b)) b++;
        while (e > b && isspace((unsigned char)e[-1])) e--;
        if (e > b) {
            if (out->n == NOTIF_ALLOW_MAX)
                return tb_error_set(err, TB_INVALID, NULL,
                                    "NOTIF_WEBHOOK_ALLOW: more than %d entries", NOTIF_ALLOW_MAX);
            char entry[300];
            if ((size_t)(e - b) >= sizeof entry)
                return tb_error_set(err, TB_INVALID, NULL, "NOTIF_WEBHOOK_ALLOW: entry too long");
            memcpy(entry, b, (size_t)(e - b));
            entry[e - b] = '\0';
            tb_status s = parse_entry(entry, &out->e[out->n], err);
            if (s != TB_OK) return s;
            out->n++;
        }
        p += n + (p[n] == ',');
    }
    return TB_OK;
}

bool notif_allow_host(const notif_allow *a, const char *host) {
    for (size_t i = 0; host && i < a->n; i++)
        if (!a->e[i].is_net && strcasecmp(a->e[i].host, host) == 0) return true;
    return false;
}

bool notif_allow_addr(const notif_allow *a, const struct sockaddr *addr) {
    uint8_t v[16];
    int family;
    if (addr->sa_family == AF_INET) {
        memcpy(v, &((const struct sockaddr_in *)addr)->sin_addr, 4);
        family = AF_INET;
    } else if (addr->sa_family == AF_INET6) {
        memcpy(v, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
        family = AF_INET6;
        uint8_t v4[4];
        if (v6_embeds_v4(v, v4)) { /* listed as IPv4, reached as mapped IPv6 */
            memcpy(v, v4, 4);
            family = AF_INET;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < a->n; i++)
        if (a->e[i].is_net && a->e[i].family == family && prefix_eq(v, a->e[i].net, a->e[i].prefix))
            return true;
    return false;
}

const char *notif_addr_refused(const notif_allow *a, const char *host,
                               const struct sockaddr *addr) {
    const char *kind = notif_addr_forbidden(addr);
    if (kind == NULL || strcmp(kind, "unsupported") == 0) return kind;
    if (notif_allow_host(a, host) || notif_allow_addr(a, addr)) return NULL;
    return kind;
}

void notif_addr_format(const struct sockaddr *addr, char *out, size_t cap) {
    const void *src = NULL;
    if (addr && addr->sa_family == AF_INET) src = &((const struct sockaddr_in *)addr)->sin_addr;
    if (addr && addr->sa_family == AF_INET6) src = &((const struct sockaddr_in6 *)addr)->sin6_addr;
    char buf[INET6_ADDRSTRLEN];
    if (src == NULL || inet_ntop(addr->sa_family, src, buf, sizeof buf) == NULL)
        snprintf(buf, sizeof buf, "?");
    snprintf(out, cap, "%s", buf);
}
