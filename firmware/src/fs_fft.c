/* Radix-2 real FFT: a complex FFT of n/2 points on the even/odd-interleaved
 * input, then the split step. Twiddles come from the generated table
 * fs_twiddle[2k] = cos(2 pi k / n), fs_twiddle[2k+1] = sin(2 pi k / n), k < n/2. */
#include "fs_runtime.h"

#define FS_M (FS_N_FFT / 2)

static void bit_reverse(float *a)
{
    uint32_t i, j = 0;
    for (i = 0; i < FS_M; i++) {
        if (i < j) {
            float tr = a[2 * i], ti = a[2 * i + 1];
            a[2 * i] = a[2 * j];
            a[2 * i + 1] = a[2 * j + 1];
            a[2 * j] = tr;
            a[2 * j + 1] = ti;
        }
        {
            uint32_t bit = FS_M >> 1;
            while (bit != 0u && (j & bit) != 0u) {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
        }
    }
}

/* In-place complex FFT of FS_M interleaved points (forward, e^{-i...}). */
void fs_cfft_half(float *a)
{
    uint32_t len, i, j;
    bit_reverse(a);
    for (len = 2; len <= FS_M; len <<= 1) {
        uint32_t half = len >> 1;
        uint32_t tw_step = FS_N_FFT / len; /* twiddle index step in the n-point table */
        for (j = 0; j < half; j++) {
            float wr = fs_twiddle[2 * j * tw_step];
            float wi = -fs_twiddle[2 * j * tw_step + 1];
            for (i = j; i < FS_M; i += len) {
                float *p = a + 2 * i;
                float *q = a + 2 * (i + half);
                float tr = wr * q[0] - wi * q[1];
                float ti = wr * q[1] + wi * q[0];
                q[0] = p[0] - tr;
                q[1] = p[1] - ti;
                p[0] += tr;
                p[1] += ti;
            }
        }
    }
}

void fs_rfft(float *buf)
{
    uint32_t k;
    fs_cfft_half(buf);
    {
        float z0r = buf[0], z0i = buf[1];
        buf[0] = z0r + z0i; /* X[0] */
        buf[1] = z0r - z0i; /* X[n/2] */
    }
    for (k = 1; k <= FS_M / 2; k++) {
        uint32_t m = FS_M - k;
        float ar = buf[2 * k], ai = buf[2 * k + 1];  /* Z[k] */
        float br = buf[2 * m], bi = buf[2 * m + 1];  /* Z[M-k] */
        /* E = (Z[k] + conj Z[M-k]) / 2, O = (Z[k] - conj Z[M-k]) / (2i) */
        float er = 0.5f * (ar + br), ei = 0.5f * (ai - bi);
        float or_ = 0.5f * (ai + bi), oi = -0.5f * (ar - br);
        float wr = fs_twiddle[2 * k], wi = -fs_twiddle[2 * k + 1];
        float tr = wr * or_ - wi * oi, ti = wr * oi + wi * or_;
        /* X[k] = E + W^k O; X[M-k] = conj(E) + W^(M-k) conj-partner: conj(E - W^k O) */
        buf[2 * k] = er + tr;
        buf[2 * k + 1] = ei + ti;
        if (m != k) {
            buf[2 * m] = er - tr;
            buf[2 * m + 1] = -(ei - ti);
        }
    }
}
