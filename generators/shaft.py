"""Rotating shaft: running-speed harmonics and shaft faults.

Amplitudes of shaft-order components are set as peak *velocities* (mm/s), the
quantity ISO 10816 judges, and converted to acceleration (g) at each order's
frequency. Fault mappings (severity s in [0, 1]):

- ``imbalance``: 1x grows (centrifugal force of an unbalanced mass).
- ``misalignment``: 2x dominant, 3x and a little 1x (coupling forces twice per revolution).
- ``looseness``: many harmonics, half-order sub-harmonics, and one-sided truncation
  of the motion (the loose part hits a stop).
- ``bent_shaft``: 1x with a strong 2x.
- ``rub``: once-per-revolution impacts that ring the structure, plus 1/2-order
  sub-harmonics (the rotor touches the stator every other turn).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.base import FaultSpec, Fixed, draw
from generators.vibration_dsp import ShaftMotion, draw_phases, event_revs, impulses, ring, velocity_to_g

FAULTS: dict[str, FaultSpec] = {
    "imbalance": FaultSpec(
        "imbalance", "unbalanced rotor mass: a once-per-revolution centrifugal force (1x)",
        ("unbalance_mm_s: 10*severity mm/s peak velocity added at 1x, in phase with the residual unbalance",)),
    "misalignment": FaultSpec(
        "misalignment", "shaft/coupling misalignment: 2x dominant with 3x and some 1x",
        ("misalignment_mm_s: 8*severity mm/s peak velocity at 2x; 0.5x that at 3x, 0.3x that at 1x",)),
    "looseness": FaultSpec(
        "looseness", "mechanical looseness: harmonics up to 10x, half-orders and one-sided truncation",
        ("looseness_mm_s: 6*severity mm/s peak velocity spread over 1x..10x (1/k decay) and 0.5x..9.5x "
         "(half as strong)",
         "looseness_clip_fraction: 0.5*severity, fraction of the positive peak shaved off the motion")),
    "bent_shaft": FaultSpec(
        "bent_shaft", "bent shaft: strong 1x (at the bow's own phase) with a 2x",
        ("bend_mm_s: 8*severity mm/s peak velocity at 1x; 0.6x that at 2x",)),
    "rub": FaultSpec(
        "rub", "rotor-stator rub: once-per-revolution impacts ringing the structure, 1/2-order sub-harmonics",
        ("rub_impact_g: 1.5*severity*(shaft_hz/30) g peak impact at each contact, one per revolution",
         "rub_subharmonic_mm_s: 3*severity mm/s peak velocity at 0.5x, half that at 1.5x")),
}

PARAMETERS: dict[str, str] = {
    "speed_fluctuation_pct": "peak slow speed fluctuation, % of the mean speed (default 0.05..0.4)",
    "speed_fluctuation_hz": "rate of the speed fluctuation, Hz (default 0.1..2, log)",
    "residual_1x_mm_s": "residual-unbalance 1x peak velocity of the healthy machine, mm/s (default 0.3..1.2)",
    "harmonic_decay": "healthy 2x..4x relative to the order below (default 0.15..0.5)",
    "rub_slip_pct": "timing jitter of rub impacts, % of a revolution (default 1..5)",
    "speed_fluctuation_phase_rad": "phases of the two speed-fluctuation components, rad (default: uniform)",
    "shaft_phase_rad": "phases of the healthy 1x..4x, rad (default: uniform)",
    "fault_phase_rad": "phase of the shaft fault's components (rub contact angle), rad (default: uniform)",
}


def sample(rng: np.random.Generator, fixed: Fixed, *, fault: str, severity: float, shaft_hz: float) -> dict:
    """Draw the shaft parameters (all draws happen whatever the fault).

    Returns
    -------
    dict
        Healthy-shaft parameters, plus the active fault's physical parameters.
    """
    p = {
        "speed_fluctuation_pct": draw(rng, fixed, "speed_fluctuation_pct", 0.05, 0.4),
        "speed_fluctuation_hz": draw(rng, fixed, "speed_fluctuation_hz", 0.1, 2.0, log=True),
        "speed_fluctuation_phase_rad": draw_phases(rng, fixed, "speed_fluctuation_phase_rad", 2),
        "residual_1x_mm_s": draw(rng, fixed, "residual_1x_mm_s", 0.3, 1.2),
        "harmonic_decay": draw(rng, fixed, "harmonic_decay", 0.15, 0.5),
        "shaft_phase_rad": draw_phases(rng, fixed, "shaft_phase_rad", 4),
        "fault_phase_rad": draw_phases(rng, fixed, "fault_phase_rad", 1)[0],
    }
    rub_slip = draw(rng, fixed, "rub_slip_pct", 1.0, 5.0)
    s = severity
    if fault == "imbalance":
        p["unbalance_mm_s"] = 10.0 * s
    elif fault == "misalignment":
        p["misalignment_mm_s"] = 8.0 * s
    elif fault == "looseness":
        p.update(looseness_mm_s=6.0 * s, looseness_clip_fraction=0.5 * s)
    elif fault == "bent_shaft":
        p["bend_mm_s"] = 8.0 * s
    elif fault == "rub":
        p.update(rub_impact_g=1.5 * s * shaft_hz / 30.0, rub_subharmonic_mm_s=3.0 * s, rub_slip_pct=rub_slip)
    return p


def _orders_sum(motion: ShaftMotion, orders_mm_s: Mapping[float, complex]) -> np.ndarray:
    """Acceleration (g) of shaft-order components given as {order: complex peak velocity mm/s}.

    Orders at or above Nyquist are dropped; orders are multiples of 1/2.
    """
    f = motion.shaft_hz
    return motion.order_sum({o: velocity_to_g(1.0, o * f) * v for o, v in orders_mm_s.items()
                             if v != 0 and o * f < motion.sample_rate / 2})


def render(params: Mapping[str, Any], *, motion: ShaftMotion, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """Healthy shaft vibration and the shaft fault component (g).

    Parameters
    ----------
    params : mapping
        From :func:`sample` (plus ``fault``, ``severity``, ``shaft_hz`` and the
        structural resonance parameters).
    motion : ShaftMotion
    rng : numpy.random.Generator
        Drives rub impact jitter.

    Returns
    -------
    machine, fault : ndarray, shape (motion.n,), float64, g
    """
    phases = params["shaft_phase_rad"]
    decay = float(params["harmonic_decay"])
    v1 = float(params["residual_1x_mm_s"])
    healthy = {k: v1 * decay ** (k - 1) * np.exp(1j * phases[k - 1]) for k in range(1, 5)}
    machine = _orders_sum(motion, healthy)

    fault_name = params.get("fault", "none")
    phi = np.exp(1j * float(params["fault_phase_rad"]))
    orders: dict[float, complex] = {}
    impacts = None
    if fault_name == "imbalance":
        # In phase with the residual unbalance: the 1x amplitude grows monotonically.
        orders[1.0] = float(params["unbalance_mm_s"]) * np.exp(1j * phases[0])
    elif fault_name == "misalignment":
        v = float(params["misalignment_mm_s"])
        orders.update({1.0: 0.3 * v * phi, 2.0: v * phi ** 2, 3.0: 0.5 * v * phi ** 3})
    elif fault_name == "bent_shaft":
        v = float(params["bend_mm_s"])
        orders.update({1.0: v * phi, 2.0: 0.6 * v * phi ** 2})
    elif fault_name == "looseness":
        v = float(params["looseness_mm_s"])
        weights = {k / 2: (1 / (k / 2)) * (1.0 if k % 2 == 0 else 0.5) for k in range(1, 21)}
        norm = np.sqrt(sum(w * w for w in weights.values()))
        orders.update({o: v * w / norm * phi ** (2 * o) for o, w in weights.items()})
    elif fault_name == "rub":
        v = float(params["rub_subharmonic_mm_s"])
        orders.update({0.5: v * phi, 1.5: 0.5 * v * phi ** 3})
        positions = event_revs(motion.revs[-1], events_per_rev=1.0, slip_pct=float(params["rub_slip_pct"]),
                               offset=float(params["fault_phase_rad"]) / (2 * np.pi), rng=rng)
        impacts = ring(impulses(motion, positions, float(params["rub_impact_g"])), params, motion.sample_rate)
    fault = _orders_sum(motion, orders)
    if impacts is not None:
        fault += impacts
    if fault_name == "looseness":
        # The loose part hits a stop on one side: truncate the positive peaks of the motion.
        total = np.add(machine, fault, out=fault)
        limit = (1 - float(params["looseness_clip_fraction"])) * total.max()
        np.minimum(total, limit, out=total)
        fault = np.subtract(total, machine, out=total)
    return machine, fault

