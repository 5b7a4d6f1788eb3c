/* A civetweb connection's socket, found by its two addresses: civetweb
 * does not expose it, and the gateway needs it to cut off a stream client
 * that stopped reading and a connection over the per-address limit. It
 * scans /proc/self/fd, one getpeername per descriptor: rare paths only. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway.h"

static bool addr_is(const struct sockaddr_storage *ss, const char *addr, int port) {
    char buf[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return ntohs(a->sin_port) == port && inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf) &&
               strcmp(buf, addr) == 0;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (ntohs(a->sin6_port) != port || !inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf))
            return false;
        /* an IPv4 client of a dual-stack socket: ::ffff:127.0.0.1 */
        return strcmp(buf, addr) == 0 ||
               (strncmp(buf, "::ffff:", 7) == 0 && strcmp(buf + 7, addr) == 0);
    }
    return false;
}

int gw_find_socket(const struct mg_request_info *ri) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) return -1;
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != '\0' || e->d_name[0] == '\0' || fd == dirfd(d)) continue;
        struct sockaddr_storage peer, local;
        socklen_t pl = sizeof peer, ll = sizeof local;
        if (getpeername((int)fd, (struct sockaddr *)&peer, &pl) != 0 ||
            getsockname((int)fd, (struct sockaddr *)&local, &ll) != 0)
            continue;
        int lport = local.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&local)->sin_port)
                                               : ntohs(((struct sockaddr_in6 *)&local)->sin6_port);
        if (lport == ri->server_port && addr_is(&peer, ri->remote_addr, ri->remote_port))
            found = (int)fd;
    }
    closedir(d);
    return found;
}
