/* Host driver of the runtime (tests and benchmarks).
 *
 *   fs_host clip FILE.f32...        per clip: "clip <decision> <n_windows> <raw sum hex> 0 <alarm events>
 *                                    <first alarm window + 1, 0 none> <windows in alarm> <digest hex>"
 *                                    (raw sum: int64 for the autoencoder, double bits for k-means;
 *                                    digest: FNV-1a of the per-window alarm states, one byte each)
 *   fs_host stream FILE.f32          one line per window: "window <score> <alarm>", then the clip line
 *   fs_host frames FILE.f32 OUT.f32 per-frame features, center=False framing
 *                                    (frames x frame_dim float32: log-mel dB or vibration)
 *   fs_host infer IN.i8 OUT          int8 vectors (n x DIM) -> autoencoder int8 outputs
 *                                    (n x DIM) or k-means window scores (n x int64)
 *   fs_host vectors IN.f32           raw feature vectors (n x DIM) as one clip:
 *                                    one line per window score, then the clip line
 *   fs_host bench N                  N forward passes on a fixed vector (timing)
 * Files are raw little-endian arrays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fs_runtime.h"

static fs_state g_state;

/* Per-window alarm record of the current clip (same digest as the Cortex-M4 driver). */
typedef struct {
    uint32_t digest;
    uint32_t alarm_windows;
    int print;
} alarm_log;

static void on_window(void *ctx, const fs_state *s, int64_t score)
{
    alarm_log *log = (alarm_log *)ctx;
    uint32_t a = (uint32_t)fs_alarm(s);
    log->digest = (log->digest ^ a) * 0x01000193u;
    log->alarm_windows += a;
    if (log->print) {
        printf("window %lld %u\n", (long long)score, (unsigned)a);
    }
}

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "fs_host: %s %s\n", what, path);
    return 2;
}

/* Same line as the Cortex-M4 driver: clip <decision> <n_windows> <raw sum, 16 hex digits> 0, then the
 * alarm: events, first alarm window + 1 (0 none), windows in alarm, digest (hex). */
static void print_clip(int decision, const alarm_log *log)
{
    uint64_t raw;
#if FS_DETECTOR_AUTOENCODER
    raw = (uint64_t)g_state.sum_int;
#else
    memcpy(&raw, &g_state.sum_real, sizeof raw);
#endif
    printf("clip %d %lu %016llx 0 %lu %ld %lu %08lx\n", decision, (unsigned long)g_state.n_windows,
           (unsigned long long)raw, (unsigned long)g_state.alarm_events, (long)g_state.first_alarm + 1L,
           (unsigned long)log->alarm_windows, (unsigned long)log->digest);
}

static int run_clip(const char *path, int print_windows)
{
    float buf[1024];
    size_t n;
    double score;
    int decision;
    alarm_log log = {0x811C9DC5u, 0u, 0};
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return fail("cannot open", path);
    }
    log.print = print_windows;
    fs_set_window_hook(on_window, &log);
    fs_clip_begin(&g_state);
    while ((n = fread(buf, sizeof(float), 1024, f)) > 0) {
        fs_clip_push(&g_state, buf, (uint32_t)n);
    }
    fclose(f);
    decision = fs_clip_end(&g_state, &score);
    fs_set_window_hook(NULL, NULL);
    print_clip(decision, &log);
    return 0;
}

/* Open IN for reading and OUT for writing; on failure close what was opened and report. */
static int open_pair(const char *in, const char *out, FILE **f, FILE **g)
{
    *f = fopen(in, "rb");
    if (*f == NULL) {
        return fail("cannot open", in);
    }
    *g = fopen(out, "wb");
    if (*g == NULL) {
        fclose(*f);
        return fail("cannot write", out);
    }
    return 0;
}

