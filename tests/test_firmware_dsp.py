"""The runtime's FFT and logarithm (firmware/src/fs_fft.c, fs_log.c) against numpy, every FFT size."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.c_sources import c_array, c_float, twiddles
from pipeline.firmware_build import COMMON_FLAGS, FIRMWARE

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no host C compiler")

HARNESS = r"""
#include <stdio.h>
#include "fs_runtime.h"
static float x[FS_N_FFT], w[FS_N_FFT], buf[FS_N_FFT], p[FS_N_FFT / 2 + 1];
int main(void)
{
    unsigned i;
    if (fread(x, sizeof(float), FS_N_FFT, stdin) != FS_N_FFT || fread(w, sizeof(float), FS_N_FFT, stdin) != FS_N_FFT) {
        return 2;
    }
    fs_rfft_windowed(x, w, buf);
    fs_split_power(buf, p);
    fwrite(p, sizeof(float), FS_N_FFT / 2 + 1, stdout);
    for (i = 0; i < FS_N_FFT; i++) {
        buf[i] = x[i] * w[i];
    }
    fs_rfft(buf);
    fwrite(buf, sizeof(float), FS_N_FFT, stdout);
    return 0;
}
"""


def _build(tmp: Path, n_fft: int) -> Path:
    """Host build of the FFT with minimal generated tables for ``n_fft``."""
    (tmp / "fs_params.h").write_text(
        f"#include <stdint.h>\n#define FS_N_FFT {n_fft}\n#define FS_LOG2_N_FFT {n_fft.bit_length() - 1}\n"
        "#define FS_N_FRAMES 1\n#define FS_FRAME_DIM 1\n#define FS_DIM 1\n#define FS_MAX_WIDTH 1\n"
        "#define FS_FEATURE_VIBRATION 0\n#define FS_DETECTOR_AUTOENCODER 0\n"
        "extern const float fs_twiddle[FS_N_FFT];\n")
    (tmp / "fs_params.c").write_text('#include "fs_params.h"\n'
                                     + c_array("float", "fs_twiddle", twiddles(n_fft), fmt=c_float, per_line=6))
    (tmp / "harness.c").write_text(HARNESS)
    exe = tmp / "fft"
    subprocess.run(["cc", *COMMON_FLAGS, "-I", str(FIRMWARE / "include"), "-I", str(tmp), str(tmp / "harness.c"),
                    str(FIRMWARE / "src" / "fs_fft.c"), str(tmp / "fs_params.c"), "-o", str(exe), "-lm"], check=True)
    return exe


@pytest.mark.parametrize("n_fft", [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192])
def test_fft_and_power_equal_numpy_at_every_size(n_fft, tmp_path):
    """Odd and even stage counts (a last radix-2 stage or none), radix-4 passes from none to six."""
    rng = np.random.default_rng(n_fft)
    x = rng.normal(size=n_fft).astype(np.float32)
    w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    out = subprocess.run([str(_build(tmp_path, n_fft))], input=x.tobytes() + w.tobytes(), capture_output=True,
                         check=True).stdout
    power = np.frombuffer(out[:4 * (n_fft // 2 + 1)], dtype=np.float32)
    packed = np.frombuffer(out[4 * (n_fft // 2 + 1):], dtype=np.float32)
    spectrum = np.fft.rfft(x.astype(np.float64) * w)
    scale = np.abs(spectrum).max()
    assert np.max(np.abs(power - np.abs(spectrum) ** 2)) <= 1e-5 * scale ** 2
    # fs_rfft's packing: X[0], X[n/2], then (re, im) of X[1 .. n/2 - 1].
    assert packed[0] == pytest.approx(spectrum[0].real, abs=1e-5 * scale)
    assert packed[1] == pytest.approx(spectrum[-1].real, abs=1e-5 * scale)
    assert np.max(np.abs(packed[2::2] + 1j * packed[3::2] - spectrum[1:-1])) <= 1e-5 * scale
    # The windowed transform's power is bit for bit the squared magnitude of fs_rfft's output.
    assert np.array_equal(power[1:-1], packed[2::2] ** 2 + packed[3::2] ** 2)


def test_log10_within_1e6_of_numpy(tmp_path):
    (tmp_path / "fs_params.h").write_text("#define FS_N_FFT 8\n#define FS_N_FRAMES 1\n#define FS_FRAME_DIM 1\n"
                                          "#define FS_DIM 1\n#define FS_MAX_WIDTH 1\n#define FS_FEATURE_VIBRATION 0\n"
                                          "#define FS_DETECTOR_AUTOENCODER 0\n")
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "fs_runtime.h"\nint main(void) { float v; '
        "while (fread(&v, sizeof v, 1, stdin) == 1) { v = fs_log10(v); fwrite(&v, sizeof v, 1, stdout); }\n"
        "return 0; }\n")
    exe = tmp_path / "log"
    subprocess.run(["cc", *COMMON_FLAGS, "-I", str(FIRMWARE / "include"), "-I", str(tmp_path),
                    str(tmp_path / "main.c"), str(FIRMWARE / "src" / "fs_log.c"), "-o", str(exe), "-lm"], check=True)
    rng = np.random.default_rng(0)
    # Every binade of float32 (subnormals included), powers of ten, the edges of the [sqrt(1/2), sqrt(2)) split.
    x = np.concatenate([rng.uniform(1, 2, 20000).astype(np.float32) * np.float32(2.0) ** rng.integers(-149, 128, 20000),
                        np.float32(10.0) ** np.arange(-37, 38, dtype=np.float32),
                        np.array([np.sqrt(0.5), np.sqrt(2.0), 1.0, 1e-10, 1e-45], dtype=np.float32)]).astype(np.float32)
    x = x[np.isfinite(x) & (x > 0)]
    special = np.array([0.0, -1.0, np.inf, np.nan], dtype=np.float32)
    out = subprocess.run([str(exe)], input=np.concatenate([x, special]).tobytes(), capture_output=True,
                         check=True).stdout
    got = np.frombuffer(out, dtype=np.float32)
    err = np.abs(got[:x.size].astype(np.float64) - np.log10(x.astype(np.float64)))
    assert err.max() < 1e-5  # about one float32 step of the largest results (|log10| <= 38.5)
    small = np.abs(np.log10(x.astype(np.float64))) < 8  # the range of levels: within 1e-6
    assert err[small].max() < 1e-6
    assert got[x.size] == -np.inf and np.isnan(got[x.size + 1]) and got[x.size + 2] == np.inf
    assert np.isnan(got[x.size + 3])
