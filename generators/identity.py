"""Machine identity: one machine's build drawn once per machine id.

Every generator parameter declares its level (:mod:`generators.parameters`):

* ``build``: a property of one machine, drawn once per machine id from (root
  seed, machine id): a fan's blade count, its housing resonance, a bearing's
  geometry and resonances, tone levels;
* ``operating``: varies from clip to clip within the parameter's ``spread``
  (relative half-width) around the machine's value: shaft speed, cycle time;
* ``recording``: drawn for every clip: where in its cycle a clip starts
  (phases), the recording gain, the direction of a voltage change, background
  noise colour and SNR, sensor.

A dataset of N machine ids is N machines: :func:`machine_build` draws the
build and operating values of one id, :func:`clip_fixed` turns them into the
``fixed`` mapping of each of its clips (build values fixed, operating values a
narrow range around the machine's). ``per_clip=True`` in the writers skips
this and draws everything per clip (domain randomisation).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from errors import FaultsynthError
from generators.parameters import Parameter

#: Spawn-key tag of build seeds (clip seeds use one-element keys, so these never collide with them).
_BUILD_TAG = 0xB111D


def _declarations(machine: str) -> dict[str, Parameter]:
    from generators.registry import declarations_of, get_machine

    return {p.name: p for p in declarations_of(get_machine(machine))}


def level_of(machine: str, name: str) -> str:
    """Level of parameter ``name`` of ``machine``: ``"build"``, ``"operating"`` or ``"recording"``."""
    return _declarations(machine)[name].level


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
        for p in generator.declarations:
            if p.name in params and p.name not in build and p.level != "recording":
                build[p.name] = params[p.name]
    if generator.kind == "audio":  # the installation: room, mounting, microphone and gain setting
        from generators.recording import draw_recording

        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(_BUILD_TAG, number,
                                                                                  len(generator.faults) + 1)))
        build.update(draw_recording(rng, sample_rate=sample_rate, fixed=fixed))
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
    declared = _declarations(machine)
    for name, value in build.items():
        if name in fixed and not isinstance(fixed[name], (list, tuple)):
            out[name] = fixed[name]  # a value the user knows (e.g. the shaft speed) is not varied
        elif declared[name].level == "operating" and isinstance(value, (int, float)) and not isinstance(value, bool):
            spread = declared[name].spread
            out[name] = (float(value) * (1 - spread), float(value) * (1 + spread))
        else:
            out[name] = value
    return out
