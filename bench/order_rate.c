/* tb-bench-order-rate: the fixed-rate row of `scripts/bench orders`.
 *
 * Offers POST /v1/orders at a fixed rate (open loop: request i is due at
 * start + i / RATE whether or not earlier ones were answered, so a slow
 * answer cannot hide the requests that would have queued behind it), and
 * measures for every order
 *   rest     from the moment it was due until its HTTP answer, and
 *   booked   from the moment it was due until the first pos.update of its
 *            account whose fill_id belongs to it (position-management booked
 *            the fill: trading-execution names fills "<order_id>-<n>").
 *
 *   $ tb-bench-order-rate GATEWAY_URL KEY ACCOUNT SYMBOL RATE SECONDS
 *     (NATS_URL from scripts/env)
 *
 * Output: `key value` lines for scripts/bench. Exit 0 when the run completed,
 * 1 on errors, 2 on usage. */
#include <curl/curl.h>
#include <jansson.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actor.h"

#define MAX_INFLIGHT   128
#define BOOK_WAIT_NS   (10 * INT64_C(1000000000))
#define ANSWER_WAIT_NS (30 * INT64_C(1000000000))

typedef struct req {
    int64_t due_ns;
    int64_t sent_ns;     /* handed to curl */
    int64_t answered_ns; /* sent_ns + curl's total time; 0: no answer */
    long http;
    char order_id[TB_ID_CAP];
} req;

typedef struct booked {
    char order_id[TB_ID_CAP];
    int64_t at_ns;
} booked;

typedef struct slot {
    CURL *h;
    size_t req; /* index in reqs */
    char body[4096];
    size_t len;
    bool busy;
} slot;

static pthread_mutex_t book_lock = PTHREAD_MUTEX_INITIALIZER;
static booked *books;
static size_t nbooks, cap_books;

/* pos.update.<account>.<symbol>: remembers when each fill's order was booked. */
static void on_update(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc, (void)sub, (void)closure;
    int64_t now = bus_mono_ns();
    tb_position_update u;
    tb_error err = {0};
    if (tb_decode(&tb_position_update_desc, natsMsg_GetData(msg),
                  (size_t)natsMsg_GetDataLength(msg), &u, &err) == TB_OK &&
        u.fill_id[0]) {
        char *dash = strrchr(u.fill_id, '-');
        if (dash) *dash = '\0';
        pthread_mutex_lock(&book_lock);
        if (nbooks == cap_books) {
            size_t cap = cap_books ? 2 * cap_books : 4096;
            booked *grown = realloc(books, cap * sizeof *grown);
            if (grown) books = grown, cap_books = cap;
        }
        if (nbooks < cap_books) {
            snprintf(books[nbooks].order_id, TB_ID_CAP, "%s", u.fill_id);
            books[nbooks++].at_ns = now;
        }
        pthread_mutex_unlock(&book_lock);
    }
    natsMsg_Destroy(msg);
}

static size_t on_body(char *p, size_t size, size_t n, void *closure) {
    slot *s = closure;
    size_t len = size * n;
    size_t room = sizeof s->body - 1 - s->len;
    size_t take = len < room ? len : room;
    memcpy(s->body + s->len, p, take);
    s->len += take;
    s->body[s->len] = '\0';
    return len;
}

/* Wakes the sending loop when each request is due, so the loop sleeps in
 * curl_multi_poll instead of spinning between sub-millisecond deadlines. */
typedef struct pacer {
    CURLM *m;
    const req *reqs;
    size_t n;
} pacer;

