/* Streaming clip processing: framing, frame stacking, window scores, the N-of-M
 * alarm, mean aggregation and the clip's threshold decision (for either front end). */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "fs_runtime.h"
#include "fs_quant.h"

static fs_window_hook g_hook;
static void *g_hook_ctx;

void fs_set_window_hook(fs_window_hook hook, void *ctx)
{
    g_hook = hook;
    g_hook_ctx = ctx;
}

void fs_clip_begin(fs_state *s)
{
    memset(s->frame, 0, sizeof s->frame);
    /* center=True: the clip is zero-padded by n_fft/2 at the start (pre-filled zeros). */
    s->filled = FS_CENTER ? (FS_N_FFT / 2) : 0u;
    s->n_frames_seen = 0;
    s->n_windows = 0;
    s->alarm_hist = 0;
    s->alarm_count = 0;
    s->alarm = 0;
    s->alarm_events = 0;
    s->first_alarm = -1;
    s->sum_int = 0;
    s->sum_real = 0.0;
}

int fs_alarm(const fs_state *s)
{
    return (int)s->alarm;
}

/* N-of-M alarm: shift the window's flag into the history, the flag of FS_ALARM_M windows ago out. */
static void update_alarm(fs_state *s, uint32_t flag)
{
    uint32_t leaving = (s->alarm_hist >> (FS_ALARM_M - 1)) & 1u;
    uint32_t now;
#if FS_ALARM_M < 32
    s->alarm_hist = ((s->alarm_hist << 1) | flag) & ((1u << FS_ALARM_M) - 1u);
#else
    s->alarm_hist = (s->alarm_hist << 1) | flag;
#endif
    s->alarm_count = s->alarm_count + flag - leaving;
    now = s->alarm_count >= FS_ALARM_N ? 1u : 0u;
    if (now && !s->alarm) {
        s->alarm_events++;
        if (s->first_alarm < 0) {
            s->first_alarm = (int32_t)s->n_windows;
        }
    }
    s->alarm = now;
}

static void score_vector(fs_state *s, const int8_t *q)
{
    int64_t w = fs_window_score(s, q);
    uint32_t flag;
#if FS_DETECTOR_AUTOENCODER
    s->sum_int += w;
    flag = w > FS_THRESHOLD_INT ? 1u : 0u;
#else
    {
        float d = sqrtf((float)w);
        s->sum_real += (double)d;
        flag = (double)d > FS_THRESHOLD_REAL ? 1u : 0u;
    }
#endif
    update_alarm(s, flag);
    s->n_windows++;
    if (g_hook != NULL) {
        g_hook(g_hook_ctx, s, w);
    }
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
