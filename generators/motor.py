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

from typing import Any, Mapping

import numpy as np

from errors import FaultsynthError
from generators.base import FaultSpec, Fixed, draw
from generators.vibration_dsp import ShaftMotion, draw_choice, draw_phases, tones

FAULTS: dict[str, FaultSpec] = {
    "broken_rotor_bar": FaultSpec(
        "broken_rotor_bar", "cracked/broken rotor bars: sidebands at (1 +/- 2s) f_supply and f_r +/- 2 s f_supply",
        ("rotor_bar_sideband_g: 0.04*severity g peak at each of (1 - 2s) f and (1 + 2s) f; "
         "half that at f_r +/- 2 s f",)),
    "motor_eccentricity": FaultSpec(
        "motor_eccentricity", "air-gap eccentricity: stronger 2x line frequency with sidebands at 2f +/- f_r",
        ("air_gap_eccentricity_pct: 50*severity % of the nominal air gap",
         "eccentricity_2f_g: 0.002 g per % eccentricity added at 2f (in phase); 0.3x that at 2f +/- f_r")),
}

PARAMETERS: dict[str, str] = {
    "pole_pairs": "motor pole pairs: 1 or 2 (default: drawn)",
    "slip": "induction-motor slip, fraction (default 0.01..0.05)",
    "supply_hz": "supply frequency, Hz (default: pole_pairs*shaft_hz/(1-slip); fixing it sets the slip)",
    "line_2f_g": "healthy 2x line-frequency hum, g peak (default 0.003..0.02, log)",
    "line_1f_ratio": "healthy 1x line-frequency component relative to 2f (default 0.05..0.3)",
    "motor_phase_rad": "phases of 2f, f and the three fault components, rad (default: uniform)",
}


def sample(rng: np.random.Generator, fixed: Fixed, *, fault: str, severity: float, shaft_hz: float) -> dict:
    """Draw the motor parameters (all draws happen whatever the fault).

    Returns
    -------
    dict
        ``pole_pairs``, ``slip``, ``supply_hz``, hum amplitudes and the active fault's parameters.
    """
    pole_pairs = int(draw_choice(rng, fixed, "pole_pairs", [1, 2]))
    slip = draw(rng, fixed, "slip", 0.01, 0.05)
    line_2f = draw(rng, fixed, "line_2f_g", 0.003, 0.02, log=True)
    line_1f_ratio = draw(rng, fixed, "line_1f_ratio", 0.05, 0.3)
    phases = draw_phases(rng, fixed, "motor_phase_rad", 5)
    if "supply_hz" in fixed:
        supply = float(fixed["supply_hz"])
        if not (np.isfinite(supply) and supply > 0):
            raise FaultsynthError(f"supply_hz must be a positive number of Hz, got {fixed['supply_hz']!r}")
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
    p: dict[str, Any] = {"pole_pairs": pole_pairs, "slip": float(slip), "supply_hz": float(supply),
                         "line_2f_g": line_2f, "line_1f_ratio": line_1f_ratio, "motor_phase_rad": phases}
    if fault == "broken_rotor_bar":
        p["rotor_bar_sideband_g"] = 0.04 * severity
    elif fault == "motor_eccentricity":
        p["air_gap_eccentricity_pct"] = 50.0 * severity
        p["eccentricity_2f_g"] = 0.002 * 50.0 * severity
    return p


def characteristic_frequencies(params: Mapping[str, Any]) -> dict[str, float]:
    """Motor frequencies (Hz) that must lie below Nyquist."""
    return {"supply_hz": float(params["supply_hz"]), "2x supply_hz": 2 * float(params["supply_hz"])}


def render(params: Mapping[str, Any], *, motion: ShaftMotion, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """Healthy line hum and the motor fault component (g).

    Returns
    -------
    machine, fault : ndarray, shape (motion.n,), float64, g
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
    machine = tones([(f, a2 * float(params["line_1f_ratio"]) * ph[1]), (2 * f, a2 * ph[0])], n, fs)
    name = params.get("fault", "none")
    if name == "broken_rotor_bar":
        b = float(params["rotor_bar_sideband_g"])
        # (1 +/- 2s) f around the line, and f_r +/- 2sf (pole-pass sidebands: 1x times the beat at
        # twice the slip frequency) around 1x.
        fault = motion.order_sum({1: b * ph[4]})
        fault *= tones([(2 * s * f, 1.0)], n, fs)
        fault += tones([((1 + 2 * s) * f, b * ph[2]), ((1 - 2 * s) * f, b * ph[3])], n, fs)
    elif name == "motor_eccentricity":
        e = float(params["eccentricity_2f_g"])
        # Static part in phase with the healthy 2f hum; dynamic part as sidebands at 2f +/- f_r:
        # Re(line**2 * d) with d = ph2 exp(j angle) + ph3 exp(-j angle) of the shaft.
        d_re = motion.order_sum({1: 0.3 * e * (ph[2] + np.conj(ph[3]))})
        d_im = motion.order_sum({1: 0.3 * e * (-1j * ph[2] + 1j * np.conj(ph[3]))})
        d_re *= tones([(2 * f, 1.0)], n, fs)
        d_im *= tones([(2 * f, -1j)], n, fs)
        fault = np.subtract(d_re, d_im, out=d_re)
        fault += tones([(2 * f, e * ph[0])], n, fs)
    else:
        fault = np.zeros(n)
    return machine, fault
