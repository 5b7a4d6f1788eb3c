/* Subject patterns, webhook event lists and URL checks; see notif_match.h.
 * Nothing here allocates or does I/O. */
#include "notif_match.h"

#include <stdio.h>
#include <string.h>

/* Length of the token starting at s (up to '.' or the end). */
static size_t token_len(const char *s) {
    return strcspn(s, ".");
}

bool notif_subject_match(const char *pattern, const char *subject) {
    const char *p = pattern, *s = subject;
    if (*p == '\0' || *s == '\0') return false;
    for (;;) {
        size_t pl = token_len(p), sl = token_len(s);
        if (sl == 0) return false;                       /* empty subject token */
        if (pl == 1 && p[0] == '>') return p[1] == '\0'; /* rest of the subject, >= 1 token */
        if (pl == 0) return false;
        if (!(pl == 1 && p[0] == '*') && (pl != sl || memcmp(p, s, pl) != 0)) return false;
        p += pl;
        s += sl;
        if (*p == '\0' || *s == '\0') return *p == '\0' && *s == '\0';
        p++; /* skip the dots */
        s++;
        if (*p == '\0' || *s == '\0') return false; /* trailing dot */
    }
}

/* The pattern a shorthand stands for, or the entry itself. */
static const char *expand(const char *entry, size_t len, char *buf, size_t cap) {
    static const struct {
        const char *kind, *pattern;
    } aliases[] = {
        {"fill", "fills.>"}, {"risk_decision", "risk.decision.>"}, {"alert", "alerts.>"}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strlen(aliases[i].kind) == len && memcmp(aliases[i].kind, entry, len) == 0)
            return aliases[i].pattern;
    snprintf(buf, cap, "%.*s", (int)len, entry);
    return buf;
}

/* Checks one pattern (not NUL-terminated). */
static bool pattern_ok(const char *p, size_t len) {
    if (len == 0) return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != '.') {
            unsigned char c = (unsigned char)p[i];
            if (c <= ' ' || c >= 0x7f || c == ',') return false;
            continue;
        }
        size_t tl = i - start;
        if (tl == 0) return false;
        for (size_t k = start; k < i; k++)
            if ((p[k] == '*' || p[k] == '>') && tl != 1) return false;
        if (tl == 1 && p[start] == '>' && i != len) return false;
        start = i + 1;
    }
    return true;
}

tb_status notif_patterns_normalize(const char *list, char *out, size_t cap, tb_error *err) {
    size_t o = 0, entries = 0;
    bool any_text = false;
    if (cap == 0) return tb_error_set(err, TB_INVALID, "events", "no room");
    out[0] = '\0';
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        const char *e = p;
        size_t len = n;
        while (len > 0 && *e == ' ') e++, len--;
        while (len > 0 && e[len - 1] == ' ') len--;
        if (len > 0) {
            any_text = true;
            if (!pattern_ok(e, len))
                return tb_error_set(err, TB_INVALID, "events",
                                    "events: '%.*s' is not a subject pattern (tokens separated by "
                                    "'.', '*' for one token, '>' as the last token)",
                                    (int)(len > 64 ? 64 : len), e);
            if (o + len + (entries ? 1 : 0) + 1 > cap)
                return tb_error_set(err, TB_TOO_LONG, "events", "events: list too long");
            if (entries++) out[o++] = ',';
            memcpy(out + o, e, len);
            o += len;
            out[o] = '\0';
        }
        /* Empty entries ("a,,b", a trailing comma) are dropped. */
        if (p[n] == '\0') break;
        p += n + 1;
    }
    if (!any_text && strchr(list, ',') != NULL)
        return tb_error_set(err, TB_INVALID, "events", "events: no pattern in the list");
    return TB_OK;
}

bool notif_patterns_match(const char *list, const char *subject) {
    if (list == NULL || list[0] == '\0') return true;
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        char buf[NOTIF_EVENTS_CAP];
        if (n > 0 && n < sizeof buf && notif_subject_match(expand(p, n, buf, sizeof buf), subject))
            return true;
        if (p[n] == '\0') return false;
        p += n + 1;
    }
}

bool notif_webhook_wants(const char *events, const char *webhook_account, const char *subject,
                         const char *event_account) {
    if (webhook_account && webhook_account[0] &&
        (event_account == NULL || strcmp(webhook_account, event_account) != 0))
        return false;
    return notif_patterns_match(events, subject);
}

tb_status notif_url_validate(const char *url, size_t cap_len, tb_error *err) {
    size_t len = strlen(url);
    if (len == 0) return tb_error_set(err, TB_MISSING_FIELD, "url", "url: required");
    if (len >= cap_len) return tb_error_set(err, TB_TOO_LONG, "url", "url: too long");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= ' ' || c >= 0x7f)
            return tb_error_set(err, TB_INVALID, "url",
                                "url: only printable ASCII without spaces is accepted");
    }
    size_t skip;
    if (strncmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncmp(url, "https://", 8) == 0)
        skip = 8;
    else
        return tb_error_set(err, TB_INVALID, "url",
                            "url: only http:// and https:// URLs are accepted");
    const char *auth = url + skip;
    size_t alen = strcspn(auth, "/?#");
    /* Host: what follows any userinfo and precedes any port. */
    const char *at = memchr(auth, '@', alen);
    const char *host = at ? at + 1 : auth;
    size_t hlen = alen - (size_t)(host - auth);
    if (hlen > 0 && host[0] == '[') {
        const char *close = memchr(host, ']', hlen);
        if (close == NULL || close == host + 1)
            return tb_error_set(err, TB_INVALID, "url", "url: malformed IPv6 host");
        hlen = (size_t)(close - host) + 1;
    } else {
        const char *colon = memchr(host, ':', hlen);
        if (colon) hlen = (size_t)(colon - host);
    }
    if (hlen == 0) return tb_error_set(err, TB_INVALID, "url", "url: a host is required");
    return TB_OK;
}
