/* RFC 3339 text for TS fields (int64 nanoseconds since the Unix epoch).
 *
 * Formatting always produces UTC with exactly nine fraction digits, so equal
 * instants have equal text and the text sorts like the number. Parsing accepts
 * any RFC 3339 offset and at most nine fraction digits. Every int64 value,
 * 1677-09-21 to 2262-04-11, formats and parses back to itself. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "catalogue.h"

#define NS_PER_SEC INT64_C(1000000000)

size_t tb_ts_format(int64_t ns, char buf[40]) {
    /* Floor division: -1 ns is 1969-12-31T23:59:59.999999999Z. */
    int64_t secs = ns / NS_PER_SEC;
    int64_t frac = ns % NS_PER_SEC;
    if (frac < 0) {
        frac += NS_PER_SEC;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        buf[0] = '\0';
        return 0;
    }
    int n = snprintf(buf, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    return n > 0 && n < 40 ? (size_t)n : 0;
}

/* Reads exactly n digits at *p into *out and advances *p. */
static bool digits(const char **p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    *out = v;
    *p += n;
    return true;
}

static bool expect(const char **p, char a, char b) {
    if (**p != a && **p != b) return false;
    (*p)++;
    return true;
}

static int days_in_month(int year, int month) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* "YYYY-MM-DDTHH:MM:SS" into tm, with every field range-checked so timegm
 * never normalises an impossible date into a different valid one. */
static bool parse_datetime(const char **p, struct tm *tm) {
    int y, mo, d, h, mi, s;
    if (!digits(p, 4, &y) || !expect(p, '-', '-') || !digits(p, 2, &mo) || !expect(p, '-', '-') ||
        !digits(p, 2, &d) || !expect(p, 'T', 't') || !digits(p, 2, &h) || !expect(p, ':', ':') ||
        !digits(p, 2, &mi) || !expect(p, ':', ':') || !digits(p, 2, &s))
        return false;
    /* Leap seconds (:60) have no int64-nanosecond representation. */
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59)
        return false;
    memset(tm, 0, sizeof *tm);
    tm->tm_year = y - 1900;
    tm->tm_mon = mo - 1;
    tm->tm_mday = d;
    tm->tm_hour = h;
    tm->tm_min = mi;
    tm->tm_sec = s;
    return true;
}

/* Optional ".f" (1..9 digits) then "Z" or "+hh:mm" / "-hh:mm". */
static tb_status parse_tail(const char *p, int64_t *frac_ns, int64_t *offset_s) {
    *frac_ns = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        int64_t scale = NS_PER_SEC;
        while (p[n] >= '0' && p[n] <= '9') {
            if (n == 9) return TB_PRECISION;
            scale /= 10;
            *frac_ns += (p[n] - '0') * scale;
            n++;
        }
        if (n == 0) return TB_INVALID;
        p += n;
    }
    *offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh, om;
        if (!digits(&p, 2, &oh) || !expect(&p, ':', ':') || !digits(&p, 2, &om) || oh > 23 ||
            om > 59)
            return TB_INVALID;
        *offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return TB_INVALID;
    }
    return *p == '\0' ? TB_OK : TB_INVALID;
}

tb_status tb_ts_parse(const char *s, int64_t *ns_out) {
    if (s == NULL || ns_out == NULL) return TB_INVALID;
    const char *p = s;
    struct tm tm;
    if (!parse_datetime(&p, &tm)) return TB_INVALID;
    int64_t frac, offset;
    tb_status st = parse_tail(p, &frac, &offset);
    if (st != TB_OK) return st;
    time_t t = timegm(&tm);
    /* Local time minus its offset is UTC; __int128 because the seconds of a
     * year-9999 date times 10^9 exceed int64 before the range check. */
    __int128 ns = ((__int128)t - offset) * NS_PER_SEC + frac;
    if (ns < INT64_MIN || ns > INT64_MAX) return TB_OVERFLOW;
    *ns_out = (int64_t)ns;
    return TB_OK;
}

int64_t tb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}
