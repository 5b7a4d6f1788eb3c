/* tb-ctl services and tb-ctl health: discovery through the NATS micro
 * protocol ($SRV.INFO / $SRV.PING scatter-gather: every instance answers,
 * there is no queue group) and per-instance health (svc.<name>.<id>.health,
 * answered by that instance alone). */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* How long replies to a scatter-gather are collected. Local instances answer
 * within milliseconds; the margin covers loaded machines and sanitizer
 * builds. */
#define CTL_GATHER_MS 1000

static void collect(const bus_bytes *m, json_t *arr) {
    json_t *j = json_loadb(m->data, m->len, 0, NULL);
    /* Only well-formed micro responses count; anything else is noise on a
     * shared subject. */
    if (j && json_is_string(json_object_get(j, "name")) && json_is_string(json_object_get(j, "id")))
        json_array_append_new(arr, j);
    else
        json_decref(j);
}

static const char *str(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static int by_name_id(const void *a, const void *b) {
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int r = strcmp(str(x, "name"), str(y, "name"));
    return r ? r : strcmp(str(x, "id"), str(y, "id"));
}

/* Gathers the replies to verb ("INFO", "PING") for every service or one,
 * sorted by name and id. Returns a new array, or NULL with the reason
 * printed. */
static json_t *gather(ctl *c, const char *verb, const char *service) {
    if (ctl_connect(c) == NULL) return NULL;
    char subject[160];
    if (service)
        snprintf(subject, sizeof subject, "$SRV.%s.%s", verb, service);
    else
        snprintf(subject, sizeof subject, "$SRV.%s", verb);
    json_t *arr = json_array();
    tb_error err = {0};
    int64_t wait = c->timeout_ms < CTL_GATHER_MS ? c->timeout_ms : CTL_GATHER_MS;
    const char *subjects[1] = {subject};
    bus_bytes *replies = NULL;
    size_t nreplies = 0;
    if (bus_request_many(c->conn, subjects, 1, NULL, 0, NULL, wait, 0, &replies, &nreplies, &err) !=
        TB_OK) {
        tool_errorf("%s", err.message);
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < nreplies; i++) collect(&replies[i], arr);
    bus_bytes_free_many(replies, nreplies);
    size_t n = json_array_size(arr);
    json_t **items = calloc(n ? n : 1, sizeof *items);
    if (items == NULL) {
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(arr, i));
    qsort(items, n, sizeof *items, by_name_id);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, items[i]);
    free(items);
    return arr;
}

static bool valid_service_name(const char *s) {
    if (s == NULL || s[0] == '\0') return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return false;
    return true;
}

/* [SERVICE] and, when id is not NULL, [--id ID]. */
static bool parse_service(int argc, char **argv, const char **service, const char **id) {
    const ctl_opt opts[] = {{"id", id, NULL}, {NULL, NULL, NULL}};
    int npos = 0;
    *service = NULL;
    if (!ctl_parse(argc, argv, id ? opts : opts + 1, service, 1, &npos)) return false;
    if (id && *id && *service == NULL) {
        tool_errorf("--id needs a SERVICE: tb-ctl health SERVICE --id ID");
        return false;
    }
    if (*service && !valid_service_name(*service)) {
        tool_errorf("'%s' is not a service name (lowercase letters, digits, '-')", *service);
        return false;
    }
    if (id && *id && ((*id)[0] == '\0' || strlen(*id) > 63 || strpbrk(*id, " .*>\t\r\n"))) {
        tool_errorf("--id '%s' is not an instance id (a subject token)", *id);
        return false;
    }
    return true;
}

