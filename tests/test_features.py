"""Feature extraction: agreement with librosa on real recordings, layout, physics, errors."""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pytest
import scipy.io
import scipy.signal
import soundfile as sf

from errors import FaultsynthError
from pipeline import features as F
from pipeline.vibration_features import window_dim, window_features

librosa = pytest.importorskip("librosa")

#: Stated agreement with librosa (dB), for bins within 100 dB of the clip's maximum.
TOLERANCE_DB = 0.01


def _real_clips(shared_data):
    """A few real mono clips at 16 kHz: MIMII fan (channels 0 and 5), DCASE 2020, DCASE 2023."""
    fan, sr = sf.read(shared_data / "mimii/fan/id_00/abnormal/00000003.wav")
    assert sr == 16000
    dcase20, sr20 = sf.read(next((shared_data / "dcase2020/dev_data/unknown/train").glob("*.wav")))
    dcase23, sr23 = sf.read(next((shared_data / "dcase2023/dev_data/raw/fan/train").glob("*.wav")))
    assert sr20 == sr23 == 16000
    return [fan[:, 0], fan[:, 5], dcase20, dcase23[:, 0] if dcase23.ndim == 2 else dcase23]


def _librosa_db(y, sr, *, n_fft, hop_length, n_mels, fmin_hz=0.0, fmax_hz=None, center=True, power=2.0):
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                                         fmin=fmin_hz, fmax=fmax_hz, center=center, power=power)
    return 20.0 / power * np.log10(mel + sys.float_info.epsilon)


@pytest.mark.parametrize("params", [
    dict(n_fft=1024, hop_length=512, n_mels=128),
    dict(n_fft=1024, hop_length=512, n_mels=32, center=False),
    dict(n_fft=512, hop_length=160, n_mels=40, fmin_hz=50.0, fmax_hz=7000.0),
    dict(n_fft=2048, hop_length=1024, n_mels=64, power=1.0),
])
def test_log_mel_matches_librosa_on_real_clips(shared_data, params):
    for y in _real_clips(shared_data):
        ours = F.log_mel(y, 16000, **params)
        ref = _librosa_db(y, 16000, **params)
        assert ours.shape == ref.shape
        loud = ref > ref.max() - 100.0
        assert loud.mean() > 0.99  # the comparison covers essentially every bin
        assert np.max(np.abs(ours - ref)[loud]) < TOLERANCE_DB


def test_log_mel_batch_matches_single_clips(shared_data):
    clips = [c[:48000] for c in _real_clips(shared_data)]
    batch = F.log_mel_batch(np.stack(clips), 16000, n_mels=64)
    for y, s in zip(clips, batch):
        np.testing.assert_allclose(s, F.log_mel(y, 16000, n_mels=64), atol=1e-4)


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [
    (16000, 1024, 128, 0.0, None), (16000, 512, 32, 0.0, None), (16000, 1024, 40, 300.0, 6000.0),
    (48000, 2048, 64, 20.0, 20000.0), (12000, 256, 20, 0.0, 5000.0),
])
def test_mel_filterbank_matches_librosa(sr, n_fft, n_mels, fmin, fmax):
    ours = F.mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=n_mels, fmin_hz=fmin, fmax_hz=fmax)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6 * ref.max())


def test_mel_filterbank_area_normalised():
    """Slaney normalisation: each triangle integrates (over Hz) to 1."""
    sr, n_fft = 16000, 8192
    fb = F.mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=24, fmin_hz=100.0, fmax_hz=7000.0)
    areas = fb.sum(axis=1) * sr / n_fft
    np.testing.assert_allclose(areas, 1.0, rtol=0.01)


def test_window_is_periodic_hann():
    np.testing.assert_allclose(F.window(1024), scipy.signal.get_window("hann", 1024, fftbins=True), atol=1e-7)
    assert F.window(8)[0] == 0.0 and F.window(8)[4] == pytest.approx(1.0)


