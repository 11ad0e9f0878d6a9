/* int8 dense layers with TFLite reference-kernel quantisation semantics, and
 * the per-window scores (autoencoder reconstruction error, k-means distance). */
#include "fs_runtime.h"

/* TFLite's SaturatingRoundingDoublingHighMul. Its nudge (2^30, or 1 - 2^30 for a negative product)
 * followed by division truncating toward zero equals floor((a b + 2^30) / 2^31) for every product,
 * so one 64-bit multiply-add and a shift give it (CMSIS-NN computes it the same way). */
static int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

static int32_t rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    uint32_t mask = (1u << exponent) - 1u; /* exponent 0..31 */
    int32_t remainder = (int32_t)((uint32_t)x & mask);
    int32_t threshold = (int32_t)(mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul((int32_t)((uint32_t)x << left), multiplier), left - shift);
}

int32_t fs_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift)
{
    return mbqm(x, multiplier, shift);
}

int32_t fs_multiply_by_quantized_multiplier_single(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t total_shift = 31 - shift;
    int64_t round = (int64_t)1 << (total_shift - 1);
    return (int32_t)(((int64_t)x * (int64_t)multiplier + round) >> total_shift);
}

#ifndef FS_SINGLE_ROUNDING
#define FS_SINGLE_ROUNDING 0
#endif

#if FS_DETECTOR_AUTOENCODER
/* A layer's output stage, read once per layer (int8 stores may alias the descriptor's fields). */
typedef struct {
    const int32_t *mult;
    const int32_t *shift;
    int32_t out_offset;
    int32_t act_min;
    int32_t act_max;
} out_stage;

static inline out_stage out_stage_of(const fs_dense_layer *L)
{
    out_stage q;
    q.mult = L->mult;
    q.shift = L->shift;
    q.out_offset = L->out_offset;
    q.act_min = L->act_min;
    q.act_max = L->act_max;
    return q;
}

/* One output: requantised, offset, clamped to the activation range. */
static inline int8_t requantize(const out_stage *q, uint32_t o, int32_t acc)
{
    int32_t v;
#if FS_SINGLE_ROUNDING
    v = fs_multiply_by_quantized_multiplier_single(acc, q->mult[o], q->shift[o]) + q->out_offset;
#else
    v = mbqm(acc, q->mult[o], q->shift[o]) + q->out_offset;
#endif
    if (v < q->act_min) {
        v = q->act_min;
    } else if (v > q->act_max) {
        v = q->act_max;
    }
    return (int8_t)v;
}

#if defined(__ARM_FEATURE_DSP)
/* Cortex-M4 (DSP extension): several output rows at a time, four inputs per step. A word of four int8
 * values b0..b3 splits into the halfword pairs (b0, b2) = SXTB16(w) and (b1, b3) = SXTB16(w ror 8);
 * SMLAD adds both products of a pair to the accumulator, as CMSIS-NN's int8 kernels do. Integer
 * arithmetic is exact, so the result equals the portable loop's. */
#include <arm_acle.h>
#include <string.h>

static uint32_t read_s8x4(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v); /* a single (unaligned) LDR on the Cortex-M4 */
    return v;
}

/* SXTB16 of the word rotated by 8 bits: the odd bytes (b1, b3); one instruction (GCC does not fuse
 * a C rotation into SXTB16's rotate field). */
static uint32_t sxtb16_ror8(uint32_t v)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

