/* Types shared by the runtime and the generated tables (fs_params.c). */
#ifndef FS_TYPES_H
#define FS_TYPES_H

#include <stdint.h>

/* One int8 fully connected layer with TFLite quantisation semantics:
 * acc = bias[o] + sum_i w[o * in_dim + i] * (x[i] + in_offset)   (generated tables fold
 * in_offset * sum_i w[o, i] into bias and set in_offset = 0)
 * y[o] = clamp(MultiplyByQuantizedMultiplier(acc, mult[o], shift[o]) + out_offset, act_min, act_max)
 * mult/shift hold one entry per output channel (per-tensor weights repeat it). */
typedef struct {
    uint16_t in_dim;
    uint16_t out_dim;
    const int8_t *w;
    const int32_t *bias;
    const int32_t *mult;
    const int32_t *shift;
    int32_t in_offset;
    int32_t out_offset;
    int32_t act_min;
    int32_t act_max;
} fs_dense_layer;

#endif
