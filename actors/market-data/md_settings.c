/* MD_* settings of tb-market-data, read once at start; see md_settings_usage
 * and README.md for the list. Bad values stop the service with exit code 2. */
#include <stdlib.h>
#include <string.h>

#include "md_service.h"

static tb_status env_u64(const char *name, int64_t dflt, int64_t max, uint64_t *out,
                         tb_error *err) {
    int64_t v;
    tb_status s = bus_env_int(name, dflt, 0, max, &v, err);
    if (s == TB_OK) *out = (uint64_t)v;
    return s;
}

/* A decimal setting (no exponent) as a double, within [lo, hi]. */
static tb_status env_ratio(const char *name, double dflt, double lo, double hi, double *out,
                           tb_error *err) {
    const char *v = bus_env(name, NULL);
    if (v == NULL) {
        *out = dflt;
        return TB_OK;
    }
    tb_fixed f;
    if (tb_fixed_parse_cstr(v, &f) != TB_OK || tb_fixed_to_double(f) < lo ||
        tb_fixed_to_double(f) > hi)
        return tb_error_set(err, TB_INVALID, name, "%s must be a decimal within [%g, %g]", name, lo,
                            hi);
    *out = tb_fixed_to_double(f);
    return TB_OK;
}

static tb_status env_fixed(const char *name, tb_fixed dflt, tb_fixed lo, tb_fixed hi, tb_fixed *out,
                           tb_error *err) {
    const char *v = bus_env(name, NULL);
    if (v == NULL) {
        *out = dflt;
        return TB_OK;
    }
    if (tb_fixed_parse_cstr(v, out) != TB_OK || *out < lo || *out > hi)
        return tb_error_set(err, TB_INVALID, name, "%s must be a decimal in range", name);
    return TB_OK;
}

static bool is_token(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= TB_TOKEN_CAP) return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

#define DEFAULT_SYMBOLS "DAX:1628.75,SMI:1678.1,CAC:1772.8,FTSE:2443.6"

tb_status md_settings_load(md_settings *s, tb_error *err) {
    memset(s, 0, sizeof *s);
    const char *mode = bus_env("MD_MODE", "sim");
    if (strcmp(mode, "sim") == 0)
        s->mode = MD_MODE_SIM;
    else if (strcmp(mode, "replay") == 0)
        s->mode = MD_MODE_REPLAY;
    else if (strcmp(mode, "off") == 0)
        s->mode = MD_MODE_OFF;
    else
        return tb_error_set(err, TB_INVALID, "MD_MODE", "MD_MODE must be sim, replay or off");

    const char *src = bus_env("MD_SOURCE", s->mode == MD_MODE_REPLAY ? "replay" : "sim");
    if (!is_token(src))
        return tb_error_set(err, TB_INVALID, "MD_SOURCE",
                            "MD_SOURCE must be 1..63 of A-Z a-z 0-9 _ -");
    snprintf(s->source, sizeof s->source, "%s", src);

    md_sim_params_default(&s->sim);
    tb_status st;
    int64_t v;
    if ((st = env_u64("MD_SEED", 42, INT64_MAX, &s->seed, err)) != TB_OK) return st;
    if ((st = env_u64("MD_RATE", 10, 10000000, &s->rate, err)) != TB_OK) return st;
    if ((st = env_u64("MD_MAX_TICKS", 0, INT64_MAX, &s->max_ticks, err)) != TB_OK) return st;
    if ((st = env_ratio("MD_DRIFT", s->sim.drift, -10, 10, &s->sim.drift, err)) != TB_OK) return st;
    if ((st = env_ratio("MD_VOLATILITY", s->sim.volatility, 0, 10, &s->sim.volatility, err)) !=
        TB_OK)
        return st;
    if ((st = env_ratio("MD_STEP_SECONDS", s->sim.step_seconds, 0.001, MD_SIM_YEAR_SECONDS,
                        &s->sim.step_seconds, err)) != TB_OK)
        return st;
    if ((st = bus_env_int("MD_SPREAD_BPS", s->sim.spread_bps, 1, 10000, &s->sim.spread_bps, err)) !=
        TB_OK)
        return st;
    if ((st = bus_env_int("MD_MAX_SIZE", s->sim.max_size, 1, 1000000000, &v, err)) != TB_OK)
        return st;
    s->sim.max_size = v;
    if ((st = env_fixed("MD_PRICE_STEP", s->sim.price_step, 1, 1000 * TB_FIXED_SCALE,
                        &s->sim.price_step, err)) != TB_OK)
        return st;
    if ((st = md_sim_params_check(&s->sim, err)) != TB_OK) return st;

    snprintf(s->replay_file, sizeof s->replay_file, "%s", bus_env("MD_REPLAY_FILE", ""));
    if (md_csv_format_parse(bus_env("MD_REPLAY_FORMAT", ""), &s->replay_format) != TB_OK)
        return tb_error_set(err, TB_INVALID, "MD_REPLAY_FORMAT",
                            "MD_REPLAY_FORMAT must be ticks or closes (or unset: from the header)");
    if ((st = env_u64("MD_REPLAY_SPEED", 0, INT64_MAX, &s->replay_speed, err)) != TB_OK) return st;
    snprintf(s->replay_dir, sizeof s->replay_dir, "%s", bus_env("MD_REPLAY_DIR", ""));
    int64_t window;
    if ((st = bus_env_int("MD_REPLAY_WINDOW", MD_REPLAY_WINDOW_DEFAULT, 0, MD_REPLAY_WINDOW_MAX,
                          &window, err)) != TB_OK)
        return st;
    /* A window smaller than one publish batch could never let a batch out. */
    if (window != 0 && window < MD_BATCH)
        return tb_error_set(err, TB_INVALID, "MD_REPLAY_WINDOW",
                            "MD_REPLAY_WINDOW must be 0 (off) or at least %d", MD_BATCH);
    s->replay_window = (uint64_t)window;
    if ((st = env_u64("MD_REPLAY_STALL_MS", 5000, 3600000, &s->replay_stall_ms, err)) != TB_OK)
        return st;
    if (s->replay_stall_ms == 0)
        return tb_error_set(err, TB_INVALID, "MD_REPLAY_STALL_MS",
                            "MD_REPLAY_STALL_MS must be within [1, 3600000]");
    if ((st = env_u64("MD_REPLAY_RESEND_ROUNDS", MD_RESEND_ROUNDS_DEFAULT, 100,
                      &s->replay_resend_rounds, err)) != TB_OK)
        return st;
    if ((st = env_u64("MD_REPLAY_CONCURRENT", 4, MD_REPLAY_SLOTS_MAX, &s->replay_concurrent,
                      err)) != TB_OK)
        return st;
    if (s->replay_concurrent == 0)
        return tb_error_set(err, TB_INVALID, "MD_REPLAY_CONCURRENT",
                            "MD_REPLAY_CONCURRENT must be within [1, %d]", MD_REPLAY_SLOTS_MAX);
    if (s->mode == MD_MODE_REPLAY && s->replay_file[0] == '\0')
        return tb_error_set(err, TB_INVALID, "MD_REPLAY_FILE",
                            "MD_MODE=replay needs MD_REPLAY_FILE");

    /* Parsed last: the only allocation, so earlier failures leak nothing. */
    st = md_sim_parse_symbols(bus_env("MD_SYMBOLS", DEFAULT_SYMBOLS), &s->sim, &s->symbols,
                              &s->nsymbols, err);
    if (st != TB_OK && err != NULL) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        tb_error_set(err, st, "MD_SYMBOLS", "MD_SYMBOLS: %.200s", why);
    }
    if (st != TB_OK) return st;
    return TB_OK;
}

