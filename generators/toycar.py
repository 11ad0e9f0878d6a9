"""Toy car sound (ToyADMOS / DCASE ``ToyCar``): a DC motor driving the wheels through gears,
running on a roller.

Normal sound: the motor turns at ``motor_rpm``; its commutator makes a tone at
``2 * commutator_segments * rpm / 60`` (odd segment count) with harmonics and modulates the
broadband brush noise; the pinion (``pinion_teeth``) meshes with the spur gear
(``gear_teeth``) at ``f_mesh = pinion_teeth * rpm / 60``; the wheels roll on the roller
(low-frequency rolling noise, rippled at the wheel rate). The motor spins up at ``spin_up_s``
and coasts down ``spin_down_s`` before the end of the clip, as in the recordings.

Faults (severity s in [0, 1]; s = 0 renders the normal car):

- ``bent_shaft``: the gear (wheel-axle) shaft runs out: once-per-revolution modulation of
  mesh and rolling noise and a wobble thump;
- ``deformed_gear``: one deformed tooth on the spur gear: an impact and a mesh disturbance once
  per gear revolution;
- ``excessive_tension``: over-tight drive: the motor slows under load, brushes and bearings
  get noisier;
- ``voltage_change``: supply voltage off nominal: the motor runs at another speed.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.base import Event
from generators.sound_common import (AudioMachine, Nuisance, crossings, cycle_fraction, cycles, db, fault_spec,
                                     harmonic_count, harmonics, highpass, impact_kernel, impacts, level_rms_nuisance,
                                     modulate, resonance_boost, rfft_frequencies, shape, sine, slow_knots, smooth,
                                     tilt, white_spectrum)


def run_envelope(n_samples: int, sample_rate: int, *, spin_up_s: float, spin_down_s: float,
                 ramp_s: float = 0.3) -> np.ndarray:
    """Relative motor speed 0..1: off, ramps up at ``spin_up_s``, down ``spin_down_s`` before the end.

    The times are capped at 20 % of the clip each, so that short clips mostly run.

    Returns
    -------
    ndarray, shape (n_samples,), float32
    """
    duration_s = n_samples / sample_rate
    spin_up_s = min(spin_up_s, 0.2 * duration_s)  # short clips: keep most of the clip running
    spin_down_s = min(spin_down_s, 0.2 * duration_s)
    end = duration_s - spin_down_s
    # min(clip(up), clip(down)) == clip(min(up, down)), with up and down in ramp lengths
    t = np.arange(n_samples, dtype=np.float32)
    t *= np.float32(1.0 / (sample_rate * ramp_s))
    up = t - np.float32(spin_up_s / ramp_s)
    down = np.subtract(np.float32(end / ramp_s), t, out=t)
    np.minimum(up, down, out=up)
    np.maximum(up, np.float32(0.0), out=up)
    return np.minimum(up, np.float32(1.0), out=up)


class ToyCar(AudioMachine):
    """Toy car on a roller (see module docstring)."""

    name = "toycar"
    nuisance = (
        Nuisance("motor_rpm", 7000.0, 16000.0, "motor speed at nominal voltage, rpm"),
        Nuisance("commutator_segments", 0, 0, "commutator segments (odd)", options=(3.0, 5.0)),
        Nuisance("pinion_teeth", 8, 14, "motor pinion teeth", integer=True),
        Nuisance("gear_teeth", 30, 60, "spur gear (wheel axle) teeth", integer=True),
        Nuisance("mesh_level_db", -25.0, -8.0, "gear-mesh tone level re rolling noise, dB"),
        Nuisance("mesh_harmonic_decay_db", 3.0, 10.0, "level drop per mesh harmonic, dB"),
        Nuisance("commutator_level_db", -20.0, -6.0, "commutator tone level re rolling noise, dB"),
        Nuisance("brush_level_db", -28.0, -18.0, "brush noise level re rolling noise, dB"),
        Nuisance("brush_corner_hz", 800.0, 2500.0, "corner of the brush-noise spectrum, Hz", log=True),
        Nuisance("rolling_corner_hz", 500.0, 1000.0, "corner of the rolling-noise spectrum, Hz", log=True),
        Nuisance("rolling_slope_db_per_octave", 9.0, 13.0, "rolling-noise slope above the corner, dB/octave"),
        Nuisance("body_resonance_hz", 400.0, 800.0, "car body resonance, Hz", log=True),
        Nuisance("body_resonance_gain_db", 4.0, 12.0, "car body resonance boost, dB"),
        Nuisance("speed_jitter", 0.002, 0.01, "relative slow fluctuation of the motor speed (std)"),
        Nuisance("spin_up_s", 0.0, 2.0, "time the motor starts, s"),
        Nuisance("spin_down_s", 0.0, 2.5, "time before the clip end the motor stops, s"),
        Nuisance("standby_level_db", -10.0, -3.0, "room / roller-drive floor re rolling noise, dB"),
        Nuisance("voltage_sign", 0, 0, "direction of a voltage change: -1 low, +1 high", options=(-1.0, 1.0)),
        level_rms_nuisance(0.05, 0.1),
    )
    faults = {
        "bent_shaft": fault_spec(
            "bent_shaft", "bent wheel-axle shaft: runout modulates the mesh once per axle revolution",
            "runout_am_depth: 0.6*severity (fraction) at the axle rate rpm/60*pinion/gear Hz",
            "wobble_ratio: 0.5*severity, 1x axle thump amplitude re rolling noise"),
        "deformed_gear": fault_spec(
            "deformed_gear", "a deformed tooth on the spur gear: an impact once per gear revolution",
            "tooth_impact_ratio: 3*severity, impact peak re rolling-noise RMS, once per gear revolution",
            "tooth_mesh_gain_db: 12*severity dB on the mesh tone while the tooth meshes"),
        "excessive_tension": fault_spec(
            "excessive_tension", "over-tight drive / excess load: slower motor, noisier brushes and bearings",
            "speed_change_fraction: -0.12*severity",
            "brush_gain_db: 8*severity dB",
            "rolling_gain_db: 6*severity dB"),
        "voltage_change": fault_spec(
            "voltage_change", "supply voltage off nominal: the motor runs at another speed",
            "speed_change_fraction: voltage_sign*0.25*severity (all tones scale by 1 + it; broadband noise "
            "amplitude by (1 + it)**2)"),
    }

    def _fault_parameters(self, fault: str, severity: float) -> dict[str, float]:
        s = severity
        if fault == "bent_shaft":
            return {"runout_am_depth": 0.6 * s, "wobble_ratio": 0.5 * s}
        if fault == "deformed_gear":
            return {"tooth_impact_ratio": 3.0 * s, "tooth_mesh_gain_db": 12.0 * s}
        if fault == "excessive_tension":
            return {"speed_change_fraction": -0.12 * s, "brush_gain_db": 8.0 * s, "rolling_gain_db": 6.0 * s}
        return {"speed_change_fraction": 0.25 * s}  # signed by voltage_sign in AudioMachine.sample_params

    def _characteristic_hz(self, params: Mapping[str, Any]) -> dict[str, float]:
        speed = (1.0 + max(0.0, float(params.get("speed_change_fraction", 0.0)))) * (1 + 3 * params["speed_jitter"])
        shaft = params["motor_rpm"] / 60 * speed
        return {"gear-mesh frequency": params["pinion_teeth"] * shaft,
                "commutator frequency": 2 * params["commutator_segments"] * shaft}

    def _synthesise(self, params: Mapping[str, Any], *, n_samples: int, sample_rate: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, list[Event]]:
        p, n, sr = params, n_samples, sample_rate
        fault = str(p.get("fault", "none"))

        roll_spec = white_spectrum(rng, n)
        brush_spec = white_spectrum(rng, n)
        drift = slow_knots(rng, n, sr, bandwidth_hz=3.0)
        phases = rng.uniform(0, 2 * np.pi, 16)
        kernel_noise = rng.standard_normal(int(0.2 * sr) + 1)

        # broadband (rolling, brush) amplitude ~ speed**2; tone amplitudes are set by load, not speed
        loudness = run_envelope(n, sr, spin_up_s=p["spin_up_s"], spin_down_s=p["spin_down_s"])
        f = rfft_frequencies(n, sr)
        roll_mag = tilt(f, corner_hz=p["rolling_corner_hz"], slope_db_per_octave=p["rolling_slope_db_per_octave"]) \
            * highpass(f, cutoff_hz=150.0, order=2) \
            * resonance_boost(f, centre_hz=p["body_resonance_hz"], q=1.5, gain_db=p["body_resonance_gain_db"])
        roll_mag /= np.sqrt(np.mean(roll_mag**2))
        brush_mag = tilt(f, corner_hz=p["brush_corner_hz"], slope_db_per_octave=6.0) * highpass(f, cutoff_hz=300.0)
        brush_mag /= np.sqrt(np.mean(brush_mag**2))
        standby_mag = tilt(f, corner_hz=150.0, slope_db_per_octave=6.0) * highpass(f, cutoff_hz=20.0)
        standby_mag *= np.float32(db(p["standby_level_db"]) / np.sqrt(np.mean(standby_mag**2)))
        out = shape(roll_spec[::-1], standby_mag, n)
        # seconds of running at nominal speed (spin-up and -down, speed drift): motor cycles / nominal rate
        run = smooth(drift, n, scale=p["speed_jitter"], offset=1.0)
        run *= loudness
        noises = {"run_s": cycles(run, n, sr), "rolling": shape(roll_spec, roll_mag, n, overwrite=True),
                  "brush": shape(brush_spec, brush_mag, n, overwrite=True)}
        del roll_spec, brush_spec, f, roll_mag, brush_mag, standby_mag, run
        normal, parts = self._sound(p, noises, phases, loudness, faulty=False, n=n, sr=sr)
        out += normal
        if fault == "none":
            return out, None, []
        if fault in ("excessive_tension", "voltage_change"):  # another motor speed and load
            del parts
            faulty, _ = self._sound(p, noises, phases, loudness, faulty=True, n=n, sr=sr)
            faulty -= normal
            return out, faulty, []

        axle_cyc = parts["axle_cyc"]
        if fault == "bent_shaft":
            # runout modulates mesh and rolling noise; and a wobble thump once per axle revolution
            part = parts["rolling"] + parts["mesh"]
            part *= sine(axle_cyc, phases[12])
            part *= np.float32(p["runout_am_depth"])
            wobble = sine(axle_cyc, phases[13])
            wobble *= np.square(harmonics(axle_cyc, [1.0], [0.0], orders=[2]))
            wobble *= np.float32(p["wobble_ratio"] * np.sqrt(2))
            part += wobble
            part *= loudness
            return out, part, []
        # deformed_gear: the deformed tooth meshes during 1/gear_teeth of each gear revolution
        frac = cycle_fraction(axle_cyc)
        frac -= np.float32(0.5)
        frac *= np.float32(p["gear_teeth"] / 1.5)
        np.square(frac, out=frac)
        frac *= np.float32(-0.5)
        window = np.exp(frac, out=frac)
        window *= np.float32(db(p["tooth_mesh_gain_db"]) - 1.0)
        part = parts["mesh"] * window
        part *= loudness
        hits = crossings(axle_cyc, offset=0.5)  # the tooth at the mesh point
        kernel = impact_kernel(kernel_noise, sr, modes_hz=[p["body_resonance_hz"], 2.6 * p["body_resonance_hz"],
                                                         4.1 * p["body_resonance_hz"]], decay_s=0.008)
        part += impacts(n, hits / sr, p["tooth_impact_ratio"] * loudness[hits], kernel, sr)
        return out, part, []

    def _sound(self, p: Mapping[str, Any], noises: Mapping[str, np.ndarray], phases: np.ndarray,
               loudness: np.ndarray, *, faulty: bool, n: int, sr: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Running car (float32, without the standby floor), with the speed and load of the fault if ``faulty``.

        Also returns the parts that continuous faults modulate: ``rolling`` (times the broadband
        gain), ``mesh`` and the axle cycles ``axle_cyc``.
        """
        g = (lambda key: float(p.get(key, 0.0))) if faulty else (lambda key: 0.0)
        speed_change = 1.0 + g("speed_change_fraction")
        broadband_gain = speed_change**2

        motor_cyc = noises["run_s"] * (p["motor_rpm"] / 60 * speed_change)
        axle_cyc = motor_cyc * (p["pinion_teeth"] / p["gear_teeth"])

        rolling = modulate(noises["rolling"] * np.float32(db(g("rolling_gain_db")) * broadband_gain),
                           sine(axle_cyc, phases[0]), 0.2)
        segs2 = int(2 * p["commutator_segments"])
        brush = modulate(noises["brush"] * np.float32(db(p["brush_level_db"] + g("brush_gain_db")) * broadband_gain),
                         harmonics(motor_cyc, [1.0], [0.0], orders=[segs2]), 0.5)
        brush += rolling

        top = p["motor_rpm"] / 60 * abs(speed_change) * (1 + 3 * p["speed_jitter"])
        k_c = harmonic_count(segs2 * top, sr, 4)
        comm_amps = [db(-6.0 * i) for i in range(k_c)]
        # commutator harmonics and the 1x / 2x shaft tones, all orders of the motor rotation
        comm_gain = db(p["commutator_level_db"]) / max(np.sqrt(np.sum(np.square(comm_amps)) / 2), 1e-12)
        brush += harmonics(motor_cyc, [a * comm_gain for a in comm_amps] + [db(p["commutator_level_db"] - 3.0)] * 2,
                           list(phases[1:1 + k_c]) + list(phases[5:7]),
                           orders=[segs2 * (i + 1) for i in range(k_c)] + [1, 2])
        k_m = harmonic_count(p["pinion_teeth"] * top, sr, 4)
        mesh_amps = [db(-p["mesh_harmonic_decay_db"] * i) for i in range(k_m)]
        mesh = harmonics(motor_cyc, mesh_amps, phases[7:7 + k_m],
                         orders=[p["pinion_teeth"] * (i + 1) for i in range(k_m)])
        mesh *= np.float32(db(p["mesh_level_db"]) / max(np.sqrt(np.sum(np.square(mesh_amps)) / 2), 1e-12))
        brush += mesh
        brush *= loudness
        return brush, {"rolling": rolling, "mesh": mesh, "axle_cyc": axle_cyc}


TOYCAR = ToyCar()
