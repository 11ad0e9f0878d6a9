/* Streaming clip processing: framing, frame stacking, window scores, mean
 * aggregation and the threshold decision (for either front end). */
#include <math.h>
#include <string.h>
#include "fs_runtime.h"
#include "fs_quant.h"

void fs_clip_begin(fs_state *s)
{
    memset(s->frame, 0, sizeof s->frame);
    /* center=True: the clip is zero-padded by n_fft/2 at the start (pre-filled zeros). */
    s->filled = FS_CENTER ? (FS_N_FFT / 2) : 0u;
    s->n_frames_seen = 0;
    s->n_windows = 0;
    s->sum_int = 0;
    s->sum_real = 0.0;
}

static void score_vector(fs_state *s, const int8_t *q)
{
    int64_t w = fs_window_score(s, q);
#if FS_DETECTOR_AUTOENCODER
    s->sum_int += w;
#else
    s->sum_real += (double)sqrtf((float)w);
#endif
    s->n_windows++;
}

void fs_clip_push_vector(fs_state *s, const float *x)
{
    fs_quantize(x, s->qin);
    score_vector(s, s->qin);
}

static void on_frame(fs_state *s)
{
    uint32_t slot = s->n_frames_seen % FS_N_FRAMES;
    fs_frame_features(s, s->frame, s->feat[slot]);
    s->n_frames_seen++;
    if (s->n_frames_seen >= FS_N_FRAMES) {
        /* Vector: frames t .. t+n_frames-1, frame-major (element j*frame_dim + m). */
        uint32_t oldest = s->n_frames_seen % FS_N_FRAMES;
        uint32_t j, m;
        for (j = 0; j < FS_N_FRAMES; j++) {
            const float *f = s->feat[(oldest + j) % FS_N_FRAMES];
            for (m = 0; m < FS_FRAME_DIM; m++) {
                uint32_t k = j * FS_FRAME_DIM + m;
                s->qin[k] = fs_quantize_one(f[m], fs_q_gain[k], fs_q_bias[k]);
            }
        }
        score_vector(s, s->qin);
    }
}

void fs_clip_push(fs_state *s, const float *samples, uint32_t n)
{
    while (n > 0u) {
        uint32_t take = FS_N_FFT - s->filled;
        if (take > n) {
            take = n;
        }
        memcpy(s->frame + s->filled, samples, take * sizeof(float));
        s->filled += take;
        samples += take;
        n -= take;
        if (s->filled == FS_N_FFT) {
            on_frame(s);
            memmove(s->frame, s->frame + FS_HOP, (FS_N_FFT - FS_HOP) * sizeof(float));
            s->filled = FS_N_FFT - FS_HOP;
        }
    }
}

int fs_clip_end(fs_state *s, double *score)
{
#if FS_CENTER
    {
        /* Zero-pad n_fft/2 samples at the end, as center=True does. */
        static const float zeros[FS_N_FFT / 2] = {0.0f};
        fs_clip_push(s, zeros, FS_N_FFT / 2);
    }
#endif
    if (s->n_windows == 0u) {
        *score = 0.0;
        return -1;
    }
#if FS_DETECTOR_AUTOENCODER
    *score = (double)s->sum_int / (double)s->n_windows;
    return s->sum_int > FS_THRESHOLD_INT * (int64_t)s->n_windows ? 1 : 0;
#else
    *score = s->sum_real / (double)s->n_windows;
    return s->sum_real > FS_THRESHOLD_REAL * (double)s->n_windows ? 1 : 0;
#endif
}
