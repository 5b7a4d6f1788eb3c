/* Which addresses a webhook may call (server-side request forgery guard),
 * as pure functions: the classification of an address, and the allow list
 * of NOTIF_WEBHOOK_ALLOW. No I/O; notif_guard.c resolves names and checks
 * the address libcurl is about to connect to. Unit-tested in
 * tests/unit/test_notif_addr.c.
 *
 * A webhook URL is chosen by any trader; without this guard the platform
 * would POST, from inside its network, to whatever it names: the loopback
 * interface, private networks, a cloud metadata service (169.254.169.254). */
#ifndef NOTIF_ADDR_H
#define NOTIF_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "status.h"

/* NULL when a webhook may call addr, else what kind of address it is:
 * "loopback", "private" (RFC 1918), "link-local" (also cloud metadata),
 * "shared" (100.64/10, carrier-grade NAT), "unique-local" (fc00::/7),
 * "multicast", "unspecified", "broadcast", "reserved" (0/8, 240/4) or
 * "unsupported" (neither IPv4 nor IPv6). IPv4 addresses written as IPv6
 * (::ffff:a.b.c.d, ::a.b.c.d, 64:ff9b::a.b.c.d) are judged as IPv4. */
const char *notif_addr_forbidden(const struct sockaddr *addr);

/* NOTIF_WEBHOOK_ALLOW: a comma-separated list of exceptions, each a host
 * name as written in webhook URLs (exact, case-insensitive), or an address
 * or CIDR block (127.0.0.1, 10.0.0.0/8, ::1, fd00::/8). Empty: none. */
#define NOTIF_ALLOW_MAX 32
typedef struct notif_allow_entry {
    bool is_net; /* an address block, else a host name */
    int family;  /* AF_INET or AF_INET6 when is_net */
    uint8_t net[16];
    int prefix; /* bits */
    char host[256];
} notif_allow_entry;
typedef struct notif_allow {
    notif_allow_entry e[NOTIF_ALLOW_MAX];
    size_t n;
} notif_allow;

/* Parses spec (may be NULL or empty). TB_INVALID naming the entry when one
 * is neither a host name nor a valid block, or there are too many. */
tb_status notif_allow_parse(const char *spec, notif_allow *out, tb_error *err) TB_WARN_UNUSED;

/* Whether host (as in the URL, IPv6 without brackets) is listed by name. */
bool notif_allow_host(const notif_allow *a, const char *host);
/* Whether addr lies in a listed block. */
bool notif_allow_addr(const notif_allow *a, const struct sockaddr *addr);

/* The verdict for connecting to addr on behalf of a URL naming host: NULL
 * when allowed (a public address, or listed by host or block), else the
 * kind of address (notif_addr_forbidden). */
const char *notif_addr_refused(const notif_allow *a, const char *host, const struct sockaddr *addr);

/* addr as text ("127.0.0.1", "::1"); "?" when it cannot be written. */
void notif_addr_format(const struct sockaddr *addr, char *out, size_t cap);

#endif
