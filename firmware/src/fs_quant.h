/* Private to the runtime: one feature's int8 input quantisation. */
#ifndef FS_QUANT_H
#define FS_QUANT_H

#include <stdint.h>

/* clamp(floor(x * gain + bias + 0.5), -128, 127), bit for bit as floorf would give it: the float
 * sum is the same, and inside (-128, 127) truncation toward zero, less one where it rounded up,
 * is floor (an inline conversion instead of a libm call). */
static inline int8_t fs_quantize_one(float x, float gain, float bias)
{
    float v = x * gain + bias + 0.5f;
    int32_t i;
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
}

#endif
