/* Private to the runtime: one feature's int8 input quantisation. */
#ifndef FS_QUANT_H
#define FS_QUANT_H

#include <stdint.h>
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

/* clamp(floor(x * gain + bias + 0.5), -128, 127), bit for bit as floorf would give it: the float
 * sum is the same, and truncation toward zero, less one where it rounded up, is floor (an inline
 * conversion instead of a libm call). */
static inline int8_t fs_quantize_one(float x, float gain, float bias)
{
    float v = x * gain + bias + 0.5f;
    int32_t i;
#if defined(__ARM_FEATURE_DSP)
    /* Cortex-M4: VCVT saturates out-of-range values, SSAT clamps; the clamp to [-256, 255] first
     * leaves room for the floor step. */
    float t;
    __asm__("vcvt.s32.f32 %0, %1" : "=t"(t) : "t"(v));
    __asm__("vmov %0, %1" : "=r"(i) : "t"(t));
    i = __ssat(i, 9);
    if ((float)i > v) {
        i -= 1;
    }
    return (int8_t)__ssat(i, 8);
#else
    if (v < -128.0f) {
        return -128;
    }
    if (v >= 127.0f) {
        return 127;
    }
    i = (int32_t)v;
    if ((float)i > v) {
        i -= 1;
    }
    return (int8_t)i;
#endif
}

#endif
