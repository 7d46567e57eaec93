/*
 * timeutil.h - clocks and time formatting.
 *
 * jc_now_ns is monotonic (durations, rates, latency); jc_wall_s is Unix time
 * (timestamps in data). Timestamps in junco data are int64 Unix seconds.
 * Thread-safe.
 */
#ifndef JC_TIMEUTIL_H
#define JC_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

uint64_t jc_now_ns(void);
int64_t jc_wall_s(void);
double jc_wall_s_double(void);
/* Formats Unix seconds as "YYYY-MM-DD HH:MM:SS" (UTC) into out. */
void jc_fmt_utc(char *out, size_t cap, int64_t unix_s);
/* Formats a duration in seconds compactly ("1h02m", "3m05s", "12.3s"). */
void jc_fmt_duration(char *out, size_t cap, double seconds);
/* 1 if y-m-d is a valid proleptic Gregorian date. */
int jc_civil_valid(int64_t y, unsigned m, unsigned d);
/* Days since 1970-01-01 of a valid date (negative before 1970). */
int64_t jc_days_from_civil(int64_t y, unsigned m, unsigned d);
/*
 * Parses a timestamp: integer Unix seconds, fractional seconds (truncated
 * toward -inf), or ISO 8601 "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS[.fff]]" with
 * an optional 'T' separator and 'Z' or +HH:MM offset. JC_EPARSE otherwise.
 */
int jc_parse_timestamp(const char *s, size_t n, int64_t *out);

#endif
