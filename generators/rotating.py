"""Rotating machines: a motor-driven shaft on rolling-element bearings, with or without a gear stage.

``BEARING``: induction motor + shaft + bearings (shaft, bearing and motor faults).
``GEARBOX``: the same plus one gear stage (gear faults too).

Every clip's parameters (the label) include ``rpm``, the characteristic
frequencies (``shaft_hz``, ``ftf_hz``, ``bpfo_hz``, ``bpfi_hz``, ``bsf_hz``,
``supply_hz``, ``mesh_hz``), the structural resonances, and, after rendering,
``velocity_rms_mm_s`` (10..1000 Hz RMS velocity of machine + fault, without
background noise) and ``iso10816_zone`` for ISO 10816-1 class I machines (small
machines up to 15 kW: zone A < 0.71 mm/s, B < 1.8, C < 4.5, D above).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Mapping, MutableMapping

import numpy as np

from errors import FaultsynthError
from generators import bearing, gear, motor, shaft
from generators.base import FaultSpec, Parts, check_below_nyquist, check_fault
from generators.parameters import Fixed, Parameter, sample_all
from generators.registry import check_fixed
from generators.vibration_analysis import ISO10816_CLASS, iso10816_zone, velocity_rms_mm_s
from generators.vibration_dsp import shaft_motion

#: Default speed range (rpm) when the user does not fix ``rpm``.
RPM_RANGE = (600.0, 3600.0)
#: Default range of the main structural resonance (Hz); CWRU's drive end rings near 3 kHz.
RESONANCE_RANGE_HZ = (1000.0, 3500.0)

#: The shaft speed and the structure every component's vibration passes through.
STRUCTURE: tuple[Parameter, ...] = (
    Parameter("rpm", "shaft speed", "rpm", low=RPM_RANGE[0], high=RPM_RANGE[1], level="operating", spread=0.005),
    Parameter("resonance_hz", "main structural resonance excited by impacts (scaled below Nyquist at low sample "
              "rates; fix it below Nyquist for slower sensors)", "Hz", low=RESONANCE_RANGE_HZ[0],
              high=RESONANCE_RANGE_HZ[1], log=True),
    Parameter("damping_ratio", "damping ratio of the structural resonances", low=0.02, high=0.1),
    Parameter("resonance2_ratio", "second resonance as a fraction of the main one", low=0.35, high=0.7),
    Parameter("resonance2_gain", "second resonance's peak relative to the main one", low=0.2, high=0.6),
)


@dataclass(frozen=True)
class RotatingMachine:
    """A motor-driven shaft machine assembled from component modules.

    Attributes
    ----------
    name : str
        Machine name (``"bearing"`` or ``"gearbox"``).
    components : tuple of module
        Component modules (``shaft``, ``bearing``, ``motor``, ``gear``), each with
        ``FAULTS``, ``DECLARATIONS`` and ``render`` (machine and fault parts, float32 or float64;
        the fault part None when the component has no fault to render), and optionally ``derive``
        (parameters computed from the drawn ones) and ``characteristic_frequencies``.
    default_sample_rate : int
        Hz.
    """

    name: str
    components: tuple[ModuleType, ...]
    default_sample_rate: int = 12000
    kind: str = "vibration"
    faults: dict[str, FaultSpec] = field(init=False)
    declarations: tuple[Parameter, ...] = field(init=False)

    def __post_init__(self) -> None:
        faults: dict[str, FaultSpec] = {}
        for component in self.components:
            faults.update(component.FAULTS)
        object.__setattr__(self, "faults", faults)
        object.__setattr__(self, "declarations",
                           STRUCTURE + tuple(p for c in self.components for p in c.DECLARATIONS))

    def sample_params(self, rng: np.random.Generator, *, fault: str, severity: float, fixed: Fixed,
                      sample_rate: int | None = None) -> dict:
        """Draw every physical parameter of one clip.

        Parameters
        ----------
        rng : numpy.random.Generator
        fault : str
            ``"none"`` or one of :attr:`faults`.
        severity : float
            0..1.
        fixed : mapping
            User-fixed parameters: a value or a (low, high) range, e.g.
            ``{"rpm": 1797, "bearing": "6205", "resonance_hz": 3000}``.
        sample_rate : int, optional
            Hz: the default resonance range is scaled down to stay below Nyquist.

        Returns
        -------
        dict
            JSON-serialisable parameters, including ``rpm``, ``shaft_hz`` and the
            characteristic frequencies.
        """
        check_fault(self, fault)
        check_fixed(self, fixed)
        params: dict[str, Any] = {"fault": fault, "severity": float(severity)}
        params.update(sample_all(STRUCTURE, rng, fixed, fault=fault, sample_rate=sample_rate))
        shaft_hz = params["shaft_hz"] = params["rpm"] / 60.0
        if not 0 < params["damping_ratio"] < 1:
            raise FaultsynthError(f"damping_ratio must be within (0, 1), got {params['damping_ratio']}")
        for component in self.components:
            # Each component consumes the same draws whatever the fault, so a clip's healthy part
            # does not depend on which fault is rendered.
            part = sample_all(component.DECLARATIONS, rng, fixed, fault=fault, sample_rate=sample_rate)
            if fault in component.FAULTS:
                part.update(component.FAULTS[fault].values(severity, {"shaft_hz": shaft_hz}))
            if hasattr(component, "derive"):
                component.derive(part, fixed=fixed, fault=fault, shaft_hz=shaft_hz)
            params.update(part)
        params["iso10816_class"] = ISO10816_CLASS
        return params

    def render(self, params: Mapping[str, Any], *, duration_s: float, sample_rate: int,
               rng: np.random.Generator) -> Parts:
        """Render the machine and fault parts (g).

        If ``params`` is a mutable mapping, ``velocity_rms_mm_s`` and
        ``iso10816_zone`` of the rendered machine + fault are added to it.

        Parameters
        ----------
        params : mapping
            From :meth:`sample_params`.
        duration_s : float
            Seconds.
        sample_rate : int
            Hz.
        rng : numpy.random.Generator
            Drives noise, slip and impact jitter.

        Returns
        -------
        Parts
            ``machine`` and ``fault``, shape (round(duration_s*sample_rate),), float64, g.
        """
        n = int(round(duration_s * sample_rate))
        if n < 2:
            raise FaultsynthError(f"a clip needs at least 2 samples, got duration {duration_s} s at {sample_rate} Hz")
        self.check_frequencies(params, sample_rate)
        motion = shaft_motion(params, n_samples=n, sample_rate=sample_rate)
        # Components render in float32 or float64; the parts are summed in float64 arrays of their own
        # (not rows of the motion's scratch block, which the parts would otherwise keep alive).
        machines, faults = [], []
        for component, child in zip(self.components, rng.spawn(len(self.components))):
            part_machine, part_fault = component.render(params, motion=motion, rng=child)
            machines.append(part_machine)
            if part_fault is not None:
                faults.append(part_fault)
        machine, fault = _sum(machines, n), _sum(faults, n)
        if isinstance(params, MutableMapping):
            velocity = velocity_rms_mm_s(np.add(machine, fault, out=motion.scratch(np.float32)), sample_rate)
            params["velocity_rms_mm_s"] = velocity
            params["iso10816_zone"] = iso10816_zone(velocity)
        return Parts(machine=machine, fault=fault, events=[])

    def check_frequencies(self, params: Mapping[str, Any], sample_rate: int) -> None:
        """Raise if a characteristic frequency or a resonance is at or above Nyquist."""
        resonance = float(params["resonance_hz"])
        if resonance >= sample_rate / 2:
            raise FaultsynthError(
                f"resonance_hz = {resonance:.1f} Hz is at or above the Nyquist frequency ({sample_rate / 2:.0f} Hz "
                f"at {sample_rate} Hz sampling): raise --sample-rate or fix resonance_hz below {sample_rate / 2:.0f}")
        frequencies = {"shaft_hz": float(params["shaft_hz"])}
        for component in self.components:
            if hasattr(component, "characteristic_frequencies"):
                frequencies.update(component.characteristic_frequencies(params))
        for name, value in frequencies.items():
            check_below_nyquist(name, value, sample_rate)


def _sum(parts: list[np.ndarray], n: int) -> np.ndarray:
    """Sum of float32/float64 arrays of ``n`` samples as a new float64 array (zeros if there are none).

    The float32 parts are summed in float32 first (their own precision), so that one float64 pass adds them.
    """
    singles = [p for p in parts if p.dtype == np.float32]
    doubles = [p for p in parts if p.dtype != np.float32]
    if len(singles) > 1:
        single = np.add(singles[0], singles[1])
        for part in singles[2:]:
            single += part
        singles = [single]
    parts = singles + doubles
    if not parts:
        return np.zeros(n)
    total = np.add(parts[0], parts[1], dtype=np.float64) if len(parts) > 1 else parts[0].astype(np.float64)
    for part in parts[2:]:
        total += part
    return total


BEARING = RotatingMachine(name="bearing", components=(shaft, bearing, motor))
GEARBOX = RotatingMachine(name="gearbox", components=(shaft, bearing, motor, gear))
