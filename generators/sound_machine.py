"""Base class of the machine-sound generators (fan, pump, valve, slider, toy car, conveyor).

:class:`AudioMachine` implements the :class:`generators.base.Machine` protocol once:
it draws the declared parameters (:mod:`generators.parameters`), adds the fault
parameters that severity maps to, and renders the faulty clip and the normal clip
from the same random draws so that ``Parts.fault`` is exactly their difference.
A machine subclass only declares its parameters and faults and writes
``_synthesise``, which draws the stochastic parts once and renders the fault
component directly where the fault adds to the normal sound (building blocks:
:mod:`generators.sound_dsp`).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from errors import FaultsynthError
from generators.base import Event, FaultSpec, Parts, check_below_nyquist, check_fault, check_severity
from generators.parameters import Fixed, Parameter, sample_all

#: Peak (full scale = 1) above which the normal rendering is scaled down (headroom for faults).
PEAK_LIMIT = 0.5


def level_rms_parameter(low: float = 0.05, high: float = 0.1) -> Parameter:
    """The ``level_rms`` parameter every sound machine has (recording level: the microphone gain)."""
    return Parameter("level_rms", "RMS of the normal machine sound, full scale = 1 "
                     f"(lowered if its peak would exceed {PEAK_LIMIT:g})", low=low, high=high, level="recording")


def voltage_sign_parameter() -> Parameter:
    """Direction of a supply-voltage change (signs the speed change of ``voltage_change`` faults)."""
    return Parameter("voltage_sign", "direction of a voltage change: -1 low, +1 high", options=(-1.0, 1.0),
                     level="recording")


class AudioMachine:
    """Base of the sound generators (implements :class:`generators.base.Machine`).

    Subclasses set ``name``, ``declarations`` (tuple of :class:`generators.parameters.Parameter`,
    including :func:`level_rms_parameter`), ``faults`` (name -> :class:`FaultSpec`) and
    implement :meth:`_characteristic_hz` and :meth:`_synthesise`.
    """

    name: str = ""
    kind: str = "audio"
    default_sample_rate: int = 16000
    declarations: tuple[Parameter, ...] = ()
    faults: Mapping[str, FaultSpec] = {}

    # -- to implement ---------------------------------------------------------------------------
    def _characteristic_hz(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Characteristic frequencies (Hz) that must lie below Nyquist, by name."""
        raise NotImplementedError

    def _synthesise(self, params: Mapping[str, Any], *, n_samples: int, sample_rate: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, list[Event]]:
        """Normal machine sound (arbitrary scale); the fault component; and the fault events.

        The fault component is the faulty minus the normal rendering from the same random
        draws (None when ``params["fault"]`` is ``"none"``).
        """
        raise NotImplementedError

    # -- protocol -------------------------------------------------------------------------------
    def sample_params(self, rng: np.random.Generator, *, fault: str, severity: float, fixed: Fixed,
                      sample_rate: int | None = None) -> dict:
        """Draw every physical parameter of one clip (the label).

        Parameters
        ----------
        rng : numpy.random.Generator
        fault : str
            ``"none"`` or one of :attr:`faults`.
        severity : float
            0..1 (ignored when ``fault == "none"``).
        fixed : mapping
            User-fixed parameters: a value or a ``(low, high)`` range.
        sample_rate : int, optional
            Hz: default frequency ranges are scaled down to stay below Nyquist.

        Returns
        -------
        dict
            Declared parameters, fault parameters, ``fault`` and ``severity``.
        """
        check_fault(self, fault)
        severity = 0.0 if fault == "none" else check_severity(severity)
        params: dict[str, Any] = sample_all(self.declarations, rng, fixed, fault=fault, sample_rate=sample_rate)
        if fault != "none":
            params.update(self.faults[fault].values(severity, params))
        params.update(fault=fault, severity=severity)
        return params

    def render(self, params: Mapping[str, Any], *, duration_s: float, sample_rate: int,
               rng: np.random.Generator) -> Parts:
        """Render the normal and fault parts of one clip.

        Parameters
        ----------
        params : mapping
            From :meth:`sample_params`.
        duration_s : float
            Clip length in seconds.
        sample_rate : int
            Hz.
        rng : numpy.random.Generator
            Drives the stochastic parts (turbulence, jitter, impact times).

        Returns
        -------
        Parts
            ``machine`` and ``fault``: ndarray, shape (round(duration_s*sample_rate),), float64,
            full-scale units; ``fault`` is the faulty minus the normal rendering of the same clip.
        """
        if not (np.isfinite(duration_s) and duration_s > 0):
            raise FaultsynthError(f"duration must be a positive number of seconds, got {duration_s!r}")
        sample_rate = int(sample_rate)
        if sample_rate <= 0:
            raise FaultsynthError(f"sample rate must be a positive whole number of Hz, got {sample_rate!r}")
        fault = str(params.get("fault", "none"))
        check_fault(self, fault)
        missing = [p.name for p in self.declarations if p.name not in params and (not p.faults or fault in p.faults)]
        if missing:
            raise FaultsynthError(f"{self.name}: parameters missing {missing}: expected the dict from sample_params")
        for name, hz in self._characteristic_hz(params).items():
            check_below_nyquist(name, hz, sample_rate)
        n = int(round(duration_s * sample_rate))
        normal, fault_part, events = self._synthesise(params, n_samples=n, sample_rate=sample_rate, rng=rng)
        gain = _level_gain(normal, float(params["level_rms"]))
        machine = np.multiply(normal, gain, dtype=np.float64)
        if fault == "none":
            return Parts(machine=machine, fault=np.zeros(n))
        return Parts(machine=machine, fault=np.multiply(fault_part, gain, dtype=np.float64), events=events)


def _level_gain(normal: np.ndarray, level_rms: float) -> float:
    """Gain bringing ``normal`` to ``level_rms`` RMS, lowered so that its peak stays below PEAK_LIMIT."""
    if not (np.isfinite(level_rms) and level_rms > 0):
        raise FaultsynthError(f"level_rms must be a positive number, got {level_rms!r}")
    r = float(np.sqrt(np.mean(np.square(normal), dtype=np.float64))) if normal.size else 0.0
    if not (np.isfinite(r) and r > 0):
        raise FaultsynthError("the machine rendered silence or non-finite samples: check its parameters")
    gain = level_rms / r
    peak = max(float(np.max(normal)), -float(np.min(normal))) * gain
    return gain * min(1.0, PEAK_LIMIT / peak)