def test_tone_lands_in_its_mel_band_and_level_scales():
    sr, f0 = 16000, 1500.0
    t = np.arange(sr) / sr
    tone = 0.1 * np.sin(2 * np.pi * f0 * t)
    S = F.log_mel(tone, sr, n_mels=64)
    fb = F.mel_filterbank(sample_rate=sr, n_fft=1024, n_mels=64)
    bin_f0 = int(round(f0 * 1024 / sr))
    assert np.argmax(S[:, 10]) == np.argmax(fb[:, bin_f0])
    # 10x amplitude = +20 dB of power in every band well above float32 round-off
    S10 = F.log_mel(10 * tone, sr, n_mels=64)
    above = S > S.max() - 60.0
    assert above.sum() > 100
    np.testing.assert_allclose((S10 - S)[above], 20.0, atol=1e-3)


def test_stack_frames_order_is_frame_major():
    n_mels, frames, n_frames = 3, 7, 4
    S = np.array([[1000 * t + m for t in range(frames)] for m in range(n_mels)], dtype=np.float32)
    V = F.stack_frames(S, n_frames)
    assert V.shape == (frames - n_frames + 1, n_mels * n_frames)
    for t in range(V.shape[0]):
        for j in range(n_frames):
            for m in range(n_mels):
                assert V[t, j * n_mels + m] == 1000 * (t + j) + m
    with pytest.raises(FaultsynthError):
        F.stack_frames(S, frames + 1)