static void dense(const fs_dense_layer *L, const int8_t *x, int8_t *y)
{
    const out_stage q = out_stage_of(L);
    const uint32_t n = L->in_dim, n4 = n & ~3u;
    const int8_t *x_end = x + n4;
    uint32_t o = 0, i;
    if (L->in_offset == 0) {
        /* Generated tables fold in_offset * sum(w) into the bias: a plain int8 x int8 MAC. Three
         * rows at a time share each word of inputs (three keep every value in a register). */
        for (; o + 3u <= L->out_dim; o += 3u) {
            const int8_t *w0 = L->w + o * n, *w1 = w0 + n, *w2 = w1 + n, *xp = x;
            int32_t a0 = L->bias[o], a1 = L->bias[o + 1u], a2 = L->bias[o + 2u];
            while (xp != x_end) {
                uint32_t xv = read_s8x4(xp), x02 = __sxtb16(xv), x13 = sxtb16_ror8(xv), v;
                xp += 4;
                v = read_s8x4(w0);
                w0 += 4;
                a0 = __smlad(__sxtb16(v), x02, a0);
                a0 = __smlad(sxtb16_ror8(v), x13, a0);
                v = read_s8x4(w1);
                w1 += 4;
                a1 = __smlad(__sxtb16(v), x02, a1);
                a1 = __smlad(sxtb16_ror8(v), x13, a1);
                v = read_s8x4(w2);
                w2 += 4;
                a2 = __smlad(__sxtb16(v), x02, a2);
                a2 = __smlad(sxtb16_ror8(v), x13, a2);
            }
            for (i = n4; i < n; i++) {
                a0 += (int32_t)w0[i - n4] * x[i];
                a1 += (int32_t)w1[i - n4] * x[i];
                a2 += (int32_t)w2[i - n4] * x[i];
            }
            y[o] = requantize(&q, o, a0);
            y[o + 1u] = requantize(&q, o + 1u, a1);
            y[o + 2u] = requantize(&q, o + 2u, a2);
        }
        for (; o < L->out_dim; o++) {
            const int8_t *w = L->w + o * n, *xp = x;
            int32_t acc = L->bias[o];
            while (xp != x_end) {
                uint32_t xv = read_s8x4(xp), v = read_s8x4(w);
                xp += 4;
                w += 4;
                acc = __smlad(__sxtb16(v), __sxtb16(xv), acc);
                acc = __smlad(sxtb16_ror8(v), sxtb16_ror8(xv), acc);
            }
            for (i = n4; i < n; i++) {
                acc += (int32_t)w[i - n4] * x[i];
            }
            y[o] = requantize(&q, o, acc);
        }
        return;
    }
    for (; o < L->out_dim; o++) {
        const int8_t *w = L->w + o * n;
        int32_t acc = L->bias[o];
        for (i = 0; i < n; i++) {
            acc += (int32_t)w[i] * ((int32_t)x[i] + L->in_offset);
        }
        y[o] = requantize(&q, o, acc);
    }
}
#else
static void dense(const fs_dense_layer *L, const int8_t *x, int8_t *y)
{
    const out_stage q = out_stage_of(L);
    uint32_t o, i;
    for (o = 0; o < L->out_dim; o++) {
        const int8_t *w = L->w + (uint32_t)o * L->in_dim;
        int32_t acc = L->bias[o];
        if (L->in_offset == 0) {
            /* Generated tables fold in_offset * sum(w) into the bias: a plain int8 x int8 MAC. */
            for (i = 0; i < L->in_dim; i++) {
                acc += (int32_t)w[i] * (int32_t)x[i];
            }
        } else {
            for (i = 0; i < L->in_dim; i++) {
                acc += (int32_t)w[i] * ((int32_t)x[i] + L->in_offset);
            }
        }
        y[o] = requantize(&q, o, acc);
    }
}
#endif

void fs_model_invoke(fs_state *s, const int8_t *q, int8_t *out)
{
    uint32_t l;
    const int8_t *x = q;
    for (l = 0; l < FS_N_LAYERS; l++) {
        int8_t *y = (l + 1 == FS_N_LAYERS) ? out : s->act[l & 1u];
        dense(&fs_layers[l], x, y);
        x = y;
    }
}

int64_t fs_window_score(fs_state *s, const int8_t *q)
{
    /* Reconstruction error on the output grid: d_i = (out_i - zp_out) - requant(q_i - zp_in). */
    int8_t *out = s->qout;
    int64_t sum = 0;
    uint32_t i;
    fs_model_invoke(s, q, out);
    for (i = 0; i < FS_DIM; i++) {
        int32_t in_on_out = fs_in_on_out[(int32_t)q[i] + 128]; /* requant(q_i - zp_in), tabulated */
        int32_t d = ((int32_t)out[i] - FS_OUT_ZERO_POINT) - in_on_out;
        sum += (int64_t)d * d;
    }
    return sum;
}
#else
int64_t fs_window_score(fs_state *s, const int8_t *q)
{
    /* Squared Euclidean distance (input-grid steps) to the nearest quantised centroid. */
    int64_t best = -1;
    uint32_t c, i;
    (void)s;
    for (c = 0; c < FS_N_CLUSTERS; c++) {
        const int8_t *mu = fs_centroids + (uint32_t)c * FS_DIM;
        int64_t d2 = 0;
        for (i = 0; i < FS_DIM; i++) {
            int32_t d = (int32_t)q[i] - (int32_t)mu[i];
            d2 += (int64_t)(d * d);
        }
        if (best < 0 || d2 < best) {
            best = d2;
        }
    }
    return best;
}
#endif
