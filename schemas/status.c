/* Expansion of TB_STATUS_MAP and the tb_error helpers. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *code;
    int http;
    const char *text;
} status_table[] = {
#define TB_STATUS_ROW(name, code, http, text) {code, http, text},
    TB_STATUS_MAP(TB_STATUS_ROW)
#undef TB_STATUS_ROW
};

_Static_assert(sizeof(status_table) / sizeof(status_table[0]) == TB_STATUS_COUNT,
               "status table matches the enum");

const char *tb_status_code(tb_status s) {
    return (unsigned)s < TB_STATUS_COUNT ? status_table[s].code : "internal";
}

const char *tb_status_text(tb_status s) {
    return (unsigned)s < TB_STATUS_COUNT ? status_table[s].text : "internal error";
}

int tb_status_http(tb_status s) {
    return (unsigned)s < TB_STATUS_COUNT ? status_table[s].http : 500;
}

tb_status tb_status_from_code(const char *code) {
    if (code == NULL) return TB_ERR;
    for (int i = 0; i < TB_STATUS_COUNT; i++)
        if (strcmp(status_table[i].code, code) == 0) return (tb_status)i;
    return TB_ERR;
}

tb_status tb_error_set(tb_error *err, tb_status s, const char *field, const char *fmt, ...) {
    if (err == NULL) return s;
    err->status = s;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    if (fmt == NULL) {
        snprintf(err->message, sizeof err->message, "%s", tb_status_text(s));
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return s;
}

void tb_error_clear(tb_error *err) {
    if (err == NULL) return;
    err->status = TB_OK;
    err->field[0] = '\0';
    err->message[0] = '\0';
}
