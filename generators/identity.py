"""Machine identity: parameter levels, and one machine's build drawn once per machine id.

Every generator parameter has a level:

* ``build``: a property of one machine, drawn once per machine id from (root
  seed, machine id): a fan's blade count, its housing resonance, a bearing's
  geometry and resonances, tone levels. Every parameter not declared otherwise.
* ``operating``: varies from clip to clip around the machine's value, within
  :data:`OPERATING` (relative half-width): shaft speed, cycle time.
* ``recording``: drawn for every clip: where in its cycle a clip starts
  (phases), the recording gain, the direction of a voltage change, background
  noise colour and SNR, sensor (:data:`PER_CLIP`, and the registry's common parameters).

A dataset of N machine ids is N machines: :func:`machine_build` draws the
build and operating values of one id, :func:`clip_fixed` turns them into the
``fixed`` mapping of each of its clips (build values fixed, operating values a
narrow range around the machine's). ``per_clip=True`` in the writers skips
this and draws everything per clip (domain randomisation, as before).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from errors import FaultsynthError

LEVELS = ("build", "operating", "recording")

#: Operating parameters per machine: name -> relative half-width of the per-clip variation.
OPERATING: dict[str, dict[str, float]] = {
    "bearing": {"rpm": 0.005},
    "gearbox": {"rpm": 0.005},
    "fan": {"rpm": 0.01},
    "pump": {"rpm": 0.01},
    "valve": {"cycle_s": 0.02},
    "slider": {"cycle_s": 0.02},
    "toycar": {"motor_rpm": 0.03},
    "toyconveyor": {"motor_rpm": 0.03},
}

#: Machine parameters drawn for every clip (recording level): where the clip starts, gain, fault direction.
PER_CLIP: frozenset[str] = frozenset({
    "level_rms", "voltage_sign", "start_s", "cycle_phase", "damage_position", "object_position",
    "shaft_phase_rad", "fault_phase_rad", "defect_phase_rad", "speed_fluctuation_phase_rad", "motor_phase_rad",
    "gear_phase_rad"})

#: Spawn-key tag of build seeds (clip seeds use one-element keys, so these never collide with them).
_BUILD_TAG = 0xB111D


def level_of(machine: str, name: str) -> str:
    """Level of parameter ``name`` of ``machine``: ``"build"``, ``"operating"`` or ``"recording"``."""
    from generators.registry import COMMON_PARAMETERS

    if name in OPERATING.get(machine, {}):
        return "operating"
    from generators.recording import RECORDING_PARAMETERS

    if name in PER_CLIP or name in COMMON_PARAMETERS:
        return "recording"
    return next((p.level for p in RECORDING_PARAMETERS if p.name == name), "build")


def machine_number(machine_id: str) -> int:
    """``"id_04"`` -> 4; a clear error for anything else."""
    if not (isinstance(machine_id, str) and machine_id.startswith("id_") and machine_id[3:].isdigit()):
        raise FaultsynthError(f"machine id must look like id_00, got {machine_id!r}")
    return int(machine_id[3:])


def machine_build(machine: str, *, seed: int, machine_id: str, sample_rate: int,
                  fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build and operating parameters of one machine, a pure function of (seed, machine id).

    Parameters
    ----------
    machine : str
        Generator name.
    seed : int
        Root seed of the dataset.
    machine_id : str
        e.g. ``"id_02"``.
    sample_rate : int
        Hz of its clips (frequency ranges stay below Nyquist).
    fixed : mapping, optional
        User-fixed values or ``(low, high)`` ranges; the machine is drawn within them.

    Returns
    -------
    dict
        Parameter name -> value, for every build and operating parameter the
        generator draws (for normal clips and for each of its faults).
    """
    from generators.registry import check_fixed, get_machine

    generator = get_machine(machine)
    fixed = dict(fixed or {})
    check_fixed(generator, fixed)
    number = machine_number(machine_id)
    build: dict[str, Any] = {}
    # Some parameters only exist for some faults (a fan's stall ratio): draw the machine for each, in one order.
    for k, fault in enumerate(("none", *generator.faults)):
        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(_BUILD_TAG, number, k)))
        params = generator.sample_params(rng, fault=fault, severity=0.0 if fault == "none" else 0.5,
                                         fixed=fixed, sample_rate=sample_rate)
        for name in generator.parameters:
            if name in params and name not in build and level_of(machine, name) != "recording":
                build[name] = params[name]
    if generator.kind == "audio":  # the installation: room, mounting and microphone of this machine
        from generators.recording import RECORDING_PARAMETERS, draw_recording

        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(_BUILD_TAG, number,
                                                                                  len(generator.faults) + 1)))
        drawn = draw_recording(rng, sample_rate=sample_rate, fixed=fixed)
        build.update({p.name: drawn[p.name] for p in RECORDING_PARAMETERS if p.level == "build"})
    return build


def clip_fixed(machine: str, build: Mapping[str, Any], fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``fixed`` mapping of one clip of the machine ``build`` describes.

    Build values are fixed; operating values become a range of their relative
    half-width around the machine's value, unless the user fixed them to one
    value; the user's other fixed values pass through (the user's ranges for
    build parameters were used to draw the build).

    Returns
    -------
    dict
    """
    fixed = dict(fixed or {})
    out = {k: v for k, v in fixed.items() if k not in build}
    spread = OPERATING.get(machine, {})
    for name, value in build.items():
        if name in fixed and not isinstance(fixed[name], (list, tuple)):
            out[name] = fixed[name]  # a value the user knows (e.g. the shaft speed) is not varied
        elif name in spread and isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = (float(value) * (1 - spread[name]), float(value) * (1 + spread[name]))
        else:
            out[name] = value
    return out
