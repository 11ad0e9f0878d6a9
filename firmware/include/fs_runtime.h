/* faultsynth C99 runtime: streaming front end (log-mel for sound, or vibration
 * features for accelerometers), int8 dense autoencoder or k-means scorer, clip
 * score aggregation (mean) and threshold decision.
 *
 * Streaming decisions: every window is flagged when its score exceeds the
 * threshold, and an N-of-M alarm (FS_ALARM_N of the last FS_ALARM_M windows)
 * holds its state between windows (pipeline/streaming.py is its mirror).
 *
 * No dynamic memory: all state lives in one fs_state (static storage is the
 * caller's choice). Model-specific sizes and tables come from the generated
 * header fs_params.h (pipeline/c_sources.py).
 *
 * Standardisation (mean/scale) is NOT in the TFLite graph: it is folded into the
 * per-feature input quantisation table of the C front end,
 *     q_i = clamp(floor(x_i * fs_q_gain[i] + fs_q_bias[i] + 0.5), -128, 127),
 * with x_i the raw feature value (log-mel dB, or a vibration feature), gain =
 * 1 / (scale_i * s_in) and bias = zero_point_in - mean_i * gain (float32).
 *
 * Input units: the log-mel front end takes audio samples at full scale +-1;
 * the vibration front end (FS_FEATURE_VIBRATION) takes acceleration in g, as
 * the model was trained on (features are levels in dB re 1 g^2 and ratios).
 */
#ifndef FS_RUNTIME_H
#define FS_RUNTIME_H

#include <stdint.h>
#include "fs_params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Streaming state of one clip. */
typedef struct {
    float frame[FS_N_FFT];            /* last n_fft samples, oldest first */
    float fft[FS_N_FFT];              /* windowed frame, then interleaved spectrum */
#if FS_FEATURE_VIBRATION
    float aux[FS_N_FFT];              /* odd samples of the analytic signal (n_fft/2 complex) */
#else
    float power[FS_N_FFT / 2 + 1];    /* |X|^power per bin */
#endif
    float feat[FS_N_FRAMES][FS_FRAME_DIM]; /* ring of the last n_frames per-frame feature rows */
    int8_t qin[FS_DIM];               /* quantised feature vector */
    int8_t act[2][FS_MAX_WIDTH];      /* ping-pong activations */
    int8_t qout[FS_DIM];              /* model output (autoencoder) */
    uint32_t filled;                  /* samples in frame[] (saturates at n_fft) */
    uint32_t since_hop;               /* samples since the last frame was taken */
    uint32_t n_frames_seen;           /* log-mel frames computed so far */
    uint32_t n_windows;               /* feature vectors scored so far */
    uint32_t alarm_hist;              /* window flags (score > threshold), newest in bit 0, last FS_ALARM_M */
    uint32_t alarm_count;             /* flags set in alarm_hist */
    uint32_t alarm;                   /* 1 while at least FS_ALARM_N of the last FS_ALARM_M windows are flagged */
    uint32_t alarm_events;            /* times the alarm turned on in this clip */
    int32_t first_alarm;              /* index of the first window in alarm, -1 while none */
    int64_t sum_int;                  /* autoencoder: sum of window scores (integer) */
    double sum_real;                  /* k-means: sum of window distances (quantisation steps) */
} fs_state;

/* --- building blocks (exposed for tests) --- */

/* In-place complex FFT (forward, e^{-i...}) of n/2 interleaved (re, im) points, n = FS_N_FFT. */
void fs_cfft_half(float *buf);

/* In-place real FFT of n = FS_N_FFT real samples. Output interleaved:
 * buf[0] = X[0].re, buf[1] = X[n/2].re, then (re, im) of X[k] for k = 1..n/2-1. */
void fs_rfft(float *buf);

/* Windowed real FFT, first half: buf[i] (interleaved, bit-reversed order) = x[i] * w[i], then the
 * butterflies; buf ends as the complex FFT Z of n/2 points that fs_rfft splits. Same values as
 * multiplying by the window and calling fs_cfft_half, without the separate passes. */
void fs_rfft_windowed(const float *x, const float *w, float *buf);

/* Split step of fs_rfft fused with |X[k]|^2: p[k], k = 0..n/2, from the half-size spectrum z of
 * fs_rfft_windowed (bit for bit the squares of fs_rfft's output). */
void fs_split_power(const float *z, float *p);

/* log10(x), within 1e-6 of the exact value for 1e-8 < x < 1e8 and about one float32 step beyond
 * (-inf at 0, NaN below 0 and for NaN, +inf at +inf); the front ends' levels use it instead of
 * libm's log10f, for the same result on every target. */
float fs_log10(float x);

/* Features of one frame of FS_N_FFT samples (oldest first) into out[FS_FRAME_DIM]:
 * log-mel: FS_N_MELS band levels (dB);
 * vibration: samples in g -> FS_N_BANDS spectral band levels, FS_N_ENV_BANDS
 * squared-envelope spectrum band levels (dB re 1 g^2), RMS (dB re 1 g),
 * kurtosis and crest factor (see pipeline/vibration_features.py). */
void fs_frame_features(fs_state *s, const float *samples, float *out);

/* Quantise one raw feature vector x[FS_DIM] into q[FS_DIM] (standardisation folded in). */
void fs_quantize(const float *x, int8_t *q);

/* TFLite fixed-point requantisation, double rounding (TFLM's reference kernels;
 * used by the model unless FS_SINGLE_ROUNDING=1, and always by the score). */
int32_t fs_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift);
/* The TFLITE_SINGLE_ROUNDING variant (what the LiteRT Python package computes);
 * the model uses it when compiled with -DFS_SINGLE_ROUNDING=1. */
int32_t fs_multiply_by_quantized_multiplier_single(int32_t x, int32_t multiplier, int32_t shift);

#if FS_DETECTOR_AUTOENCODER
/* int8 forward pass of the dense autoencoder: q[FS_DIM] -> out[FS_DIM]. */
void fs_model_invoke(fs_state *s, const int8_t *q, int8_t *out);
#endif

/* Score of one quantised vector: autoencoder -> integer sum of squared output-grid
 * errors; k-means -> squared distance (input-grid steps) to the nearest centroid. */
int64_t fs_window_score(fs_state *s, const int8_t *q);

/* --- streaming clip API --- */

/* Called after every scored window (optional; fs_set_window_hook(NULL, NULL) removes it): the
 * window's score (detector's integer domain: autoencoder sum of squared output-grid errors, k-means
 * squared distance in input-grid steps) and the state, whose alarm fields are already updated. */
typedef void (*fs_window_hook)(void *ctx, const fs_state *s, int64_t window_score);
void fs_set_window_hook(fs_window_hook hook, void *ctx);

void fs_clip_begin(fs_state *s);
/* Feed n mono samples at FS_SAMPLE_RATE: audio at full scale +-1 (log-mel), or
 * acceleration in g (vibration). */
void fs_clip_push(fs_state *s, const float *samples, uint32_t n);
/* Feed one raw feature vector directly (bypasses the front end). */
void fs_clip_push_vector(fs_state *s, const float *x);
/* Streaming decision: 1 while at least FS_ALARM_N of the last FS_ALARM_M windows exceed the
 * threshold (per window, in the same integer score domain as the clip threshold), else 0. */
int fs_alarm(const fs_state *s);
/* Clip result: returns 1 anomalous, 0 normal, -1 no complete window.
 * *score gets the clip score in the detector's integer score domain (mean). */
int fs_clip_end(fs_state *s, double *score);

#ifdef __cplusplus
}
#endif
#endif
