/* The webhook address guard at work (rules in notif_addr.h): a URL's host
 * is resolved when the webhook is created, and every address libcurl is
 * about to connect to is vetted again at each delivery, so a name that
 * later resolves elsewhere (DNS rebinding) gains nothing. */
#ifndef NOTIF_GUARD_H
#define NOTIF_GUARD_H

#include <curl/curl.h>

#include "notif_addr.h"

/* TB_INVALID (field "url") when url's host resolves to an address a webhook
 * may not call; TB_OK otherwise, also when the host does not resolve now
 * (the delivery checks again). */
tb_status notif_guard_url(const notif_allow *allow, const char *url, tb_error *err) TB_WARN_UNUSED;

/* Per-transfer state of the delivery-time check; lives as long as the
 * transfer. refused is "" or why a connection was refused. */
typedef struct notif_guard {
    const notif_allow *allow;
    char host[256];
    char refused[512];
} notif_guard;

/* Arms h: every socket it opens is first vetted against g->allow for the
 * host of url, and no proxy is used (the proxy's address would be vetted,
 * not the webhook's). CURLE_OK or the failing setopt's code. */
CURLcode notif_guard_arm(CURL *h, notif_guard *g, const notif_allow *allow, const char *url);

#endif
