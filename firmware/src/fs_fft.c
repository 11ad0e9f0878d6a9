/* Real FFT: a complex FFT of n/2 points on the even/odd-interleaved
 * input, then the split step. Twiddles come from the generated table
 * fs_twiddle[2k] = cos(2 pi k / n), fs_twiddle[2k+1] = sin(2 pi k / n), k < n/2.
 *
 * After the first stage, the decimation-in-time stages run two at a time
 * (radix 4 on the radix-2 bit-reversed order): each point is loaded and stored
 * once per pair of stages, with three complex multiplications per four points.
 * The windowed transform fuses the window, the bit reversal and the first
 * stage into one pass over the samples. */
#include "fs_runtime.h"

/* Each pass of stage4 is compiled for its span (constant offsets, fewer pointers). */
#if defined(__GNUC__)
#define FS_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FS_ALWAYS_INLINE inline
#endif

#define FS_M (FS_N_FFT / 2)
#define FS_LOG2_M (FS_LOG2_N_FFT - 1)
#if FS_N_FFT > 262144
#error "later_stages() has passes for FFTs of up to 262144 samples"
#endif

/* Index i (< FS_M) with its FS_LOG2_M bits reversed. */
static uint32_t reverse_bits(uint32_t i)
{
#if defined(__ARM_FEATURE_DSP) && FS_LOG2_M > 0
    uint32_t r;
    __asm__("rbit %0, %1" : "=r"(r) : "r"(i)); /* one instruction on the Cortex-M4 */
    return r >> (32 - FS_LOG2_M);
#else
    uint32_t r = 0, b;
    for (b = 0; b < FS_LOG2_M; b++) {
        r = (r << 1) | ((i >> b) & 1u);
    }
    return r;
#endif
}

static void bit_reverse(float *a)
{
    uint32_t i;
    for (i = 0; i < FS_M; i++) {
        uint32_t j = reverse_bits(i);
        if (i < j) {
            float tr = a[2 * i], ti = a[2 * i + 1];
            a[2 * i] = a[2 * j];
            a[2 * i + 1] = a[2 * j + 1];
            a[2 * j] = tr;
            a[2 * j + 1] = ti;
        }
    }
}

/* (tr, ti) = W z for W = c - i s, (c, s) = (cos, sin) from the table: (c zr + s zi, c zi - s zr),
 * bit for bit what multiplying by (c, -s) gives (negation is exact). */
#define FS_CMUL(c, s, zr, zi, tr, ti) \
    do {                              \
        (tr) = (c) * (zr) + (s) * (zi); \
        (ti) = (c) * (zi) - (s) * (zr); \
    } while (0)

/* One radix-2 stage of butterflies of span `half` (groups of 2 half points). */
static void stage2(float *a, uint32_t half)
{
    uint32_t i, j, tw_step = FS_N_FFT / (2u * half);
    for (i = 0; i < FS_M; i += 2u * half) {
        float *p = a + 2 * i, *q = a + 2 * (i + half);
        float tr = q[0], ti = q[1];
        q[0] = p[0] - tr;
        q[1] = p[1] - ti;
        p[0] += tr;
        p[1] += ti;
    }
    for (j = 1; j < half; j++) {
        const float wc = fs_twiddle[2 * j * tw_step], ws = fs_twiddle[2 * j * tw_step + 1];
        for (i = j; i < FS_M; i += 2u * half) {
            float *p = a + 2 * i, *q = a + 2 * (i + half);
            float tr, ti;
            FS_CMUL(wc, ws, q[0], q[1], tr, ti);
            q[0] = p[0] - tr;
            q[1] = p[1] - ti;
            p[0] += tr;
            p[1] += ti;
        }
    }
}

/* Twiddle e^{-2 pi i m / n} as (cos, sin) for 0 <= m < n: the table covers m < n/2, and
 * e^{-2 pi i (m + n/2) / n} = -e^{-2 pi i m / n}. */
static FS_ALWAYS_INLINE void twiddle(uint32_t m, float *c, float *s)
{
    if (m < FS_M) {
        *c = fs_twiddle[2 * m];
        *s = fs_twiddle[2 * m + 1];
    } else {
        *c = -fs_twiddle[2 * (m - FS_M)];
        *s = -fs_twiddle[2 * (m - FS_M) + 1];
    }
}

/* Radix-4 butterfly of t0, t2, t1, t3 (already multiplied by their twiddles) into pa..pd:
 * q = 0: u0 + u2, q = 1: u1 - i u3, q = 2: u0 - u2, q = 3: u1 + i u3, with u0 = t0 + t2,
 * u1 = t0 - t2, u2 = t1 + t3, u3 = t1 - t3. */
static FS_ALWAYS_INLINE void radix4(float *pa, float *pb, float *pc, float *pd, float t0r, float t0i,
                                    float t2r, float t2i, float t1r, float t1i, float t3r, float t3i)
{
    float u0r = t0r + t2r, u0i = t0i + t2i, u1r = t0r - t2r, u1i = t0i - t2i;
    float u2r = t1r + t3r, u2i = t1i + t3i, u3r = t1r - t3r, u3i = t1i - t3i;
    pa[0] = u0r + u2r;
    pa[1] = u0i + u2i;
    pc[0] = u0r - u2r;
    pc[1] = u0i - u2i;
    pb[0] = u1r + u3i;
    pb[1] = u1i - u3r;
    pd[0] = u1r - u3i;
    pd[1] = u1i + u3r;
}

