/*
 * crc32c.c - CRC-32C with a hardware path (SSE4.2 crc32 instruction, 8 bytes
 * per step) and a slicing-by-8 software fallback. The tables are built once
 * (pthread_once); the CPU check is cached in an atomic.
 */
#include "crc32c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

uint32_t jc_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&table_once, build_tables);
    const unsigned char *s = p;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo =
            (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
        uint32_t hi =
            (uint32_t)s[4] | (uint32_t)s[5] << 8 | (uint32_t)s[6] << 16 | (uint32_t)s[7] << 24;
        lo ^= c;
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
            table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
            table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        s += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ table[0][(c ^ *s++) & 0xff];
    return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t jc_crc32c_hw(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t c = ~crc;
    while (n > 0 && ((uintptr_t)s & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *s++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        c = __builtin_ia32_crc32di(c, w);
        s += 8;
        n -= 8;
    }
    while (n--)
        c = __builtin_ia32_crc32qi((uint32_t)c, *s++);
    return ~(uint32_t)c;
}

int jc_crc32c_hw_available(void)
{
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}
#else
uint32_t jc_crc32c_hw(uint32_t crc, const void *p, size_t n)
{
    return jc_crc32c_sw(crc, p, n);
}

int jc_crc32c_hw_available(void)
{
    return 0;
}
#endif

uint32_t jc_crc32c(uint32_t crc, const void *p, size_t n)
{
    return jc_crc32c_hw_available() ? jc_crc32c_hw(crc, p, n) : jc_crc32c_sw(crc, p, n);
}