int ctl_services(ctl *c, int argc, char **argv) {
    const char *service = NULL;
    if (!parse_service(argc, argv, &service, NULL)) return TOOL_EXIT_USAGE;
    json_t *arr = gather(c, "INFO", service);
    if (arr == NULL) return TOOL_EXIT_FAILED;
    size_t n = json_array_size(arr);
    if (!c->json && n > 0) printf("%-22s %-20s %-9s %s\n", "NAME", "ID", "VERSION", "ENDPOINTS");
    json_t *it;
    size_t i;
    json_array_foreach(arr, i, it) {
        if (c->json) {
            if (!tool_print_line(stdout, json_incref(it))) break;
            continue;
        }
        printf("%-22s %-20s %-9s ", str(it, "name"), str(it, "id"), str(it, "version"));
        json_t *ep;
        size_t k;
        json_array_foreach(json_object_get(it, "endpoints"), k, ep) {
            printf("%s%s (%s)", k ? ", " : "", str(ep, "name"), str(ep, "subject"));
        }
        printf("\n");
    }
    fflush(stdout);
    json_decref(arr);
    if (n == 0) {
        tool_errorf("no instance%s%s answered $SRV.INFO", service ? " of " : "",
                    service ? service : "");
        return TOOL_EXIT_FAILED;
    }
    fprintf(stderr, "tb-ctl: %zu instance%s\n", n, n == 1 ? "" : "s");
    return TOOL_EXIT_OK;
}

/* "nats ok 0.21ms, postgres ok 1.03ms" from a health reply's checks. */
static void describe_checks(json_t *checks, char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    const char *name;
    json_t *chk;
    json_object_foreach(checks, name, chk) {
        int w;
        if (json_is_true(json_object_get(chk, "ok")))
            w = snprintf(out + used, cap - used, "%s%s ok %.2fms", used ? ", " : "", name,
                         json_number_value(json_object_get(chk, "latency_ms")));
        else
            w = snprintf(out + used, cap - used, "%s%s FAILED (%s)", used ? ", " : "", name,
                         str(chk, "error"));
        if (w < 0 || (size_t)w >= cap - used) break;
        used += (size_t)w;
    }
}

int ctl_health(ctl *c, int argc, char **argv) {
    const char *service = NULL, *id = NULL;
    if (!parse_service(argc, argv, &service, &id)) return TOOL_EXIT_USAGE;
    /* --id: exactly that instance (container health checks), no discovery. */
    json_t *arr =
        id ? json_pack("[{s:s, s:s}]", "name", service, "id", id) : gather(c, "PING", service);
    if (id && ctl_connect(c) == NULL) {
        json_decref(arr);
        return TOOL_EXIT_FAILED;
    }
    if (arr == NULL) return TOOL_EXIT_FAILED;
    size_t n = json_array_size(arr), healthy = 0;
    if (!c->json && n > 0) printf("%-22s %-20s %-10s %s\n", "SERVICE", "ID", "STATUS", "CHECKS");
    json_t *it;
    size_t i;
    json_array_foreach(arr, i, it) {
        char subject[300];
        snprintf(subject, sizeof subject, "svc.%s.%s.health", str(it, "name"), str(it, "id"));
        bus_bytes reply = {0};
        tb_error err = {0};
        json_t *h = NULL;
        if (bus_request_bytes(c->conn, subject, NULL, 0, NULL, c->timeout_ms, NULL, &reply, &err) ==
            TB_OK)
            h = json_loadb(reply.data, reply.len, 0, NULL);
        bus_bytes_free(&reply);
        if (h == NULL) {
            /* The instance answered PING but not health: report it as such. */
            h = json_pack("{s:s, s:s, s:s, s:s}", "service", str(it, "name"), "id", str(it, "id"),
                          "status", "unreachable", "error",
                          err.message[0] ? err.message : "malformed health reply");
        }
        bool ok = strcmp(str(h, "status"), "ok") == 0;
        healthy += ok;
        if (c->json) {
            if (!tool_print_line(stdout, h)) break;
            continue;
        }
        char checks[512];
        describe_checks(json_object_get(h, "checks"), checks, sizeof checks);
        printf("%-22s %-20s %-10s %s\n", str(it, "name"), str(it, "id"), str(h, "status"),
               checks[0] ? checks : str(h, "error"));
        json_decref(h);
    }
    fflush(stdout);
    json_decref(arr);
    if (n == 0) {
        tool_errorf("no instance%s%s answered $SRV.PING", service ? " of " : "",
                    service ? service : "");
        return TOOL_EXIT_FAILED;
    }
    fprintf(stderr, "tb-ctl: %zu of %zu instance%s healthy\n", healthy, n, n == 1 ? "" : "s");
    return healthy == n ? TOOL_EXIT_OK : TOOL_EXIT_FAILED;
}
