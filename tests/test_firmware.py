"""The C99 runtime against Python: host build (-Werror), Cortex-M4 under QEMU, `firmware` command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from errors import FaultsynthError
from pipeline.device_scorer import build_scorer, load_scorer
from pipeline.interpreters import litert_run, tflm_run
from pipeline import firmware_build as B
from test_export import ae_export, kmeans_export  # noqa: F401  (session fixtures, built once)

#: Stated front-end tolerance: C log-mel vs pipeline.features, dB (float32 radix-2 FFT vs pocketfft).
LOGMEL_TOL_DB = 0.01


def _real_clips(shared_data: Path) -> list[Path]:
    test23 = sorted(shared_data.glob("dcase2023/dev_data/raw/*/test/*.wav"))
    return [test23[0], test23[1], test23[-1],
            sorted(shared_data.glob("dcase2020/dev_data/unknown/test/*.wav"))[0]]


def _synthetic_clips() -> list[np.ndarray]:
    from generators.registry import render_clip

    return [render_clip("fan", fault=fault, severity=sev, duration_s=2.0, sample_rate=16000, seed=seed).signal
            for fault, sev, seed in (("none", 0.0, 11), ("clogging", 1.0, 12), ("unbalance", 0.5, 13))]


def _read_mono(path: Path) -> np.ndarray:
    import soundfile as sf

    y, rate = sf.read(str(path), dtype="float32", always_2d=True)
    assert rate == 16000
    return y[:, 0]


@pytest.fixture(scope="module")
def host_build(ae_export, tmp_path_factory):  # noqa: F811
    _, out, _ = ae_export
    return B.build_host(out / "c", tmp_path_factory.mktemp("host"))


@pytest.fixture(scope="module")
def clip_files(shared_data, tmp_path_factory):
    """Real (DCASE 2023 / 2020, 16 kHz mono) and synthetic (fan) clips as raw float32 files."""
    folder = tmp_path_factory.mktemp("clips")
    signals = [_read_mono(p) for p in _real_clips(shared_data)] + _synthetic_clips()
    return [B.write_clip(np.asarray(y, np.float32), folder / f"c{i}.f32") for i, y in enumerate(signals)]


def _host(exe: Path, *args) -> str:
    return subprocess.run([str(exe), *map(str, args)], check=True, capture_output=True, text=True).stdout


def test_runtime_compiles_warning_free_in_both_rounding_modes(ae_export, tmp_path):  # noqa: F811
    _, out, _ = ae_export
    exe = B.build_host(out / "c", tmp_path / "single", extra_flags=["-DFS_SINGLE_ROUNDING=1", "-pedantic"])
    scorer = load_scorer(out)
    q = np.random.default_rng(3).integers(-128, 128, size=(64, scorer.gain.size)).astype(np.int8)
    q.tofile(tmp_path / "q.i8")
    _host(exe, "infer", tmp_path / "q.i8", tmp_path / "y.i8")
    y = np.fromfile(tmp_path / "y.i8", dtype=np.int8).reshape(q.shape)
    # Built for single rounding, the C model reproduces LiteRT's outputs exactly.
    assert np.array_equal(y, litert_run(scorer.model_bytes, q))


def test_c_model_outputs_equal_tflm(ae_export, host_build, clip_files, tmp_path):  # noqa: F811
    from pipeline.features import TINYML, extract

    _, out, _ = ae_export
    scorer = load_scorer(out)
    x = np.concatenate([extract(TINYML, np.fromfile(f, dtype="<f4")) for f in clip_files[:2]])
    q = np.concatenate([scorer.quantize(x),
                        np.random.default_rng(4).integers(-128, 128, size=(100, x.shape[1])).astype(np.int8)])
    q.tofile(tmp_path / "q.i8")
    _host(host_build, "infer", tmp_path / "q.i8", tmp_path / "y.i8")
    y = np.fromfile(tmp_path / "y.i8", dtype=np.int8).reshape(q.shape)
    assert np.array_equal(y, tflm_run(scorer.model_bytes, q))


def test_c_log_mel_matches_python_features(host_build, clip_files, tmp_path):
    from pipeline.features import TINYML, log_mel

    for f in clip_files:
        y = np.fromfile(f, dtype="<f4")
        _host(host_build, "frames", f, tmp_path / "lm.f32")
        c = np.fromfile(tmp_path / "lm.f32", dtype=np.float32).reshape(-1, TINYML.n_mels)
        py = log_mel(y, TINYML.sample_rate, n_fft=TINYML.n_fft, hop_length=TINYML.hop_length,
                     n_mels=TINYML.n_mels, center=False).T
        assert c.shape == py.shape
        assert np.max(np.abs(c - py)) < LOGMEL_TOL_DB


def test_c_fft_of_a_tone_peaks_at_its_bin(host_build, tmp_path):
    """A full-scale tone at FFT bin k: its mel band is the loudest, at the level the window predicts."""
    from pipeline.features import TINYML, mel_filterbank

    n, sr = TINYML.n_fft, TINYML.sample_rate
    k = 100
    t = np.arange(4 * n)
    (np.sin(2 * np.pi * k * t / n).astype(np.float32)).tofile(tmp_path / "tone.f32")
    _host(host_build, "frames", tmp_path / "tone.f32", tmp_path / "lm.f32")
    c = np.fromfile(tmp_path / "lm.f32", dtype=np.float32).reshape(-1, TINYML.n_mels)
    fb = mel_filterbank(sample_rate=sr, n_fft=n, n_mels=TINYML.n_mels)
    # Hann-windowed unit sine at an exact bin: |X[k]| = N/4, |X[k +- 1]| = N/8, every other bin 0.
    bands = fb[:, k - 1:k + 2].astype(np.float64) @ (np.array([n / 8, n / 4, n / 8]) ** 2)
    assert np.all(np.argmax(c, axis=1) == np.argmax(bands))
    assert np.allclose(c.max(axis=1), 10 * np.log10(bands.max()), atol=0.01)


def test_c_scores_from_python_features_are_identical(ae_export, host_build, clip_files, tmp_path):  # noqa: F811
    from pipeline.features import TINYML, extract

    _, out, _ = ae_export
    scorer = load_scorer(out)
    for f in clip_files[:3]:
        x = extract(TINYML, np.fromfile(f, dtype="<f4"))
        x.astype("<f4").tofile(tmp_path / "x.f32")
        lines = _host(host_build, "vectors", tmp_path / "x.f32").split()
        windows = np.array([int(v) for v in lines[:len(x)]])
        tflm = tflm_run(scorer.model_bytes, scorer.quantize(x))
        assert np.array_equal(windows, scorer.window_scores(x, outputs=tflm))
        assert int(lines[len(x) + 1]) == int(scorer.clip_result(windows)[1])


def test_whole_chain_decisions_equal_python(ae_export, host_build, clip_files):  # noqa: F811
    from pipeline.features import TINYML, extract

    _, out, _ = ae_export
    scorer = load_scorer(out)
    results = B.run_host(host_build, clip_files, kind="autoencoder")
    for f, r in zip(clip_files, results):
        x = extract(TINYML, np.fromfile(f, dtype="<f4"))
        score, decision = B.python_reference(scorer, x)
        assert r.n_windows == len(x)
        assert r.decision == decision
        # C and Python features differ by ~1e-5 dB: a rare int8 input lands one step apart.
        assert abs(r.score() - score) <= 1e-3 * score


def test_kmeans_center_padded_front_end_streams_like_python(kmeans_export, tmp_path, clip_files):  # noqa: F811
    """k-means C path, with center=True framing (zero padding at both ends) and a magnitude (power=1) spectrum."""
    from dataclasses import replace

    from pipeline import c_sources
    from pipeline.features import TINYML, extract
    from pipeline.training import load_bundle

    model, _, _ = kmeans_export
    bundle = load_bundle(model)
    config = replace(TINYML, center=True, power=1.0)
    scorer = build_scorer(bundle.detector, np.load(model / "representative.npy"), threshold=bundle.threshold)
    c_sources.write_c_sources(tmp_path / "c", config, scorer)
    exe = B.build_host(tmp_path / "c", tmp_path / "b")
    results = B.run_host(exe, clip_files, kind="kmeans")
    for f, r in zip(clip_files, results):
        x = extract(config, np.fromfile(f, dtype="<f4"))
        score, decision = scorer.score_clip(x)
        assert r.n_windows == len(x)
        assert r.decision == int(decision)
        # C and Python features differ by ~1e-5 dB: a rare int8 input lands one step apart.
        assert abs(r.score() - score) <= 1e-3 * score


def test_clip_too_short_for_a_window_gives_no_decision(host_build, tmp_path):
    np.zeros(1000, np.float32).tofile(tmp_path / "short.f32")
    (r,) = B.run_host(host_build, [tmp_path / "short.f32"], kind="autoencoder")
    assert r.decision == -1 and r.n_windows == 0


needs_arm = pytest.mark.skipif(B.arm_tools() is None,
                               reason=f"Cortex-M4 tools missing: {', '.join(B.missing_arm_tools())} "
                                      "(`make toolchain` installs them)")


@needs_arm
def test_cortex_m4_firmware_matches_python_and_meets_targets(ae_export, shared_data, tmp_path):  # noqa: F811
    _, out, _ = ae_export
    data = shared_data / "dcase2023" / "dev_data" / "raw"
    r = B.run_firmware(export_dir=out, clips=data, out_dir=tmp_path / "fw", max_clips=3)
    saved = json.loads((tmp_path / "fw" / "firmware.json").read_text())
    assert saved["decisions_match_python"] is True
    assert saved["cortex_m4"]["raw_sums_equal_host"] is True
    assert (tmp_path / "fw" / saved["elf"]).is_file()  # paths relative to the firmware folder
    assert 0 < saved["ram"]["stack_high_water"] < saved["ram"]["stack_reserved"]
    # QEMU's mps2 SysTick runs at 25 MHz: 40 instructions per tick at 1 ns per instruction.
    assert saved["instructions_per_tick"] == pytest.approx(40.0, rel=1e-4)
    assert saved["flash_bytes"] <= 64 * 1024
    assert saved["ram_bytes"] <= 32 * 1024
    assert 0 < saved["instructions_per_audio_second"] <= 8e6
    assert r["labels"].count("anomaly") >= 1


def test_firmware_command_rejects_a_folder_without_export(tmp_path):
    with pytest.raises(FaultsynthError, match="export.json"):
        B.run_firmware(export_dir=tmp_path, clips=tmp_path, out_dir=tmp_path / "o")


def test_firmware_without_arm_tools_still_runs_the_host(ae_export, shared_data, tmp_path, monkeypatch):  # noqa: F811
    _, out, _ = ae_export
    monkeypatch.setattr(B, "arm_tools", lambda: None)
    monkeypatch.setattr(B, "missing_arm_tools", lambda: ["qemu-system-arm"])
    r = B.run_firmware(export_dir=out, clips=shared_data / "dcase2020" / "dev_data", out_dir=tmp_path / "fw",
                       max_clips=1)
    assert r["elf"] is None and "qemu-system-arm" in r["skipped"]
    assert r["host"]["decisions_match_python"] is True


def test_device_commands_run_under_typer(ae_export, shared_data, tmp_path, monkeypatch):  # noqa: F811
    """The plain command functions as cli.py registers them: output, and bad input as FaultsynthError."""
    import typer
    from typer.testing import CliRunner

    from pipeline import device_commands

    app = typer.Typer()
    app.command("export")(device_commands.export)
    app.command("firmware")(device_commands.firmware)
    runner = CliRunner()
    _, out, _ = ae_export
    monkeypatch.setattr(B, "arm_tools", lambda: None)
    ok = runner.invoke(app, ["firmware", "--export", str(out), "--clips",
                             str(shared_data / "dcase2020" / "dev_data"), "--out", str(tmp_path / "fw"),
                             "--max-clips", "1"])
    assert ok.exit_code == 0, ok.output
    assert "decisions match Python: True" in ok.output and "skipped" in ok.output
    bad = runner.invoke(app, ["firmware", "--export", str(out), "--clips", str(tmp_path), "--out",
                              str(tmp_path / "o"), "--max-clips", "0"])
    assert isinstance(bad.exception, FaultsynthError) and "--max-clips" in str(bad.exception)
    missing = runner.invoke(app, ["export", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "e")])
    assert isinstance(missing.exception, FaultsynthError)


@needs_arm
def test_cortex_m4_kmeans_equals_host_over_several_qemu_runs(kmeans_export, clip_files, tmp_path,  # noqa: F811
                                                              monkeypatch):
    _, out, _ = kmeans_export
    host = B.run_host(B.build_host(out / "c", tmp_path / "h"), clip_files[-3:], kind="kmeans")
    elf = B.build_m4(out / "c", tmp_path / "m4")
    monkeypatch.setattr(B, "QEMU_LIST_BYTES", 30)  # two clip names per QEMU run: 3 clips -> 2 runs
    run = B.run_qemu(elf, clip_files[-3:], kind="kmeans")
    assert run.output.count("calib") == 2
    assert [(r.decision, r.n_windows, r.raw_sum) for r in run.clips] == \
        [(r.decision, r.n_windows, r.raw_sum) for r in host]
