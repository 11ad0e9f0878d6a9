/* Log-mel front end matching pipeline/features.py: periodic Hann window,
 * |rfft|^power, sparse mel filterbank, (20/power) log10(mel + eps); and the
 * per-feature input quantisation (standardisation folded in) of both front ends. */
#include <math.h>
#include "fs_runtime.h"

#if !FS_FEATURE_VIBRATION
void fs_frame_features(fs_state *s, const float *samples, float *out)
{
    uint32_t i, m;
    for (i = 0; i < FS_N_FFT; i++) {
        s->fft[i] = samples[i] * fs_window[i];
    }
    fs_rfft(s->fft);
    s->power[0] = s->fft[0] * s->fft[0];
    s->power[FS_N_FFT / 2] = s->fft[1] * s->fft[1];
    for (i = 1; i < FS_N_FFT / 2; i++) {
        float re = s->fft[2 * i], im = s->fft[2 * i + 1];
        s->power[i] = re * re + im * im;
    }
#if !FS_POWER_IS_2
    for (i = 0; i <= FS_N_FFT / 2; i++) {
        s->power[i] = powf(sqrtf(s->power[i]), FS_POWER);
    }
#endif
    for (m = 0; m < FS_N_MELS; m++) {
        const float *wt = fs_mel_weights + fs_mel_offset[m];
        const float *p = s->power + fs_mel_start[m];
        uint32_t len = fs_mel_len[m];
        float acc = 0.0f;
        for (i = 0; i < len; i++) {
            acc += wt[i] * p[i];
        }
        out[m] = FS_DB_SCALE * log10f(acc + FS_LOG_EPS);
    }
}
#endif

void fs_quantize(const float *x, int8_t *q)
{
    uint32_t i;
    for (i = 0; i < FS_DIM; i++) {
        float v = floorf(x[i] * fs_q_gain[i] + fs_q_bias[i] + 0.5f);
        if (v < -128.0f) {
            v = -128.0f;
        } else if (v > 127.0f) {
            v = 127.0f;
        }
        q[i] = (int8_t)v;
    }
}
