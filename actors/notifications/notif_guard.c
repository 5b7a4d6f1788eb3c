/* Webhook address guard; see notif_guard.h. */
#include "notif_guard.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* "<host> is <address>, a <kind> address", or "<address> is a <kind>
 * address" when the host is the address. */
static void describe(const char *host, const struct sockaddr *a, const char *kind, char *out,
                     size_t cap) {
    char text[64];
    notif_addr_format(a, text, sizeof text);
    if (strcmp(host, text) == 0)
        snprintf(out, cap, "%s is a %s address", text, kind);
    else
        snprintf(out, cap, "%s is %s, a %s address", host, text, kind);
}

/* The host of url as libcurl reads it (the same parser that will connect),
 * IPv6 without brackets. False when url cannot be parsed. */
static bool url_host(const char *url, char *out, size_t cap) {
    CURLU *u = curl_url();
    char *host = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host;
    if (ok) {
        const char *h = host;
        size_t n = strlen(h);
        if (n >= 2 && h[0] == '[' && h[n - 1] == ']') h++, n -= 2;
        ok = n > 0 && n < cap;
        if (ok) snprintf(out, cap, "%.*s", (int)n, h);
    }
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

tb_status notif_guard_url(const notif_allow *allow, const char *url, tb_error *err) {
    char host[256];
    if (!url_host(url, host, sizeof host))
        return tb_error_set(err, TB_INVALID, "url", "url: not a valid URL");
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) return TB_OK;
    tb_status s = TB_OK;
    for (struct addrinfo *ai = res; ai && s == TB_OK; ai = ai->ai_next) {
        const char *kind = notif_addr_refused(allow, host, ai->ai_addr);
        if (kind == NULL) continue;
        char what[400];
        describe(host, ai->ai_addr, kind, what, sizeof what);
        s = tb_error_set(err, TB_INVALID, "url",
                         "url: %s; webhooks may only call public addresses (exceptions: "
                         "NOTIF_WEBHOOK_ALLOW)",
                         what);
    }
    freeaddrinfo(res);
    return s;
}

/* libcurl's socket factory: CURL_SOCKET_BAD (the attempt fails as a
 * connection error) for an address the webhook may not call. */
static curl_socket_t open_vetted(void *arg, curlsocktype purpose, struct curl_sockaddr *a) {
    notif_guard *g = arg;
    (void)purpose;
    const char *kind = notif_addr_refused(g->allow, g->host, &a->addr);
    if (kind != NULL) {
        char what[400];
        describe(g->host, &a->addr, kind, what, sizeof what);
        snprintf(g->refused, sizeof g->refused, "refused: %s (exceptions: NOTIF_WEBHOOK_ALLOW)",
                 what);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

CURLcode notif_guard_arm(CURL *h, notif_guard *g, const notif_allow *allow, const char *url) {
    memset(g, 0, sizeof *g);
    g->allow = allow;
    if (!url_host(url, g->host, sizeof g->host)) return CURLE_URL_MALFORMAT;
    CURLcode c = curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_vetted);
    if (c == CURLE_OK) c = curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, g);
    if (c == CURLE_OK) c = curl_easy_setopt(h, CURLOPT_PROXY, "");
    return c;
}
