"""Documented contracts pinned to their exact definitions (a change to any of them must fail here)."""

from __future__ import annotations

import hashlib

import numpy as np

from datasets.synth import SynthConfig, clip_seed, synthesize


def test_per_clip_seed_is_the_seed_sequence_of_the_clip_index():
    """README: the per-clip seed comes from SeedSequence(seed, spawn_key=(index,)): two 32-bit words
    w0, w1 of its state, combined as (w0 << 31) ^ w1 (a 63-bit integer)."""
    for root, index in ((0, 0), (7, 3), (123, 9999)):
        w0, w1 = np.random.SeedSequence(root, spawn_key=(index,)).generate_state(2, np.uint32)
        assert clip_seed(root, index) == (int(w0) << 31) ^ int(w1)
    assert clip_seed(0, 0) == 8069282889424829228
    assert len({clip_seed(5, i) for i in range(100)}) == 100


#: sha256 of every file of a tiny dataset (fan, seed 11, one normal clip per split and one unbalance clip).
#: Changed on purpose when sound clips got the recording chain (generators/recording.py), when the fan's
#: level got the unsteady-inflow fluctuation (new build parameter inflow_rate_hz), and when the chain ran once
#: on machine plus fault and the background's chain moved into its spectrum.
GOLDEN_DIGESTS = {
    "fan/test/anomaly_id_00_00000000.wav": "f73a77c57d405d55eb84698a6bed62cf416eef4b5b4ad8d0f27cbc947912a6eb",
    "fan/test/normal_id_00_00000000.wav": "7feeb773ae58395459b6547f4b8df54b77b6c14f481bf065ed60282d216907c3",
    "fan/train/normal_id_00_00000000.wav": "4f462b56b85a6a86d8a3b321f89a768c51faec8b78f14f527e9e685e91695241",
}


def test_tiny_dataset_bytes_do_not_move(tmp_path):
    """A small dataset's bytes are pinned: a change to seeds, generators or WAV writing shows here."""
    records = synthesize(SynthConfig(machine="fan", faults=("unbalance",), severities=(1.0,), count=1,
                                     duration_s=0.25, seed=11), tmp_path / "d")
    digests = {r.path: hashlib.sha256(r.file.read_bytes()).hexdigest() for r in records}
    assert digests == GOLDEN_DIGESTS


def test_inject_gain_and_sum_are_exact(shared_data):
    """inject: gain = rms(segment) / rms(machine rendering), clip == segment + gain * fault (to the last bit)."""
    from datasets.audio import load_audio
    from datasets.blend import inject_clip
    from datasets.loaders import load_records
    from generators.noise import rms
    from generators.registry import get_machine, sample_clip_params

    record = load_records(shared_data / "mimii" / "fan" / "id_00" / "normal" / "00000000.wav")[0]
    segment = load_audio(record, channel=0)[:16000].astype(np.float64)
    result = inject_clip(segment, machine="fan", fault="unbalance", severity=0.7, sample_rate=16000, seed=42)
    # The same rendering, step by step, as the documented definition.
    generator = get_machine("fan")
    sample_seq, render_seq = np.random.SeedSequence(42).spawn(2)
    params = sample_clip_params(generator, np.random.default_rng(sample_seq), fault="unbalance", severity=0.7,
                                fixed={}, sample_rate=16000)
    params.update(sample_rate=16000, duration_s=1.0)
    parts = generator.render(params, duration_s=1.0, sample_rate=16000, rng=np.random.default_rng(render_seq))
    gain = rms(segment) / rms(parts.machine)
    assert result.params["inject_gain"] == gain
    np.testing.assert_array_equal(result.fault, gain * parts.fault)
    np.testing.assert_array_equal(result.signal, segment + gain * parts.fault)


def test_vibration_features_centre_padding_is_half_a_window_of_zeros():
    """center=True pads n_fft // 2 zeros on both sides, then frames as without padding."""
    from dataclasses import replace

    from pipeline.features import VIBRATION
    from pipeline.vibration_features import window_features

    y = np.random.default_rng(0).normal(size=12000)
    centred = replace(VIBRATION, center=True)
    pad = VIBRATION.n_fft // 2
    np.testing.assert_array_equal(window_features(centred, y),
                                  window_features(VIBRATION, np.pad(y, (pad, pad))))
    assert window_features(centred, y).shape[0] == 1 + y.size // VIBRATION.hop_length


def test_every_command_is_registered(cli):
    """cli.py fails loudly instead of dropping a command whose module does not import."""
    import cli as cli_module

    listing = cli("--help")
    assert listing.returncode == 0
    for name in ["synth", *cli_module.COMMANDS]:
        assert f" {name} " in listing.stdout, name
