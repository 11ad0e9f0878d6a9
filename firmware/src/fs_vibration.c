/* Vibration front end matching pipeline/vibration_features.py, per frame of
 * FS_N_FFT acceleration samples (g):
 *   FS_N_BANDS spectral band levels: 10 log10(mean Hann-windowed power bin + eps);
 *   FS_N_ENV_BANDS squared-envelope spectrum band levels (analytic signal of the
 *   bins FS_ENV_LO..FS_ENV_HI, |.|^2, mean removed, Hann-windowed power);
 *   RMS 20 log10(rms + eps), kurtosis m4 / m2^2, crest factor max|x - mean| / rms.
 * One real FFT of the mean-removed frame gives both the spectral bands and the
 * analytic signal: the Hann-windowed spectrum is the 3-tap convolution
 * 0.5 X[k] - 0.25 (X[k-1] + X[k+1]) of the plain one (periodic Hann, exact).
 * The analytic signal costs one more n/2-point FFT when the demodulation band
 * is every bin but DC and Nyquist (FS_ENV_FULL), else two. */
#include <math.h>
#include "fs_runtime.h"

#if FS_FEATURE_VIBRATION

#define FS_M (FS_N_FFT / 2)

/* Hann-windowed power |Xw[k]|^2, k = 0..n/2, of the packed real-FFT output X (fs_rfft). */
static void windowed_power(const float *X, float *p)
{
    uint32_t k;
    float re, im;
    /* X[-1] = conj X[1] and X[n/2 + 1] = conj X[n/2 - 1]: the edge bins are real. */
    re = 0.5f * X[0] - 0.5f * X[2];
    p[0] = re * re;
    re = 0.5f * X[1] - 0.5f * X[2 * (FS_M - 1)];
    p[FS_M] = re * re;
    re = 0.5f * X[2] - 0.25f * (X[0] + X[4]);
    im = 0.5f * X[3] - 0.25f * X[5];
    p[1] = re * re + im * im;
    for (k = 2; k < FS_M - 1; k++) {
        re = 0.5f * X[2 * k] - 0.25f * (X[2 * k - 2] + X[2 * k + 2]);
        im = 0.5f * X[2 * k + 1] - 0.25f * (X[2 * k - 1] + X[2 * k + 3]);
        p[k] = re * re + im * im;
    }
    re = 0.5f * X[2 * (FS_M - 1)] - 0.25f * (X[2 * (FS_M - 2)] + X[1]);
    im = 0.5f * X[2 * (FS_M - 1) + 1] - 0.25f * X[2 * (FS_M - 2) + 1];
    p[FS_M - 1] = re * re + im * im;
}

/* 10 log10(sum / width + eps) of p over each band [edges[b], edges[b + 1]); as
 * pipeline/vibration_features.py (numpy's reduceat), the last band's sum runs on to
 * the Nyquist bin while its width stays edges[n] - edges[n - 1]. */
static void band_levels(const float *p, const uint16_t *edges, uint32_t n_bands, float *out)
{
    uint32_t b, k;
    for (b = 0; b < n_bands; b++) {
        uint32_t stop = b + 1 < n_bands ? edges[b + 1] : FS_M + 1u;
        float acc = 0.0f;
        for (k = edges[b]; k < stop; k++) {
            acc += p[k];
        }
        out[b] = 10.0f * fs_log10(acc / (float)(edges[b + 1] - edges[b]) + FS_LOG_EPS);
    }
}

