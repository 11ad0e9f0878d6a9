"""Induction motor driving the shaft: line-frequency hum and motor faults.

The motor has ``pole_pairs`` pole pairs and runs with slip s, so its supply
frequency is ``f = pole_pairs * shaft_hz / (1 - s)`` (an inverter-fed motor; if
the user fixes ``supply_hz``, e.g. 60 Hz mains, the slip follows from the
speed instead). Magnetic forces vibrate the stator at twice the line frequency
(2f, "line hum"), with a weaker component at f.

- ``broken_rotor_bar``: the rotor's magnetic asymmetry modulates the field at
  twice the slip frequency, giving sidebands at (1 +/- 2s) f and pole-pass
  sidebands around 1x (f_r +/- 2 s f).
- ``motor_eccentricity``: a non-uniform air gap raises the 2f component and
  adds sidebands at 2f +/- f_r (dynamic eccentricity).
"""

from __future__ import annotations

from typing import Any, Mapping, MutableMapping

import numpy as np

from errors import FaultsynthError
from generators.base import FaultSpec
from generators.parameters import FaultParameter, Fixed, Parameter
from generators.vibration_dsp import ShaftMotion, cosine, tones

FAULTS: dict[str, FaultSpec] = {
    "broken_rotor_bar": FaultSpec(
        "broken_rotor_bar", "cracked/broken rotor bars: sidebands at (1 +/- 2s) f_supply and f_r +/- 2 s f_supply",
        (FaultParameter("rotor_bar_sideband_g", 0.04, "g",
                        "peak at each of (1 - 2s) f and (1 + 2s) f; half that at f_r +/- 2 s f"),)),
    "motor_eccentricity": FaultSpec(
        "motor_eccentricity", "air-gap eccentricity: stronger 2x line frequency with sidebands at 2f +/- f_r",
        (FaultParameter("air_gap_eccentricity_pct", 50, "%", "of the nominal air gap"),
         FaultParameter("eccentricity_2f_g", 0.1, "g",
                        "0.002 g per % eccentricity, added at 2f (in phase); 0.3x that at 2f +/- f_r"))),
}

#: Healthy-motor parameters, in drawing order.
DECLARATIONS: tuple[Parameter, ...] = (
    Parameter("pole_pairs", "motor pole pairs", options=(1, 2)),
    Parameter("slip", "induction-motor slip, fraction", low=0.01, high=0.05),
    Parameter("line_2f_g", "healthy 2x line-frequency hum, peak", "g", low=0.003, high=0.02, log=True),
    Parameter("line_1f_ratio", "healthy 1x line-frequency component relative to 2f", low=0.05, high=0.3),
    Parameter("motor_phase_rad", "phases of 2f, f and the three fault components", "rad", count=5,
              level="recording"),
    Parameter("supply_hz", "supply frequency (fixing it sets the slip)", "Hz",
              derived="pole_pairs*shaft_hz/(1 - slip)"),
)


def derive(params: MutableMapping[str, Any], *, fixed: Fixed, fault: str, shaft_hz: float) -> None:
    """Add ``supply_hz`` (from the slip), or the slip (from a fixed ``supply_hz``), to ``params``."""
    del fault
    pole_pairs, slip = int(params["pole_pairs"]), float(params["slip"])
    if "supply_hz" in fixed:
        supply = float(params["supply_hz"])
        if "pole_pairs" not in fixed:
            pole_pairs = max(1, int(np.floor(supply / shaft_hz)))
        slip = 1 - pole_pairs * shaft_hz / supply
        if not (0 <= slip < 0.2):
            raise FaultsynthError(
                f"supply_hz = {supply} Hz with {pole_pairs} pole pair(s) and shaft {shaft_hz * 60:.0f} rpm gives "
                f"slip {slip:.3f}: expected 0 <= slip < 0.2 (supply_hz just above pole_pairs*rpm/60)")
    elif not (0 <= slip < 0.2):
        raise FaultsynthError(f"slip must be within [0, 0.2), got {slip}")
    else:
        supply = pole_pairs * shaft_hz / (1 - slip)
    params.update(pole_pairs=pole_pairs, slip=float(slip), supply_hz=float(supply))


def characteristic_frequencies(params: Mapping[str, Any]) -> dict[str, float]:
    """Motor frequencies (Hz) that must lie below Nyquist."""
    return {"supply_hz": float(params["supply_hz"]), "2x supply_hz": 2 * float(params["supply_hz"])}


def render(params: Mapping[str, Any], *, motion: ShaftMotion, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """Healthy line hum and the motor fault component (g).

    Returns
    -------
    machine : ndarray, shape (motion.n,), float32, g
    fault : ndarray, shape (motion.n,), float32, g; None for no motor fault
    """
    del rng  # deterministic
    n, fs = motion.n, motion.sample_rate
    f = float(params["supply_hz"])
    s = float(params["slip"])
    nyquist = fs / 2
    if f * (1 + 2 * s) >= nyquist or 2 * f + motion.shaft_hz >= nyquist:
        raise FaultsynthError(f"motor sidebands around {2 * f:.1f} Hz reach the Nyquist frequency "
                              f"({nyquist:.0f} Hz): raise the sample rate")
    ph = np.exp(1j * np.asarray(params["motor_phase_rad"]))
    a2 = float(params["line_2f_g"])
    machine = tones([(f, a2 * float(params["line_1f_ratio"]) * ph[1]), (2 * f, a2 * ph[0])], n, fs, np.float32)
    name = params.get("fault", "none")
    if name == "broken_rotor_bar":
        b = float(params["rotor_bar_sideband_g"])
        # (1 +/- 2s) f around the line, and f_r +/- 2sf (pole-pass sidebands: 1x times the beat at
        # twice the slip frequency) around 1x.
        fault = cosine(motion.cycles(), abs(b * ph[4]), np.angle(b * ph[4]))
        fault *= tones([(2 * s * f, 1.0)], n, fs, np.float32)
        fault += tones([((1 + 2 * s) * f, b * ph[2]), ((1 - 2 * s) * f, b * ph[3])], n, fs, np.float32)
    elif name == "motor_eccentricity":
        e = float(params["eccentricity_2f_g"])
        # Static part in phase with the healthy 2f hum; dynamic part as sidebands at 2f +/- f_r:
        # Re(line**2 * d) with d = ph2 exp(j angle) + ph3 exp(-j angle) of the shaft.
        c_re, c_im = 0.3 * e * (ph[2] + np.conj(ph[3])), 0.3 * e * (-1j * ph[2] + 1j * np.conj(ph[3]))
        d_re = cosine(motion.cycles(), abs(c_re), np.angle(c_re))
        d_im = cosine(motion.cycles(), abs(c_im), np.angle(c_im))
        d_re *= tones([(2 * f, 1.0)], n, fs, np.float32)
        d_im *= tones([(2 * f, -1j)], n, fs, np.float32)
        fault = np.subtract(d_re, d_im, out=d_re)
        fault += tones([(2 * f, e * ph[0])], n, fs, np.float32)
    else:
        fault = None
    return machine, fault
