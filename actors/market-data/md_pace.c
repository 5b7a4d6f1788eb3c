/* Feed pacing; see md_pace.h. 128-bit intermediates: index * 1e9 overflows
 * int64 after 9.2e9 ticks, which a long-running fast feed reaches. */
#include "md_pace.h"

#define NS INT64_C(1000000000)

int64_t md_pace_rate_offset_ns(uint64_t index, uint64_t rate_per_s) {
    if (rate_per_s == 0) return 0;
    unsigned __int128 v = (unsigned __int128)index * (uint64_t)NS / rate_per_s;
    return v > (unsigned __int128)INT64_MAX ? INT64_MAX : (int64_t)v;
}

int64_t md_pace_replay_offset_ns(int64_t first_ts, int64_t ts, uint64_t speed) {
    if (speed == 0 || ts <= first_ts) return 0;
    /* ts - first_ts can exceed int64 only for timestamps of opposite signs. */
    unsigned __int128 d = (unsigned __int128)((__int128)ts - (__int128)first_ts);
    unsigned __int128 v = d / speed;
    return v > (unsigned __int128)INT64_MAX ? INT64_MAX : (int64_t)v;
}

uint64_t md_pace_rate_due(int64_t elapsed_ns, uint64_t rate_per_s) {
    if (rate_per_s == 0) return UINT64_MAX;
    if (elapsed_ns < 0) return 0;
    /* Tick i is due when floor(i * 1e9 / rate) <= elapsed, that is when
     * i * 1e9 < (elapsed + 1) * rate: ceil((elapsed + 1) * rate / 1e9) ticks. */
    unsigned __int128 v = ((unsigned __int128)elapsed_ns + 1) * rate_per_s;
    v = (v + (uint64_t)NS - 1) / (uint64_t)NS;
    return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

int64_t md_pace_rate_per_s(uint64_t count_before, uint64_t count_now, int64_t elapsed_ns) {
    if (elapsed_ns <= 0 || count_now < count_before) return 0;
    unsigned __int128 v =
        (unsigned __int128)(count_now - count_before) * (uint64_t)NS / (uint64_t)elapsed_ns;
    return v > (unsigned __int128)INT64_MAX ? INT64_MAX : (int64_t)v;
}