void md_settings_usage(FILE *f) {
    fprintf(
        f, "  MD_MODE            sim | replay | off (default sim)\n"
           "  MD_SOURCE          feed name in md.status.<source> and tick.source\n"
           "                     (default sim, or replay with MD_MODE=replay)\n"
           "  MD_SYMBOLS         sim symbols SYM[:start[:drift[:volatility]]],...\n"
           "                     (default " DEFAULT_SYMBOLS "; start default 100)\n"
           "  MD_SEED            simulator seed, same seed = same ticks (default 42)\n"
           "  MD_RATE            ticks per second over all symbols, 0 = as fast as possible "
           "(default 10)\n"
           "  MD_MAX_TICKS       stop the simulator after this many ticks, 0 = never (default 0)\n"
           "  MD_DRIFT           annual drift of every symbol without its own (default 0.05)\n"
           "  MD_VOLATILITY      annual volatility of every symbol without its own (default 0.2)\n"
           "  MD_STEP_SECONDS    simulated trading seconds between two ticks of a symbol (default "
           "60)\n"
           "  MD_SPREAD_BPS      bid/ask spread around last, 1..10000 bps (default 5)\n"
           "  MD_PRICE_STEP      price tick size (default 0.01)\n"
           "  MD_MAX_SIZE        sizes are whole units in [1, MD_MAX_SIZE] (default 100)\n"
           "  MD_REPLAY_FILE     CSV replayed when MD_MODE=replay\n"
           "  MD_REPLAY_FORMAT   ticks | closes (default: from the header)\n"
           "  MD_REPLAY_SPEED    pacing factor against timestamps, 0 = as fast as possible "
           "(default 0)\n"
           "  MD_REPLAY_DIR      api.market.replay only reads files under this folder (default: "
           "any)\n"
           "  MD_REPLAY_WINDOW   speed 0: most ticks published ahead of the slowest tick consumer\n"
           "                     (bus.flow reports), 0 = unpaced, else >= 256 (default 20000)\n"
           "  MD_REPLAY_STALL_MS a consumer without progress this long while the window is full\n"
           "                     is no longer waited for (default 5000)\n"
           "  MD_REPLAY_RESEND_ROUNDS  speed 0: times a replay re-publishes its last\n"
           "                     2 x MD_REPLAY_WINDOW ticks when a consumer stalls or falls\n"
           "                     short at the end, before no longer waiting for it;\n"
           "                     0 = never, at most 100 (default 3)\n"
           "  MD_REPLAY_CONCURRENT  api.market.replay runs at once per instance (1..64, "
           "default 4)\n");
}
