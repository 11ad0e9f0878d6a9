/* int8 dense layers with TFLite reference-kernel quantisation semantics, and
 * the per-window scores (autoencoder reconstruction error, k-means distance). */
#include "fs_runtime.h"

static int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudge;
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates toward zero */
}

static int32_t rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t fs_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul((int32_t)((uint32_t)x << left), multiplier), right);
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
static void dense(const fs_dense_layer *L, const int8_t *x, int8_t *y)
{
    uint32_t o, i;
    for (o = 0; o < L->out_dim; o++) {
        const int8_t *w = L->w + (uint32_t)o * L->in_dim;
        int32_t acc = L->bias[o];
        int32_t v;
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
#if FS_SINGLE_ROUNDING
        v = fs_multiply_by_quantized_multiplier_single(acc, L->mult[o], L->shift[o]) + L->out_offset;
#else
        v = fs_multiply_by_quantized_multiplier(acc, L->mult[o], L->shift[o]) + L->out_offset;
#endif
        if (v < L->act_min) {
            v = L->act_min;
        } else if (v > L->act_max) {
            v = L->act_max;
        }
        y[o] = (int8_t)v;
    }
}

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
        int32_t in_on_out = fs_multiply_by_quantized_multiplier((int32_t)q[i] - FS_IN_ZERO_POINT,
                                                                 FS_IN_TO_OUT_MULT, FS_IN_TO_OUT_SHIFT);
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