/* Two stages at once (radix 4), spans h and 2h, on groups of 4h points. In bit-reversed order the
 * points at offsets 0, h, 2h, 3h of a group hold the size-h transforms of the samples 4t + r for
 * r = 0, 2, 1, 3; with W = e^{-2 pi i / 4h}, t_r = W^{r j} times them, output q (offset q h) is
 * sum_r (-i)^{r q} t_r: three complex multiplications per four points instead of four. */
static FS_ALWAYS_INLINE void stage4(float *a, uint32_t h)
{
    const uint32_t step = FS_N_FFT / (4u * h); /* table index of W^1 */
    uint32_t i, j;
    for (i = 0; i < FS_M; i += 4u * h) { /* j = 0: every W^{r j} = 1 */
        float *pa = a + 2 * i, *pb = pa + 2 * h, *pc = pb + 2 * h, *pd = pc + 2 * h;
        radix4(pa, pb, pc, pd, pa[0], pa[1], pb[0], pb[1], pc[0], pc[1], pd[0], pd[1]);
    }
    for (j = 1; j < h; j++) {
        float c1, s1, c2, s2, c3, s3;
        twiddle(j * step, &c1, &s1);
        twiddle(2u * j * step, &c2, &s2);
        twiddle(3u * j * step, &c3, &s3);
        for (i = j; i < FS_M; i += 4u * h) {
            float *pa = a + 2 * i, *pb = pa + 2 * h, *pc = pb + 2 * h, *pd = pc + 2 * h;
            float t1r, t1i, t2r, t2i, t3r, t3i;
            FS_CMUL(c2, s2, pb[0], pb[1], t2r, t2i);
            FS_CMUL(c1, s1, pc[0], pc[1], t1r, t1i);
            FS_CMUL(c3, s3, pd[0], pd[1], t3r, t3i);
            radix4(pa, pb, pc, pd, pa[0], pa[1], t2r, t2i, t1r, t1i, t3r, t3i);
        }
    }
}

/* The butterfly stages after the first (span 1) of the complex FFT of FS_M points in bit-reversed
 * order: spans 2 and 4, 8 and 16, ... two at a time, and a last radix-2 stage when their number is
 * odd. */
static void later_stages(float *a)
{
#define FS_PASS(h)                      \
    if (4u * (h) <= FS_M) {             \
        stage4(a, (h));                 \
    } else if ((h) < FS_M) {            \
        stage2(a, (h));                 \
    }
    FS_PASS(2u)
    FS_PASS(8u)
    FS_PASS(32u)
    FS_PASS(128u)
    FS_PASS(512u)
    FS_PASS(2048u)
    FS_PASS(8192u)
    FS_PASS(32768u)
#undef FS_PASS
}

/* In-place complex FFT of FS_M interleaved points (forward, e^{-i...}). */
void fs_cfft_half(float *a)
{
    bit_reverse(a);
    stage2(a, 1);
    later_stages(a);
}

/* Window input points i and i + M/2 (x and w point at point i), store their span-1 butterfly (W = 1)
 * at bit-reversed positions j and j + 1 (in bit-reversed order they are neighbours). */
static FS_ALWAYS_INLINE void load_pair(const float *x, const float *w, float *p)
{
    float pr = x[0] * w[0], pi = x[1] * w[1];
    float qr = x[FS_M] * w[FS_M], qi = x[FS_M + 1] * w[FS_M + 1];
    p[2] = pr - qr;
    p[3] = pi - qi;
    p[0] = pr + qr;
    p[1] = pi + qi;
}

void fs_rfft_windowed(const float *x, const float *w, float *buf)
{
    uint32_t i;
    for (i = 0; i < FS_M / 2; i += 2u) { /* FS_M / 2 is even (n_fft >= 8) */
        load_pair(x + 2 * i, w + 2 * i, buf + 2 * reverse_bits(i));
        load_pair(x + 2 * i + 2, w + 2 * i + 2, buf + 2 * reverse_bits(i + 1u));
    }
    later_stages(buf);
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

void fs_split_power(const float *z, float *p)
{
    /* fs_rfft's E and O without their factor 1/2, so X' = 2 X and |X|^2 = |X'|^2 / 4: scaling by a
     * power of two commutes with every rounding, so the powers are bit for bit fs_rfft's squared. */
    uint32_t k;
    p[0] = (z[0] + z[1]) * (z[0] + z[1]);
    p[FS_M] = (z[0] - z[1]) * (z[0] - z[1]);
    for (k = 1; k <= FS_M / 2; k++) {
        uint32_t m = FS_M - k;
        float ar = z[2 * k], ai = z[2 * k + 1];
        float br = z[2 * m], bi = z[2 * m + 1];
        float er = ar + br, ei = ai - bi, or_ = ai + bi, oi = br - ar;
        float tr, ti, xr, xi, yr, yi;
        FS_CMUL(fs_twiddle[2 * k], fs_twiddle[2 * k + 1], or_, oi, tr, ti);
        xr = er + tr;
        xi = ei + ti;
        yr = er - tr;
        yi = ei - ti; /* X[M - k] = conj(E - W^k O): the sign of its imaginary part drops out */
        p[m] = 0.25f * (yr * yr + yi * yi);
        p[k] = 0.25f * (xr * xr + xi * xi); /* last: at k = M/2 (m = k) the bin is X[k], as in fs_rfft */
    }
}
