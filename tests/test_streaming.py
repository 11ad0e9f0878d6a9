"""Streaming decisions: the N-of-M alarm in Python (pipeline/streaming.py) and in the C runtime, host and M4."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from errors import FaultsynthError
from pipeline import c_sources
from pipeline import firmware_build as B
from pipeline.device_scorer import AutoencoderScorer, DeviceScorer, KMeansScorer, load_scorer
from pipeline.streaming import AlarmRule, alarm_events, alarm_states, fnv1a, min_latency_s, window_end_samples
from test_export import ae_export, kmeans_export  # noqa: F401  (session fixtures, built once)
from test_firmware import clip_files  # noqa: F401  (module fixture: real and synthetic clips)


def _brute_force(flags, n, m):
    return np.array([flags[max(0, t - m + 1):t + 1].sum() >= n for t in range(len(flags))])


def test_alarm_states_count_the_last_m_windows():
    rng = np.random.default_rng(0)
    for n, m in [(1, 1), (2, 3), (7, 10), (5, 5), (16, 32), (32, 32)]:
        flags = rng.random(300) < 0.6
        assert np.array_equal(alarm_states(flags, AlarmRule(n, m)), _brute_force(flags, n, m))
    # A lone flagged window never alarms at 7 of 10; seven in a row do, and the alarm holds three more.
    flags = np.zeros(30, bool)
    flags[3] = True
    assert not alarm_states(flags, AlarmRule()).any()
    flags[10:17] = True
    states = alarm_states(flags, AlarmRule())
    assert np.flatnonzero(states).tolist() == [16, 17, 18, 19]
    assert alarm_events(states) == 1 and alarm_events(np.array([True, False, True])) == 2


def test_alarm_rule_validation_and_parsing():
    assert AlarmRule.parse(" 3 / 8 ") == AlarmRule(3, 8)
    assert AlarmRule().to_dict() == {"n": 7, "m": 10}
    for text in ["7", "7/", "a/b", "7/10/2", ""]:
        with pytest.raises(FaultsynthError, match="N/M"):
            AlarmRule.parse(text)
    for n, m in [(0, 5), (6, 5), (1, 33), (1, 0)]:
        with pytest.raises(FaultsynthError, match="1 <= n <= m <= 32"):
            AlarmRule(n, m)
    with pytest.raises(FaultsynthError, match="integer"):
        AlarmRule(2.0, 4)


def test_window_timing_and_stated_latency():
    from pipeline.features import TINYML

    # TinyML: 1024-sample frames every 512 samples, 4 per window: window w is complete at 2560 + 512 w.
    assert window_end_samples(TINYML, 3, 10_000).tolist() == [2560, 3072, 3584]
    assert min_latency_s(TINYML, AlarmRule()) == pytest.approx((2560 + 6 * 512) / 16000)
    centred = replace(TINYML, center=True)
    assert window_end_samples(centred, 2, 10_000).tolist() == [2048, 2560]
    assert window_end_samples(centred, 2, 2100).tolist() == [2048, 2100]  # padded end completes the last


def test_kmeans_flags_compare_float32_distances():
    w = np.array([24, 25, 26], dtype=np.int64)  # distances 4.899, 5, 5.099
    one = np.ones(1, np.float32)
    assert KMeansScorer(gain=one, bias=one, threshold_real=5.0).window_flags(w).tolist() == [False, False, True]
    assert AutoencoderScorer(gain=one, bias=one, threshold_int=25).window_flags(w).tolist() == [False, False, True]


def _toggling_scorer(scorer: DeviceScorer, windows: np.ndarray, rule: AlarmRule) -> DeviceScorer:
    """The scorer with its threshold at the median window score, so that the alarm switches often."""
    if scorer.kind == "autoencoder":
        return replace(scorer, alarm=rule, threshold_int=int(np.median(windows)))
    return replace(scorer, alarm=rule, threshold_real=float(np.median(np.sqrt(windows.astype(np.float32)))))


@pytest.fixture(scope="module", params=["autoencoder", "kmeans"])
def toggling_build(request, ae_export, kmeans_export, clip_files, tmp_path_factory):  # noqa: F811
    """C sources and host build of each exported detector with a 3-of-5 alarm at a median threshold."""
    from pipeline.features import TINYML, extract

    _, out, _ = ae_export if request.param == "autoencoder" else kmeans_export
    scorer = load_scorer(out)
    features = [extract(TINYML, np.fromfile(f, dtype="<f4")) for f in clip_files]
    windows = np.concatenate([B.python_windows(scorer, x) for x in features])
    scorer = _toggling_scorer(scorer, windows, AlarmRule(3, 5))
    folder = tmp_path_factory.mktemp(f"stream-{request.param}")
    c_sources.write_c_sources(folder / "c", TINYML, scorer)
    exe = B.build_host(folder / "c", folder / "host")
    expected = [scorer.alarm_states(B.python_windows(scorer, x)) for x in features]
    return scorer, folder, exe, expected


def test_c_alarm_sequence_equals_python_on_the_host(toggling_build, clip_files):  # noqa: F811
    scorer, _, exe, expected = toggling_build
    toggles = 0
    for f, states in zip(clip_files, expected):
        _, c_states, clip = B.run_host_stream(exe, f, kind=scorer.kind)
        assert np.array_equal(c_states, states)
        assert clip.alarm == B.alarm_record(states)
        toggles += alarm_events(states)
    assert toggles >= 5  # the sequences compared do switch on and off


@pytest.mark.skipif(B.arm_tools() is None, reason=f"Cortex-M4 tools missing: {', '.join(B.missing_arm_tools())}")
def test_c_alarm_sequence_equals_python_on_the_cortex_m4(toggling_build, clip_files):  # noqa: F811
    scorer, folder, _, expected = toggling_build
    elf = B.build_m4(folder / "c", folder / "m4")
    run = B.run_qemu(elf, clip_files, kind=scorer.kind)
    assert [r.alarm for r in run.clips] == [B.alarm_record(s) for s in expected]


def test_alarm_digest_is_fnv1a_of_the_states():
    assert fnv1a(np.array([], bool)) == 0x811C9DC5
    h = 0x811C9DC5
    for byte in (1, 0, 1):
        h = ((h ^ byte) * 0x01000193) % 2 ** 32
    assert fnv1a(np.array([True, False, True])) == h


def test_export_records_the_alarm_and_the_c_tables_carry_it(ae_export, tmp_path):  # noqa: F811
    import json
    import re
    import shutil

    from pipeline.features import TINYML

    _, out, info = ae_export
    alarm = info["device"]["alarm"]
    assert (alarm["n"], alarm["m"]) == (7, 10)
    assert alarm["min_latency_s"] == pytest.approx(min_latency_s(TINYML, AlarmRule()))
    defs = dict(re.findall(r"#define (FS_\w+) (.+)", (out / "c" / "fs_params.h").read_text()))
    assert (int(defs["FS_ALARM_N"]), int(defs["FS_ALARM_M"])) == (7, 10)
    assert load_scorer(out).alarm == AlarmRule(7, 10)
    # An export.json without the rule (an older export) is refused with what to do.
    meta = json.loads((out / "export.json").read_text())
    del meta["device"]["alarm"]
    copy = tmp_path / "old-export"
    shutil.copytree(out, copy)
    (copy / "export.json").write_text(json.dumps(meta))
    with pytest.raises(FaultsynthError, match="export the model again"):
        load_scorer(copy)
