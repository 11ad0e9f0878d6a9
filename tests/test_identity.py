"""Machine identity: one machine per id (build parameters), operating variation per clip, typos refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from errors import FaultsynthError
from generators.identity import clip_fixed, level_of, machine_build
from generators.registry import get_machine, machine_names, render_clip


def _params(root):
    from datasets.loaders import load_records

    return load_records(root)


def test_one_machine_per_id_and_different_machines_across_ids(tmp_path):
    from datasets.synth import SynthConfig, synthesize

    records = synthesize(SynthConfig(machine="fan", faults=("unbalance",), severities=(1.0,), count=3,
                                     duration_s=0.5, seed=4, ids=2), tmp_path / "d")
    by_id: dict[str, list] = {}
    for r in records:
        by_id.setdefault(r.machine_id, []).append(r.params)
    assert sorted(by_id) == ["id_00", "id_02"] and all(len(v) == 9 for v in by_id.values())
    for params in by_id.values():
        for name in ("blades", "housing_resonance_hz", "tonal_level_db", "turbulence_corner_hz"):
            assert len({p[name] for p in params}) == 1, name  # build: one value per machine
        rpms = [p["rpm"] for p in params]
        spread = {p.name: p.spread for p in get_machine("fan").declarations}["rpm"]
        assert spread > 0 and len(set(rpms)) > 1 and np.ptp(rpms) <= 2 * spread * max(rpms)  # operating
        assert len({p["level_rms"] for p in params}) > 1  # recording: per clip
    a, b = by_id["id_00"][0], by_id["id_02"][0]
    assert a["housing_resonance_hz"] != b["housing_resonance_hz"] and a["rpm"] != b["rpm"]


def test_per_clip_option_draws_every_clip_afresh(tmp_path):
    from datasets.synth import SynthConfig, synthesize

    records = synthesize(SynthConfig(machine="fan", count=4, duration_s=0.5, seed=4, per_clip=True), tmp_path / "d")
    assert len({r.params["housing_resonance_hz"] for r in records}) == len(records)
    assert {r.params["machine_identity"] for r in records} == {"per clip"}


def test_build_is_a_pure_function_of_seed_and_id():
    first = machine_build("pump", seed=1, machine_id="id_04", sample_rate=16000)
    assert first == machine_build("pump", seed=1, machine_id="id_04", sample_rate=16000)
    assert first != machine_build("pump", seed=1, machine_id="id_06", sample_rate=16000)
    assert first != machine_build("pump", seed=2, machine_id="id_04", sample_rate=16000)
    fixed = machine_build("pump", seed=1, machine_id="id_04", sample_rate=16000, fixed={"vanes": 5})
    assert fixed["vanes"] == 5


@pytest.mark.parametrize("machine", machine_names())
def test_every_machine_keeps_its_build_across_clips_and_faults(machine):
    generator = get_machine(machine)
    rate = generator.default_sample_rate
    fixed = {"rpm": 1797, "bearing": "6205"} if generator.kind == "vibration" else {}
    build = machine_build(machine, seed=3, machine_id="id_00", sample_rate=rate, fixed=fixed)
    per_clip = clip_fixed(machine, build, fixed)
    clips = [render_clip(machine, fault=fault, severity=0.5, duration_s=0.5, sample_rate=rate, seed=s,
                         fixed=per_clip).params
             for s, fault in enumerate(["none", *generator.faults])]
    for name, value in build.items():
        seen = [c[name] for c in clips if name in c]
        assert seen, name
        if level_of(machine, name) == "build":
            assert all(v == pytest.approx(value, rel=1e-9) if isinstance(value, float) else v == value
                       for v in seen), name
        elif isinstance(per_clip[name], tuple):
            lo, hi = per_clip[name]
            assert all(lo <= v <= hi for v in seen), name
        else:  # an operating value the user fixed (the known shaft speed) is not varied
            assert all(v == fixed[name] for v in seen), name
    assert all(level_of(machine, name) != "recording" for name in build)


@pytest.mark.parametrize("machine", machine_names())
def test_misspelt_parameter_is_refused_for_every_machine(machine):
    generator = get_machine(machine)
    name = generator.declarations[0].name
    typo = name[:-1] + ("x" if name[-1] != "x" else "y")
    with pytest.raises(FaultsynthError, match=f"unknown parameter.*{typo}.*did you mean '{name}'"):
        render_clip(machine, fault="none", severity=0.0, duration_s=0.2,
                    sample_rate=generator.default_sample_rate, seed=0, fixed={typo: 1.0})


def test_cli_refuses_a_typo_in_a_config_and_lists_levels(tmp_path, cli):
    config = tmp_path / "c.toml"
    config.write_text('machine = "fan"\ncount = 1\nduration = 0.5\n[params]\nrpmm = 1500\n')
    result = cli("synth", "--config", config, "--out", tmp_path / "o", "--quiet")
    assert result.returncode == 2 and "'rpmm' (did you mean 'rpm'?)" in result.stderr
    assert "Traceback" not in result.stderr
    listing = cli("synth", "--list")
    assert listing.returncode == 0 and "operating (+/-1 %)" in listing.stdout and "build" in listing.stdout


def test_inject_uses_one_synthetic_machine(tmp_path, shared_data):
    from datasets.blend import InjectConfig, inject

    source = shared_data / "mimii" / "fan" / "id_00" / "normal" / "00000000.wav"
    records = inject(source, InjectConfig(machine="fan", faults=("unbalance",), severities=(1.0,), count=2,
                                          duration_s=1.0, seed=1), tmp_path / "inj")
    injected = [r.params for r in records if r.label == "anomaly"]
    assert len(injected) == 2
    assert len({p["blades"] for p in injected}) == 1 and len({p["unbalance_tone_ratio"] for p in injected}) == 1
    assert abs(injected[0]["rpm"] - injected[1]["rpm"]) <= 0.02 * injected[0]["rpm"]
    meta = json.loads((tmp_path / "inj" / ".faultsynth" / "dataset.json").read_text())
    assert meta["config"]["per_clip"] is False
