"""The declarative parameter system: one sampler, one check, one listing, one fault table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from errors import FaultsynthError
from generators.parameters import FaultParameter, Parameter
from generators.registry import declarations_of, fault_table_markdown, get_machine, machine_names

ROOT = Path(__file__).resolve().parents[1]


def _draw(machine, fault, fixed):
    generator = get_machine(machine)
    return generator.sample_params(np.random.default_rng(7), fault=fault, severity=0.5, fixed=fixed,
                                   sample_rate=generator.default_sample_rate)


@pytest.mark.parametrize("machine", machine_names())
def test_fixing_one_parameter_leaves_every_other_draw_unchanged(machine):
    # One uniform per scalar (count per phase list), fixed or not: fixing a value never shifts the others.
    generator = get_machine(machine)
    for fault in ("none", *generator.faults):
        drawn = _draw(machine, fault, {})
        for p in generator.declarations:
            if p.name not in drawn or p.derived or p.name == "bearing":
                continue
            again = _draw(machine, fault, {p.name: drawn[p.name]})
            assert again == drawn, (fault, p.name)


@pytest.mark.parametrize("machine", machine_names())
def test_every_declaration_is_complete_and_named_once(machine):
    declarations = declarations_of(get_machine(machine))
    names = [p.name for p in declarations]
    assert len(names) == len(set(names))
    for p in declarations:
        assert p.doc and p.level in ("build", "operating", "recording"), p.name
        assert (p.level == "operating") == (p.spread > 0), p.name
        if p.name.endswith("_hz"):
            assert p.unit == "Hz", p.name
    assert sum(p.level == "operating" for p in declarations) == 1  # the machine's speed or cycle time


@pytest.mark.parametrize("machine", machine_names())
def test_every_fault_parameter_in_a_label_is_declared_by_its_fault(machine):
    generator = get_machine(machine)
    declared = {p.name for p in declarations_of(generator)}
    for fault, spec in generator.faults.items():
        params = _draw(machine, fault, {})
        mapped = {p.name for p in spec.parameters}
        for p in spec.parameters:
            assert p.name in params, (fault, p.name)
            if p.per_severity is not None:
                assert params[p.name] == pytest.approx(p.value(0.5, params)), (fault, p.name)
        normal = _draw(machine, "none", {})
        added = set(params) - set(normal) - declared
        assert added <= mapped, (fault, added - mapped)


def test_integer_and_choice_draws_give_every_value_its_chance():
    teeth = Parameter("teeth", "teeth", low=3, high=5, integer=True)
    values = [teeth.sample(np.random.default_rng(s), {}) for s in range(600)]
    counts = np.bincount(values)[3:]
    assert set(values) == {3, 4, 5} and counts.min() > 150
    ranged = [teeth.sample(np.random.default_rng(s), {"teeth": (7, 8)}) for s in range(200)]
    assert set(ranged) == {7, 8}
    with pytest.raises(FaultsynthError, match="whole number"):
        teeth.sample(np.random.default_rng(0), {"teeth": 4.5})
    mains = Parameter("mains_hz", "mains", "Hz", options=(50.0, 60.0))
    assert mains.sample(np.random.default_rng(0), {"mains_hz": 60}) == 60.0
    with pytest.raises(FaultsynthError, match="expected one of 50, 60"):
        mains.sample(np.random.default_rng(0), {"mains_hz": 55})


def test_a_fixed_value_keeps_the_sign_of_its_range():
    rate = Parameter("rate_hz", "a rate", "Hz", low=1.0, high=2.0)
    with pytest.raises(FaultsynthError, match="expected a positive value"):
        rate.sample(np.random.default_rng(0), {"rate_hz": -3})
    level = Parameter("level_db", "a level", "dB", low=0.0, high=6.0)
    assert level.sample(np.random.default_rng(0), {"level_db": -3}) == -3.0  # dB may be negative


def test_fault_parameter_formula_and_text_agree():
    impact = FaultParameter("rub_impact_g", 1.5, "g", "peak impact", speed_scaled=True)
    assert impact.value(0.4, {"shaft_hz": 60.0}) == pytest.approx(1.5 * 0.4 * 2)
    assert impact.describe() == "rub_impact_g: 1.5*severity*shaft_hz/30 g, peak impact"
    signed = FaultParameter("speed_change_fraction", 0.2, signed_by="voltage_sign")
    assert signed.value(0.5, {"voltage_sign": -1.0}) == pytest.approx(-0.1)
    gain = FaultParameter("release_gain", 0.3, offset=1.0)
    assert gain.value(1.0, {}) == pytest.approx(1.3) and gain.describe() == "release_gain: 1 + 0.3*severity"


def test_readme_fault_table_is_the_declared_one():
    readme = (ROOT / "README.md").read_text()
    assert fault_table_markdown() in readme + "\n", "README fault table differs from the declarations"


def test_synth_list_prints_ranges_units_and_levels():
    out = subprocess.run([sys.executable, "cli.py", "synth", "--list"], cwd=ROOT, capture_output=True, text=True,
                         env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"}, check=True).stdout
    assert "uniform 900..3000 rpm" in out and "operating (+/-1 %)" in out  # fan speed
    assert "log-uniform 1000..3500 Hz" in out  # bearing resonance
    assert "one of white, pink, brown" in out and "whole number 3..12" in out