static int run_frames(const char *in, const char *out)
{
    float x[FS_N_FFT];
    float row[FS_FRAME_DIM];
    FILE *f;
    FILE *g;
    int status = open_pair(in, out, &f, &g);
    if (status != 0) {
        return status;
    }
    /* center=False framing: frame t = samples [t*hop, t*hop + n_fft). */
    if (fread(x, sizeof(float), FS_N_FFT, f) == FS_N_FFT) {
        for (;;) {
            fs_frame_features(&g_state, x, row);
            fwrite(row, sizeof(float), FS_FRAME_DIM, g);
            memmove(x, x + FS_HOP, (FS_N_FFT - FS_HOP) * sizeof(float));
            if (fread(x + FS_N_FFT - FS_HOP, sizeof(float), FS_HOP, f) != FS_HOP) {
                break;
            }
        }
    }
    fclose(f);
    fclose(g);
    return 0;
}

static int run_infer(const char *in, const char *out)
{
    int8_t q[FS_DIM];
    FILE *f;
    FILE *g;
    int status = open_pair(in, out, &f, &g);
    if (status != 0) {
        return status;
    }
    while (fread(q, 1, FS_DIM, f) == FS_DIM) {
#if FS_DETECTOR_AUTOENCODER
        int8_t y[FS_DIM];
        fs_model_invoke(&g_state, q, y);
        fwrite(y, 1, FS_DIM, g);
#else
        int64_t d2 = fs_window_score(&g_state, q);
        fwrite(&d2, sizeof d2, 1, g);
#endif
    }
    fclose(f);
    fclose(g);
    return 0;
}

static int run_vectors(const char *in)
{
    float x[FS_DIM];
    double score;
    int decision;
    alarm_log log = {0x811C9DC5u, 0u, 0};
    FILE *f = fopen(in, "rb");
    if (f == NULL) {
        return fail("cannot open", in);
    }
    fs_set_window_hook(on_window, &log);
    fs_clip_begin(&g_state);
    while (fread(x, sizeof(float), FS_DIM, f) == FS_DIM) {
        fs_quantize(x, g_state.qin);
        printf("%lld\n", (long long)fs_window_score(&g_state, g_state.qin));
        fs_clip_push_vector(&g_state, x);
    }
    fclose(f);
    decision = fs_clip_end(&g_state, &score);
    fs_set_window_hook(NULL, NULL);
    print_clip(decision, &log);
    return 0;
}

static int run_bench(long n)
{
    int8_t q[FS_DIM];
    long i;
    volatile int64_t sink = 0;
    clock_t t0;
    double s;
    for (i = 0; i < FS_DIM; i++) {
        q[i] = (int8_t)((i * 37) % 251 - 125);
    }
    t0 = clock();
    for (i = 0; i < n; i++) {
        q[i % FS_DIM] ^= 1;
        sink += fs_window_score(&g_state, q);
    }
    s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("%.9g\n", s / (double)n);
    return sink == -1;
}

int main(int argc, char **argv)
{
    int i, rc = 0;
    if (argc >= 3 && strcmp(argv[1], "clip") == 0) {
        for (i = 2; i < argc && rc == 0; i++) {
            rc = run_clip(argv[i], 0);
        }
        return rc;
    }
    if (argc == 3 && strcmp(argv[1], "stream") == 0) {
        return run_clip(argv[2], 1);
    }
    if (argc == 4 && strcmp(argv[1], "frames") == 0) {
        return run_frames(argv[2], argv[3]);
    }
    if (argc == 4 && strcmp(argv[1], "infer") == 0) {
        return run_infer(argv[2], argv[3]);
    }
    if (argc == 3 && strcmp(argv[1], "vectors") == 0) {
        return run_vectors(argv[2]);
    }
    if (argc == 3 && strcmp(argv[1], "bench") == 0) {
        return run_bench(atol(argv[2]));
    }
    fprintf(stderr, "usage: fs_host clip|stream|frames|infer|vectors|bench ...\n");
    return 2;
}