def test_extract_counts_channels_and_presets(shared_data):
    y, sr = sf.read(shared_data / "mimii/fan/id_00/normal/00000000.wav")
    cfg = F.DCASE_BASELINE
    v0 = F.extract(cfg, y)
    assert v0.dtype == np.float32 and v0.shape == (cfg.n_vectors(len(y)), 640) == (309, 640)
    np.testing.assert_array_equal(F.extract(replace(cfg, channel=5), y), F.extract(cfg, y[:, 5]))
    np.testing.assert_allclose(F.extract(replace(cfg, channel="mean"), y), F.extract(cfg, y.mean(axis=1)),
                               atol=1e-4)
    # first vector = frames 0..4 of the log-mel spectrogram
    S = F.log_mel(y[:, 0], sr)
    np.testing.assert_allclose(v0[0], S[:, :5].T.ravel(), atol=1e-5)
    batch = F.extract_batch(cfg, np.stack([y, y[::-1]]))
    np.testing.assert_array_equal(batch[0], v0)
    tiny = F.extract(F.TINYML, y)
    assert F.TINYML.dim == 128 and tiny.shape == ((1 + (len(y) - 1024) // 512) - 3, 128)
    assert set(F.PRESETS) >= {"dcase", "tinyml"}


def test_config_roundtrip_and_validation():
    cfg = replace(F.TINYML, channel="mean", fmax_hz=7000.0)
    assert F.FeatureConfig.from_dict(cfg.to_dict()) == cfg
    bad = [dict(kind="mfcc"), dict(n_fft=0), dict(hop_length=-1), dict(n_mels=2.5), dict(fmax_hz=9000.0),
           dict(fmin_hz=5000.0, fmax_hz=4000.0), dict(channel=-1), dict(channel="left"), dict(power=0.0),
           dict(center="yes")]
    for changes in bad:
        with pytest.raises(FaultsynthError):
            replace(F.DCASE_BASELINE, **changes)
    with pytest.raises(FaultsynthError, match="unknown feature config keys"):
        F.FeatureConfig.from_dict({**cfg.to_dict(), "n_mfcc": 13})


def test_bad_clips_raise():
    cfg = F.DCASE_BASELINE
    y = np.random.default_rng(0).standard_normal(16000)
    y_nan = y.copy()
    y_nan[100] = np.nan
    with pytest.raises(FaultsynthError, match="NaN"):
        F.extract(cfg, y_nan)
    with pytest.raises(FaultsynthError, match="too short"):
        F.extract(cfg, y[:2000])  # 4 frames with center=True, 5 needed
    assert F.extract(cfg, y[:2048]).shape == (1, 640)  # exactly 5 frames
    with pytest.raises(FaultsynthError, match="channel"):
        F.extract(replace(cfg, channel=3), np.zeros((16000, 2)))
    with pytest.raises(FaultsynthError, match="mono"):
        F.extract(replace(cfg, channel=1), y)


def _impacts(*, sample_rate, rate_hz, resonance_hz, duration_s, rng):
    """Decaying resonance bursts repeated at rate_hz plus white noise (a bearing-fault-like signal)."""
    n = int(duration_s * sample_rate)
    x = np.zeros(n)
    x[(np.arange(0, duration_s, 1 / rate_hz) * sample_rate).astype(int)] = 1.0
    t = np.arange(int(0.004 * sample_rate)) / sample_rate
    ring = np.exp(-t * 1500) * np.sin(2 * np.pi * resonance_hz * t)
    return np.convolve(x, ring)[:n] + 0.02 * rng.standard_normal(n)


def test_vibration_features_see_impacts():
    sr = 12000
    rng = np.random.default_rng(1)
    cfg = F.FeatureConfig(kind="vibration", sample_rate=sr, n_fft=4096, hop_length=2048, n_mels=16, n_frames=1,
                          center=False, n_envelope_bands=20, envelope_fmax_hz=500.0)
    faulty = window_features(cfg, _impacts(sample_rate=sr, rate_hz=107.0, resonance_hz=3000.0, duration_s=2.0,
                                           rng=rng))
    noise = window_features(cfg, 0.1 * rng.standard_normal(2 * sr))
    assert faulty.shape[1] == window_dim(cfg) == cfg.dim == 16 + 20 + 3
    bands, env, kurt, crest = faulty[:, :16], faulty[:, 16:36], faulty[:, -2], faulty[:, -1]
    # resonance band (2625-3000 Hz and 3000-3375 Hz edges) holds the most energy
    assert set(np.argmax(bands, axis=1)) <= {6, 7, 8}
    # envelope band holding 107 Hz (100-125 Hz) is far above a band between harmonics (175-200 Hz)
    assert np.all(env[:, 4] - env[:, 7] > 10.0)
    assert np.all(kurt > 6.0) and np.all(crest > 4.0)
    assert np.all(np.abs(noise[:, -2] - 3.0) < 0.5)  # Gaussian noise: kurtosis 3
    # RMS level of noise with sigma 0.1 is -20 dB
    np.testing.assert_allclose(noise[:, -3], -20.0, atol=0.3)


def test_vibration_features_on_cwru_inner_race_fault(shared_data):
    """Real bearing data: an inner-race fault is more impulsive than a healthy bearing."""
    def drive_end(name):
        mat = scipy.io.loadmat(shared_data / "cwru" / name)
        return next(v for k, v in mat.items() if k.endswith("_DE_time")).ravel()

    healthy = drive_end("normal_0_97.mat")[::4][:60000]  # 48 kHz baseline -> 12 kHz (energy is low)
    faulty = drive_end("12k_Drive_End_IR014_0_169.mat")[:60000]
    cfg = F.PRESETS["vibration"]
    assert cfg.sample_rate == 12000 and cfg.dim == 16 + 16 + 3
    v_healthy, v_faulty = F.extract(cfg, healthy), F.extract(cfg, faulty)
    assert len(v_healthy) == cfg.n_vectors(60000) == 1 + (60000 - 2048) // 1024
    assert np.median(v_healthy[:, -2]) < 4.0 < np.median(v_faulty[:, -2])
    assert np.median(v_faulty[:, -1]) > np.median(v_healthy[:, -1])  # crest factor


def test_demodulation_band_recovers_impacts_under_shaft_vibration():
    """Strong shaft-rate vibration swamps the full-band envelope; demodulating above 2 kHz recovers the impacts."""
    sr = 12000
    t = np.arange(2 * sr) / sr
    impacts = 0.3 * _impacts(sample_rate=sr, rate_hz=107.0, resonance_hz=3000.0, duration_s=2.0,
                             rng=np.random.default_rng(2))
    x = impacts + np.sin(2 * np.pi * 29.95 * t) + 0.5 * np.sin(2 * np.pi * 59.9 * t + 1.0)
    cfg = F.FeatureConfig(kind="vibration", sample_rate=sr, n_fft=4096, hop_length=2048, n_mels=16, n_frames=1,
                          center=False, n_envelope_bands=20, envelope_fmax_hz=500.0)

    def contrast(c):  # envelope band with 107 Hz (100-125 Hz) over one between harmonics (175-200 Hz), dB
        env = window_features(c, x)[:, 16:36]
        return np.median(env[:, 4] - env[:, 7])

    assert contrast(cfg) < 5.0
    assert contrast(replace(cfg, envelope_fmin_hz=2000.0)) > 20.0
    with pytest.raises(FaultsynthError, match="envelope_fmin_hz"):
        replace(cfg, envelope_fmin_hz=6000.0)
