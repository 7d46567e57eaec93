/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of every event log record.
 *
 * jc_crc32c uses the SSE4.2 crc32 instruction when the CPU has it (checked
 * once at run time) and a slicing-by-8 table otherwise; both give identical
 * results (tested against each other and the RFC 3720 vectors). The value is
 * the standard one: jc_crc32c(0, "123456789", 9) == 0xE3069283. Pass the
 * previous result as `crc` to continue a checksum over several pieces.
 * Pure functions, thread-safe.
 */
#ifndef JC_CRC32C_H
#define JC_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t jc_crc32c(uint32_t crc, const void *p, size_t n);
/* The portable table implementation. */
uint32_t jc_crc32c_sw(uint32_t crc, const void *p, size_t n);
/* The SSE4.2 implementation; only call it when jc_crc32c_hw_available(). */
uint32_t jc_crc32c_hw(uint32_t crc, const void *p, size_t n);
/* 1 if the CPU has the SSE4.2 crc32 instruction (and this is an x86-64 build). */
int jc_crc32c_hw_available(void);

#endif
