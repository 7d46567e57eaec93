/*
 * timeutil.c - clocks and formatting (UTC only: data timestamps are UTC).
 */
#include "timeutil.h"

#include "parse.h"
#include <junco/error.h>

#include <math.h>

#include <stdio.h>
#include <time.h>

uint64_t jc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t jc_wall_s(void)
{
    return (int64_t)time(NULL);
}

double jc_wall_s_double(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void jc_fmt_utc(char *out, size_t cap, int64_t unix_s)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, cap, "%lld", (long long)unix_s);
}

void jc_fmt_duration(char *out, size_t cap, double seconds)
{
    if (seconds < 0 || seconds != seconds)
        seconds = 0;
    if (seconds < 60)
        snprintf(out, cap, "%.1fs", seconds);
    else if (seconds < 3600)
        snprintf(out, cap, "%dm%02ds", (int)(seconds / 60), (int)seconds % 60);
    else
        snprintf(out, cap, "%dh%02dm", (int)(seconds / 3600), ((int)seconds % 3600) / 60);
}

int jc_civil_valid(int64_t y, unsigned m, unsigned d)
{
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

/* Howard Hinnant's days_from_civil. */
int64_t jc_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n, size_t at, size_t len, unsigned *out)
{
    if (at + len > n)
        return -1;
    unsigned v = 0;
    for (size_t i = at; i < at + len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int jc_parse_timestamp(const char *s, size_t n, int64_t *out)
{
    int64_t iv;
    if (jc_parse_i64(s, n, &iv) == JC_OK) {
        *out = iv;
        return JC_OK;
    }
    /* ISO 8601 date or date-time */
    unsigned y, mo, d, h = 0, mi = 0, se = 0;
    if (n >= 10 && s[4] == '-' && s[7] == '-' && digits(s, n, 0, 4, &y) == 0 &&
        digits(s, n, 5, 2, &mo) == 0 && digits(s, n, 8, 2, &d) == 0) {
        if (!jc_civil_valid((int64_t)y, mo, d))
            return JC_EPARSE;
        int64_t days = jc_days_from_civil((int64_t)y, mo, d);
        size_t i = 10;
        int64_t offset = 0;
        if (i < n && (s[i] == 'T' || s[i] == ' ')) {
            if (digits(s, n, i + 1, 2, &h) || i + 3 >= n || s[i + 3] != ':' ||
                digits(s, n, i + 4, 2, &mi))
                return JC_EPARSE;
            i += 6;
            if (i < n && s[i] == ':') {
                if (digits(s, n, i + 1, 2, &se))
                    return JC_EPARSE;
                i += 3;
                if (i < n && s[i] == '.') {
                    i++;
                    while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++;
                }
            }
            if (h > 23 || mi > 59 || se > 60)
                return JC_EPARSE;
        }
        if (i < n && s[i] == 'Z') {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            unsigned oh, om;
            if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
                digits(s, n, i + 4, 2, &om))
                return JC_EPARSE;
            offset = (int64_t)(oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
            i += 6;
        }
        if (i != n)
            return JC_EPARSE;
        *out = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + (int64_t)se - offset;
        return JC_OK;
    }
    double dv;
    if (jc_parse_f64(s, n, &dv) == JC_OK && dv > -9.2e18 && dv < 9.2e18) {
        *out = (int64_t)floor(dv);
        return JC_OK;
    }
    return JC_EPARSE;
}