void fs_frame_features(fs_state *s, const float *samples, float *out)
{
    float *buf = s->fft;
    float *aux = s->aux;
    float mean = 0.0f, m2 = 0.0f, m4 = 0.0f, peak = 0.0f, rms, mean_env;
    uint32_t i, k;

    /* Mean-removed frame and its moments. */
    for (i = 0; i < FS_N_FFT; i++) {
        mean += samples[i];
    }
    mean /= (float)FS_N_FFT;
    for (i = 0; i < FS_N_FFT; i++) {
        float c = samples[i] - mean;
        float c2 = c * c;
        float a = fabsf(c);
        buf[i] = c;
        m2 += c2;
        m4 += c2 * c2;
        if (a > peak) {
            peak = a;
        }
    }
    m2 /= (float)FS_N_FFT;
    m4 /= (float)FS_N_FFT;
    rms = sqrtf(m2);

    /* Spectral bands. */
    fs_rfft(buf);
    windowed_power(buf, aux);
    band_levels(aux, fs_band_edges, FS_N_BANDS, out);

#if FS_ENV_FULL
    /* Every bin but DC and Nyquist kept: the analytic signal's real part is the frame less those two
     * bins, u[t] = c[t] - (X[0] + X[n/2] (-1)^t) / n; its imaginary part v is the real inverse FFT
     * of V[k] = -i X[k] (k = 1..n/2-1), through the split step inverted and one n/2-point FFT. */
    for (k = 0; k < FS_M; k++) {
        uint32_t m = FS_M - k;
        /* V[k] = -i X[k] = (Xi, -Xr); V[0] = V[n/2] = 0. */
        float vr = k == 0u ? 0.0f : buf[2 * k + 1], vi = k == 0u ? 0.0f : -buf[2 * k];
        float wr = k == 0u ? 0.0f : buf[2 * m + 1], wi = k == 0u ? 0.0f : -buf[2 * m]; /* V[n/2 - k] */
        float er = 0.5f * (vr + wr), ei = 0.5f * (vi - wi);                         /* (V[k] + conj V[n/2-k]) / 2 */
        float dr = 0.5f * (vr - wr), di = 0.5f * (vi + wi);                         /* (V[k] - conj V[n/2-k]) / 2 */
        float c = fs_twiddle[2 * k], sn = fs_twiddle[2 * k + 1];
        float or_ = dr * c - di * sn, oi = dr * sn + di * c;                       /* times e^{2 pi i k / n} */
        aux[2 * k] = er - oi;                                                        /* conj(E + i O) */
        aux[2 * k + 1] = -(ei + or_);
    }
    fs_cfft_half(aux);
    {
        float dc = buf[0] * FS_INV_N, nyq = buf[1] * FS_INV_N, inv_m = 2.0f * FS_INV_N;
        mean_env = 0.0f;
        for (k = 0; k < FS_M; k++) {
            float u0 = (samples[2 * k] - mean) - (dc + nyq), u1 = (samples[2 * k + 1] - mean) - (dc - nyq);
            float v0 = aux[2 * k] * inv_m, v1 = aux[2 * k + 1] * inv_m;
            buf[2 * k] = u0 * u0 + v0 * v0;
            buf[2 * k + 1] = u1 * u1 + v1 * v1;
            mean_env += buf[2 * k] + buf[2 * k + 1];
        }
    }
#else
    /* Analytic signal of the demodulation band, a[t] = (1/n) sum_k Y[k] e^{2 pi i k t / n} with
     * Y[k] = 2 X[k] on the kept bins: even samples t = 2u are an n/2-point transform of Y, odd
     * ones of Y[k] e^{2 pi i k / n}; forward FFTs of the conjugates give the same magnitudes. */
    buf[0] = 0.0f; /* X[0] and X[n/2] are never kept */
    buf[1] = 0.0f;
    aux[0] = 0.0f;
    aux[1] = 0.0f;
    for (k = 1; k < FS_M; k++) {
        float yr = 0.0f, yi = 0.0f;
        if (k >= FS_ENV_LO && k <= FS_ENV_HI) {
            yr = 2.0f * buf[2 * k];
            yi = 2.0f * buf[2 * k + 1];
        }
        {
            float c = fs_twiddle[2 * k], sn = fs_twiddle[2 * k + 1];
            aux[2 * k] = yr * c - yi * sn;
            aux[2 * k + 1] = -(yr * sn + yi * c);
        }
        buf[2 * k] = yr;
        buf[2 * k + 1] = -yi;
    }
    fs_cfft_half(buf);
    fs_cfft_half(aux);
    mean_env = 0.0f;
    for (k = 0; k < FS_M; k++) {
        float e = (buf[2 * k] * buf[2 * k] + buf[2 * k + 1] * buf[2 * k + 1]) * FS_ENV_SCALE;
        float o = (aux[2 * k] * aux[2 * k] + aux[2 * k + 1] * aux[2 * k + 1]) * FS_ENV_SCALE;
        buf[2 * k] = e;
        buf[2 * k + 1] = o;
        mean_env += e + o;
    }
#endif
    mean_env /= (float)FS_N_FFT;
    for (i = 0; i < FS_N_FFT; i++) {
        buf[i] -= mean_env;
    }

    /* Envelope-spectrum bands. */
    fs_rfft(buf);
    windowed_power(buf, aux);
    band_levels(aux, fs_env_edges, FS_N_ENV_BANDS, out + FS_N_BANDS);

    out[FS_N_BANDS + FS_N_ENV_BANDS] = 20.0f * fs_log10(rms + FS_LOG_EPS);
    {
        float m2e = m2 > FS_LOG_EPS ? m2 : FS_LOG_EPS;
        float rmse = rms > FS_LOG_EPS ? rms : FS_LOG_EPS;
        out[FS_N_BANDS + FS_N_ENV_BANDS + 1] = m2 > 0.0f ? m4 / (m2e * m2e) : 0.0f;
        out[FS_N_BANDS + FS_N_ENV_BANDS + 2] = rms > 0.0f ? peak / rmse : 0.0f;
    }
}

#else
typedef int fs_vibration_not_built; /* log-mel build: an ISO C translation unit may not be empty */
#endif
