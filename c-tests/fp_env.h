/*
 * The floating-point tests' access to the environment: MXCSR through the
 * SSE intrinsics, the x87 control word by its two instructions (no libm,
 * whose fenv functions change both units at once).
 */
#ifndef RUSTASYNC_TEST_FP_ENV_H
#define RUSTASYNC_TEST_FP_ENV_H

#include <stdint.h>
#include <xmmintrin.h>

#define MX_RC_SHIFT 13 /* MXCSR rounding control, bits 13-14 */
#define MX_FLAGS 0x3f  /* MXCSR exception flags */
#define MX_INEXACT 0x20
#define MX_DIVZERO 0x04
#define X87_RC_SHIFT 10 /* x87 control word rounding control, bits 10-11 */
#define X87_PC_SHIFT 8  /* precision control, bits 8-9 */

static inline uint16_t x87_cw(void)
{
    uint16_t cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}

static inline void set_x87_cw(uint16_t cw)
{
    __asm__ volatile("fldcw %0" : : "m"(cw));
}

/* Sets the rounding mode in both units: 0 nearest, 1 down, 2 up, 3 toward
 * zero. */
static inline void set_rounding(unsigned mode)
{
    _mm_setcsr((_mm_getcsr() & ~(3u << MX_RC_SHIFT)) | (mode << MX_RC_SHIFT));
    set_x87_cw((uint16_t)((x87_cw() & ~(3u << X87_RC_SHIFT)) | (mode << X87_RC_SHIFT)));
}

/* Sets MXCSR's exception flags to `flags`, the rest of it kept. */
static inline void set_flags(unsigned flags)
{
    _mm_setcsr((_mm_getcsr() & ~MX_FLAGS) | flags);
}

#endif