static void *pace(void *arg) {
    pacer *p = arg;
    for (size_t i = 0; i < p->n; i++) {
        int64_t due = p->reqs[i].due_ns;
        struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
        }
        curl_multi_wakeup(p->m);
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_book(const void *a, const void *b) {
    const booked *x = a, *y = b;
    int c = strcmp(x->order_id, y->order_id);
    return c ? c : cmp_i64(&x->at_ns, &y->at_ns);
}

static double pct_ms(int64_t *v, size_t n, double p) {
    if (n == 0) return -1;
    qsort(v, n, sizeof *v, cmp_i64);
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[k] / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s GATEWAY_URL KEY ACCOUNT SYMBOL RATE SECONDS\n", argv[0]);
        return 2;
    }
    const char *gw = argv[1], *key = argv[2], *account = argv[3], *symbol = argv[4];
    long rate = strtol(argv[5], NULL, 10), seconds = strtol(argv[6], NULL, 10);
    const char *nats_url = getenv("NATS_URL");
    if (rate <= 0 || seconds <= 0 || nats_url == NULL) {
        fprintf(stderr, "RATE and SECONDS must be positive, NATS_URL set\n");
        return 2;
    }
    size_t n = (size_t)(rate * seconds);
    req *reqs = calloc(n, sizeof *reqs);
    slot *slots = calloc(MAX_INFLIGHT, sizeof *slots);
    if (reqs == NULL || slots == NULL) return 1;

    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    char subject[256];
    snprintf(subject, sizeof subject, "pos.update.%s.>", account);
    if (natsConnection_ConnectTo(&nc, nats_url) != NATS_OK ||
        natsConnection_Subscribe(&sub, nc, subject, on_update, NULL) != NATS_OK ||
        natsConnection_Flush(nc) != NATS_OK) {
        fprintf(stderr, "cannot subscribe to %s\n", subject);
        return 1;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    char url[512], auth[256], body[512];
    snprintf(url, sizeof url, "%s/v1/orders", gw);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"%s\",\"side\":\"buy\",\"type\":\"market\","
             "\"tif\":\"ioc\",\"qty\":\"1\"}",
             account, symbol);
    struct curl_slist *hdrs = curl_slist_append(NULL, auth);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    for (size_t i = 0; i < MAX_INFLIGHT; i++) {
        CURL *h = curl_easy_init();
        slots[i].h = h;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &slots[i]);
        curl_easy_setopt(h, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
    }

    int64_t start = bus_mono_ns() + 100 * INT64_C(1000000);
    for (size_t i = 0; i < n; i++)
        reqs[i].due_ns = start + (int64_t)(i * INT64_C(1000000000) / (size_t)rate);
    size_t next = 0, answered = 0, late = 0;
    int running = 0;
    pacer pc = {.m = m, .reqs = reqs, .n = n};
    pthread_t pacer_thread;
    if (pthread_create(&pacer_thread, NULL, pace, &pc) != 0) return 1;
    while (answered < n) {
        int64_t now = bus_mono_ns();
        if (now - start > seconds * INT64_C(1000000000) + ANSWER_WAIT_NS) break;
        for (size_t k = 0; next < n && reqs[next].due_ns <= now && k < MAX_INFLIGHT; k++) {
            if (slots[k].busy) continue;
            if (now - reqs[next].due_ns > INT64_C(1000000)) late++;
            slots[k].busy = true;
            slots[k].req = next++;
            slots[k].len = 0;
            slots[k].body[0] = '\0';
            reqs[slots[k].req].sent_ns = now;
            curl_multi_add_handle(m, slots[k].h);
        }
        curl_multi_perform(m, &running);
        CURLMsg *cm;
        int left;
        while ((cm = curl_multi_info_read(m, &left)) != NULL) {
            if (cm->msg != CURLMSG_DONE) continue;
            slot *s = NULL;
            curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            req *r = &reqs[s->req];
            curl_off_t total_us = 0;
            curl_easy_getinfo(cm->easy_handle, CURLINFO_TOTAL_TIME_T, &total_us);
            r->answered_ns = r->sent_ns + (int64_t)total_us * 1000;
            curl_easy_getinfo(cm->easy_handle, CURLINFO_RESPONSE_CODE, &r->http);
            json_t *j = json_loads(s->body, 0, NULL);
            const char *id = json_string_value(json_object_get(j, "order_id"));
            if (id) snprintf(r->order_id, sizeof r->order_id, "%s", id);
            json_decref(j);
            curl_multi_remove_handle(m, s->h);
            s->busy = false;
            answered++;
        }
        /* Sockets or the pacer wake it; a due request with no free slot
         * waits for an answer to free one. */
        if (next >= n || reqs[next].due_ns > bus_mono_ns() || running >= MAX_INFLIGHT)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    pthread_join(pacer_thread, NULL);

    /* Every answered order's booking, up to BOOK_WAIT_NS after the last answer. */
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) ok += reqs[i].http == 200 || reqs[i].http == 201;
    int64_t until = bus_mono_ns() + BOOK_WAIT_NS;
    for (;;) {
        pthread_mutex_lock(&book_lock);
        size_t nb = nbooks;
        pthread_mutex_unlock(&book_lock);
        if (nb >= ok || bus_mono_ns() > until) break;
        nats_Sleep(20);
    }
    natsSubscription_Unsubscribe(sub);
    pthread_mutex_lock(&book_lock);
    qsort(books, nbooks, sizeof *books, cmp_book);
    int64_t *rest = calloc(n + 1, sizeof *rest), *book = calloc(n + 1, sizeof *book);
    size_t nrest = 0, nbook = 0, non2xx = 0;
    int64_t first_due = n ? reqs[0].due_ns : 0, last_answer = first_due;
    for (size_t i = 0; i < n; i++) {
        req *r = &reqs[i];
        if (r->answered_ns == 0) continue;
        if (r->answered_ns > last_answer) last_answer = r->answered_ns;
        if (r->http != 200 && r->http != 201) {
            non2xx++;
            continue;
        }
        rest[nrest++] = r->answered_ns - r->due_ns;
        booked probe = {.at_ns = INT64_MIN};
        snprintf(probe.order_id, sizeof probe.order_id, "%s", r->order_id);
        size_t lo = 0, hi = nbooks;
        while (lo < hi) { /* first booking of the order */
            size_t mid = (lo + hi) / 2;
            if (cmp_book(&books[mid], &probe) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < nbooks && strcmp(books[lo].order_id, r->order_id) == 0)
            book[nbook++] = books[lo].at_ns - r->due_ns;
    }
    pthread_mutex_unlock(&book_lock);
    double span = (double)(last_answer - first_due) / 1e9;
    printf("offered %zu\n", n);
    printf("offered_rate %ld\n", rate);
    printf("answered %zu\n", answered);
    printf("ok %zu\n", nrest);
    printf("non2xx %zu\n", non2xx);
    size_t by_code[600] = {0}, unanswered = 0;
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].answered_ns == 0)
            unanswered++;
        else if (reqs[i].http != 200 && reqs[i].http != 201)
            by_code[reqs[i].http >= 0 && reqs[i].http < 600 ? reqs[i].http : 0]++;
    }
    printf("unanswered %zu\n", unanswered);
    for (int c = 0; c < 600; c++)
        if (by_code[c]) printf("http_%03d %zu\n", c, by_code[c]);
    printf("late_sends %zu\n", late);
    printf("achieved_rate %.0f\n", span > 0 ? (double)nrest / span : 0);
    printf("rest_p50_ms %.2f\n", pct_ms(rest, nrest, 0.50));
    printf("rest_p99_ms %.2f\n", pct_ms(rest, nrest, 0.99));
    printf("booked %zu\n", nbook);
    printf("booked_p50_ms %.2f\n", pct_ms(book, nbook, 0.50));
    printf("booked_p99_ms %.2f\n", pct_ms(book, nbook, 0.99));
    for (size_t i = 0; i < MAX_INFLIGHT; i++) curl_easy_cleanup(slots[i].h);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    curl_global_cleanup();
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    free(rest);
    free(book);
    free(books);
    free(slots);
    free(reqs);
    return answered == n ? 0 : 1;
}
