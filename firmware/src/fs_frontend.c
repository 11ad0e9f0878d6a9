/* Log-mel front end matching pipeline/features.py: periodic Hann window,
 * |rfft|^power, sparse mel filterbank, (20/power) log10(mel + eps); and the
 * per-feature input quantisation (standardisation folded in) of both front ends. */
#include <math.h>
#include "fs_runtime.h"
#include "fs_quant.h"

#if !FS_FEATURE_VIBRATION
void fs_frame_features(fs_state *s, const float *samples, float *out)
{
    uint32_t i, m;
    fs_rfft_windowed(samples, fs_window, s->fft);
    fs_split_power(s->fft, s->power);
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
        for (i = 0; i + 4u <= len; i += 4u) { /* four weights per step, summed in order */
            acc += wt[i] * p[i];
            acc += wt[i + 1u] * p[i + 1u];
            acc += wt[i + 2u] * p[i + 2u];
            acc += wt[i + 3u] * p[i + 3u];
        }
        for (; i < len; i++) {
            acc += wt[i] * p[i];
        }
        out[m] = FS_DB_SCALE * fs_log10(acc + FS_LOG_EPS);
    }
}
#endif

void fs_quantize(const float *x, int8_t *q)
{
    uint32_t i;
    for (i = 0; i < FS_DIM; i++) {
        q[i] = fs_quantize_one(x[i], fs_q_gain[i], fs_q_bias[i]);
    }
}
