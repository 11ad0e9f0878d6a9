"""Blending: faults injected into real recordings, real noise mixed into synthetic clips, mixed training sets."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import hilbert

from datasets.audio import load_audio
from datasets.blend import InjectConfig, inject, inject_clip, mix_noise, mixed_training_set
from datasets.loaders import load_records
from provenance import sha256_file
from datasets.manifest import META_DIR, read_manifest, write_manifest
from errors import FaultsynthError
from tests.conftest import run_cli

RPM = 1797.0
BPFO_ORDER = 3.5848  # 6205 drive-end bearing (CWRU)


@pytest.fixture(scope="module")
def cwru_normal(shared_data):
    """Drive-end channel of the CWRU normal baseline (48 kHz, g)."""
    record = load_records(shared_data / "cwru" / "normal_0_97.mat")[0]
    return record, load_audio(record, channel="DE").astype(np.float64)


def envelope_peak_ratio(x: np.ndarray, sample_rate: int, freq_hz: float) -> float:
    """Envelope-spectrum magnitude at ``freq_hz`` relative to the median of 20-300 Hz."""
    env = np.abs(hilbert(x - x.mean()))
    env -= env.mean()
    spectrum = np.abs(np.fft.rfft(env * np.hanning(env.size)))
    freqs = np.fft.rfftfreq(env.size, 1 / sample_rate)
    band = (freqs > 20) & (freqs < 300)
    near = np.abs(freqs - freq_hz) < 2.0
    return float(spectrum[near].max() / np.median(spectrum[band]))


def test_outer_race_injected_into_cwru_shows_bpfo(cwru_normal):
    record, x = cwru_normal
    segment = x[: record.sample_rate]  # 1 s
    result = inject_clip(segment, machine="bearing", fault="outer_race", severity=0.2,
                         sample_rate=record.sample_rate, seed=11, fixed={"rpm": RPM, "bearing": "6205"})
    bpfo = BPFO_ORDER * RPM / 60
    assert envelope_peak_ratio(result.signal, record.sample_rate, bpfo) > 10
    assert envelope_peak_ratio(segment, record.sample_rate, bpfo) < 5
    np.testing.assert_allclose(result.signal - result.fault, segment, rtol=0, atol=1e-12)
    assert result.params["rpm"] == RPM and result.params["fault"] == "outer_race"
    assert result.params["fault_rms"] == pytest.approx(np.sqrt(np.mean(result.fault ** 2)))


def test_fault_grows_with_severity_and_scaling_modes(cwru_normal):
    record, x = cwru_normal
    segment = x[: record.sample_rate // 4]
    kwargs = dict(machine="bearing", fault="inner_race", sample_rate=record.sample_rate, seed=5,
                  fixed={"rpm": RPM, "bearing": "6205"})
    levels = [inject_clip(segment, severity=s, **kwargs).params["fault_to_signal_db"] for s in (0.2, 0.5, 1.0)]
    assert levels[0] < levels[1] < levels[2]
    relative = inject_clip(segment, severity=0.5, **kwargs)
    absolute = inject_clip(segment, severity=0.5, fault_scale="absolute", **kwargs)
    # same rendering, only the gain differs: the "machine" gain maps the rendered machine RMS to the segment's
    np.testing.assert_allclose(relative.fault, relative.params["inject_gain"] * absolute.fault, rtol=1e-12)
    assert absolute.params["inject_gain"] == 1.0


def test_inject_dataset_keeps_real_part_and_provenance(tmp_path, shared_data):
    source = shared_data / "cwru" / "normal_0_97.mat"
    config = InjectConfig(machine="bearing", faults=("outer_race",), severities=(0.5,), count=1, duration_s=0.25,
                          seed=4, fixed={"rpm": RPM, "bearing": "6205"}, channel="DE")
    records = inject(source, config, tmp_path / "out")
    assert [(r.split, r.label, r.source) for r in records] == [
        ("test", "anomaly", "mixed"), ("test", "normal", "real"), ("train", "normal", "real")]
    assert read_manifest(tmp_path / "out")[0].params == records[0].params
    real = load_audio(load_records(source)[0], channel="DE").astype(np.float64)
    for record in records:
        p = record.params
        assert p["source_path"] == str(source) and record.sha256 == sha256_file(record.file)
        start, stop = round(p["segment_start_s"] * 48000), round(p["segment_end_s"] * 48000)
        segment = real[start:stop]
        clip, rate = sf.read(record.file, dtype="float64")
        assert rate == 48000 and clip.size == segment.size == 12000
        if record.label == "normal":
            np.testing.assert_array_equal(clip, segment)  # untouched
        else:
            assert p["rpm"] == RPM and p["bearing"] == "6205" and record.seed is not None
            again = inject_clip(segment, machine="bearing", fault="outer_race", severity=0.5, sample_rate=48000,
                                seed=record.seed, fixed=config.clip_fixed(48000))
            np.testing.assert_allclose(clip - again.fault, segment, rtol=0, atol=1e-6 * np.abs(clip).max())
    # the segments of the three clips do not overlap
    spans = sorted((r.params["segment_start_s"], r.params["segment_end_s"]) for r in records)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_inject_identical_for_any_workers(tmp_path, shared_data):
    source = shared_data / "dcase2020" / "dev_data" / "unknown" / "train" / "normal_id_00_00000000.wav"
    config = InjectConfig(machine="fan", faults=("unbalance",), severities=(0.5, 1.0), count=2, duration_s=0.5,
                          seed=9)
    inject(source, config, tmp_path / "w1", workers=1)
    inject(source, config, tmp_path / "w2", workers=2)
    files = sorted(p.relative_to(tmp_path / "w1") for p in (tmp_path / "w1").rglob("*") if p.is_file())
    assert len(files) == 8 + 2  # 2 train + 2 test normal + 4 anomalies, manifest, dataset.json
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "w1", tmp_path / "w2", [str(f) for f in files],
                                               shallow=False)
    assert mismatch == [] and errors == []


def test_time_localised_faults_are_listed_in_events(tmp_path, shared_data):
    from generators.registry import get_machine

    fault = next(name for name, spec in get_machine("valve").faults.items() if spec.time_localised)
    source = shared_data / "dcase2023" / "dev_data" / "raw" / "valve" / "train"
    config = InjectConfig(machine="valve", faults=(fault,), severities=(1.0,), count=1, duration_s=2.0, seed=1)
    records = inject(source, config, tmp_path / "out")
    anomaly = next(r for r in records if r.label == "anomaly")
    rows = (tmp_path / "out" / META_DIR / "events.csv").read_text().splitlines()
    events = [row.split(",") for row in rows[1:]]
    assert events and {e[0] for e in events} == {anomaly.path} and {e[3] for e in events} == {fault}
    assert all(0 <= float(e[1]) < float(e[2]) <= 2.0 for e in events)


def test_inject_needs_enough_normal_audio(tmp_path, shared_data):
    source = shared_data / "dcase2020" / "dev_data" / "unknown" / "train" / "normal_id_00_00000000.wav"
    config = InjectConfig(machine="fan", faults=("unbalance",), severities=(1.0,), count=4, duration_s=4.0, seed=0)
    with pytest.raises(FaultsynthError, match="give 2 segments"):
        inject(source, config, tmp_path / "out")
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def _synthetic_dataset(root: Path, rate: int = 16000) -> list:
    """A tiny dataset of synthetic-looking clips (tones in noise), with a manifest."""
    rng = np.random.default_rng(3)
    t = np.arange(rate // 2) / rate
    for i, label in enumerate(("normal", "normal", "anomaly")):
        split = "train" if i == 0 else "test"
        path = root / "fan" / split / f"{label}_id_00_{i:08d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        x = 0.3 * np.sin(2 * np.pi * (200 + 100 * i) * t) + 0.01 * rng.standard_normal(t.size)
        sf.write(path, x, rate, subtype="FLOAT")
    records = [r.replace(source="synthetic", seed=i, params={"snr_db": 20.0}, sha256=sha256_file(r.file))
               for i, r in enumerate(load_records(root, layout="dcase2020"))]
    write_manifest(root, records)
    return records


def test_mix_noise_reaches_requested_snr(tmp_path, shared_data):
    clips = _synthetic_dataset(tmp_path / "syn")
    records = mix_noise(tmp_path / "syn", shared_data / "mimii", tmp_path / "mixed", snrs_db=(6, 0, -6), seed=2)
    assert len(records) == 9 and {r.source for r in records} == {"mixed"}
    originals = {c.path: load_audio(c).astype(np.float64) for c in clips}
    mimii = {r.path: r for r in load_records(shared_data / "mimii")}
    for record in records:
        p = record.params
        mixed = sf.read(record.file, dtype="float64")[0]
        clean = originals[p["synthetic_clip"]]
        noise = mixed - clean
        measured = 10 * np.log10(np.mean(clean ** 2) / np.mean(noise ** 2))
        # AddBackgroundNoise computes its RMS in float32: the written SNR is the request within 1e-3 dB
        assert abs(measured - p["snr_db"]) < 1e-3 and abs(p["measured_snr_db"] - p["snr_db"]) < 1e-3
        assert p["synthetic_snr_db"] == 20.0
        real = load_audio(mimii[p["noise_clip"]], channel=0).astype(np.float64)
        start = round(p["noise_segment_start_s"] * 16000)
        np.testing.assert_allclose(noise, p["noise_gain"] * real[start:start + clean.size], atol=1e-6)
    assert sorted(r.params["snr_db"] for r in records) == [-6] * 3 + [0] * 3 + [6] * 3


def test_background_transform_adds_the_segment_at_the_snr_without_global_random_state(tmp_path):
    import random

    from datasets.blend import _background

    rng = np.random.default_rng(4)
    clip = (0.2 * rng.standard_normal(8000)).astype(np.float32)
    segment = (0.05 * rng.standard_normal(8000) + 0.01).astype(np.float32)
    state = random.getstate()
    transform = _background(segment, snr_db=-3.0, sample_rate=8000, folder=str(tmp_path))
    first, second = transform(clip, sample_rate=8000), transform(clip, sample_rate=8000)
    assert random.getstate() == state  # parameters frozen: audiomentations drew nothing
    np.testing.assert_array_equal(first, second)
    noise = first.astype(np.float64) - clip
    gain = np.sqrt(np.mean(clip.astype(np.float64) ** 2) / np.mean(segment.astype(np.float64) ** 2)) * 10 ** (3 / 20)
    np.testing.assert_allclose(noise, gain * segment, rtol=1e-4, atol=1e-6)  # the whole segment, in order


def test_mix_noise_mean_channel_identical_for_any_workers(tmp_path, shared_data):
    _synthetic_dataset(tmp_path / "syn")
    for workers in (1, 2):
        records = mix_noise(tmp_path / "syn", shared_data / "mimii", tmp_path / f"w{workers}", snrs_db=(0,), seed=5,
                            noise_channel="mean", workers=workers)
    files = [r.path for r in records]
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "w1", tmp_path / "w2", files, shallow=False)
    assert len(match) == 3 and mismatch == [] and errors == []
    mimii = {r.path: r for r in load_records(shared_data / "mimii")}
    p = records[0].params
    mean = load_audio(mimii[p["noise_clip"]], channel="mean").astype(np.float64)
    start = round(p["noise_segment_start_s"] * 16000)
    clean = {r.path: load_audio(r).astype(np.float64) for r in load_records(tmp_path / "syn")}[p["synthetic_clip"]]
    noise = sf.read(records[0].file, dtype="float64")[0] - clean
    np.testing.assert_allclose(noise, p["noise_gain"] * mean[start:start + clean.size], atol=1e-6)


def test_mix_noise_silent_segment_writes_nothing(tmp_path):
    _synthetic_dataset(tmp_path / "syn")
    silent = tmp_path / "noise" / "room.wav"
    silent.parent.mkdir()
    samples = np.zeros(32000)
    samples[-1] = 0.1  # one click at the end: the file is readable, its drawn segment is silent
    sf.write(silent, samples, 16000)
    with pytest.raises(FaultsynthError, match=r"silent at \d.*expected a noise recording with sound"):
        mix_noise(tmp_path / "syn", silent, tmp_path / "out", snrs_db=(0,), seed=0)
    assert not (tmp_path / "out").exists()


def test_mix_noise_too_short_writes_nothing(tmp_path):
    _synthetic_dataset(tmp_path / "syn")
    short = tmp_path / "noise" / "hum.wav"
    short.parent.mkdir()
    sf.write(short, 0.1 * np.random.default_rng(0).standard_normal(1600), 16000)
    with pytest.raises(FaultsynthError, match="longest noise recording lasts 0.100 s"):
        mix_noise(tmp_path / "syn", short, tmp_path / "out", snrs_db=(0,), seed=0)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_mixed_training_set_proportion_and_provenance(tmp_path, shared_data):
    real = load_records(shared_data / "dcase2020" / "dev_data")
    synthetic = _synthetic_dataset(tmp_path / "syn")
    chosen = mixed_training_set(real, synthetic, real_fraction=0.6, n_clips=5, rng=np.random.default_rng(0))
    assert sorted(r.source for r in chosen) == ["real"] * 3 + ["synthetic"] * 2
    assert all(r.label == "normal" and r.split == "train" for r in chosen)
    assert {r.root for r in chosen if r.source == "real"} == {str(shared_data / "dcase2020" / "dev_data")}
    with pytest.raises(FaultsynthError, match="3 synthetic normal clips requested but only 2"):
        mixed_training_set(real, synthetic, real_fraction=0.4, n_clips=5, rng=np.random.default_rng(0))


def test_cli_inject_and_mix(tmp_path, shared_data):
    done = run_cli("inject", "--input", shared_data / "cwru" / "normal_0_97.mat", "--machine", "bearing",
                   "--faults", "outer_race,inner_race", "--severities", "0.5,1", "--count", "1", "--duration", "0.2",
                   "--seed", "1", "--rpm", "1797", "--bearing", "6205", "--channel", "DE", "--out", tmp_path / "inj")
    assert done.returncode == 0, done.stderr
    records = read_manifest(tmp_path / "inj")
    assert sorted(r.fault for r in records) == ["inner_race"] * 2 + ["none"] * 2 + ["outer_race"] * 2
    noisy = run_cli("mix", "--input", tmp_path / "inj", "--noise", shared_data / "cwru" / "normal_0_97.mat",
                    "--snrs", "10,0", "--seed", "2", "--out", tmp_path / "noisy")
    assert noisy.returncode == 0, noisy.stderr
    mixed_records = read_manifest(tmp_path / "noisy")
    assert len(mixed_records) == 12 and sorted({r.params["snr_db"] for r in mixed_records}) == [0.0, 10.0]
    _synthetic_dataset(tmp_path / "syn")
    mixed = run_cli("mix", "--real", shared_data / "dcase2020" / "dev_data", "--synthetic", tmp_path / "syn",
                    "--real-fraction", "0.5", "--count", "4", "--out", tmp_path / "train")
    assert mixed.returncode == 0, mixed.stderr
    assert sorted(r.source for r in read_manifest(tmp_path / "train")) == ["real", "real", "synthetic", "synthetic"]


def test_cli_bad_input(tmp_path, shared_data):
    folder = tmp_path / "rec"
    folder.mkdir()
    sf.write(folder / "a.wav", 0.1 * np.random.default_rng(0).standard_normal(16000), 16000)
    (folder / "b.wav").write_bytes((folder / "a.wav").read_bytes()[:5000])
    args = ["inject", "--input", folder, "--layout", "wav", "--machine", "fan", "--faults", "unbalance",
            "--severities", "1", "--count", "1", "--duration", "0.25", "--out", tmp_path / "out"]
    bad = run_cli(*args)
    assert bad.returncode == 2 and "b.wav: truncated WAV" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "out").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["rec"]
    skipped = run_cli(*args, "--skip-bad")
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 1 unreadable file(s)" in skipped.stdout and "b.wav" in skipped.stdout
    sf.write(folder / "b.wav", 0.1 * np.ones(16000), 8000)
    rates = run_cli(*args[:-1], tmp_path / "out2")
    assert rates.returncode == 2 and "mixed sample rates [8000, 16000]" in rates.stderr
    unknown = run_cli("inject", "--input", folder, "--layout", "wav", "--machine", "fan", "--faults", "melting",
                      "--out", tmp_path / "out3")
    assert unknown.returncode == 2 and "unknown fault 'melting'" in unknown.stderr
    both = run_cli("mix", "--input", tmp_path, "--real", tmp_path, "--out", tmp_path / "out4")
    assert both.returncode == 2 and "expected either" in both.stderr
    assert not any((tmp_path / f"out{i}").exists() for i in (2, 3, 4))
