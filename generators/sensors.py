"""Sensor models: what an accelerometer or a MEMS microphone makes of the true signal.

Accelerometers (input and output in g), in this order:

1. the sample rate is the part's output data rate (ODR); above the part's maximum -> error;
2. white noise of the datasheet noise density (ug/sqrt(Hz)) is added over 0..fs/2;
3. the part's bandwidth limit (its digital/anti-alias filter) is a 4th-order
   Butterworth low-pass at ``bandwidth_hz`` (skipped when that is at or above Nyquist);
4. the signal clips at +/- ``range_g``;
5. it is quantised to the ADC step ``2 * range_g / 2**adc_bits``.

The true signal is already sampled at ``fs``, so aliasing of content above
fs/2 (which a real part's filter limits) is not modelled.

Microphone ``mp34dt05`` (input in pascals, output in digital full-scale units):
sensitivity -26 dBFS for a 94 dB SPL (1 Pa RMS) sine, i.e. 0 dBFS (a full-scale
sine, peak 1) at 120 dB SPL; noise floor 94 - 64 = 30 dB SPL, i.e. -90 dBFS (white,
over 0..fs/2); the digital output clips at +/-1 (28.3 Pa peak), which a sine at
the acoustic overload point (122.5 dB SPL) exceeds; 16-bit PCM. The sound
generators' arbitrary units are taken as pascals: a signal of RMS 0.1 is a
74 dB SPL sound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, MutableMapping

import numpy as np
from scipy.signal import butter, sosfilt

from errors import FaultsynthError
from generators.vibration_dsp import gaussian


@dataclass(frozen=True)
class Accelerometer:
    """Datasheet figures of a MEMS accelerometer (one axis).

    Attributes
    ----------
    name : str
    max_odr_hz : float
        Highest output data rate, Hz.
    noise_density_ug : float
        Noise density, ug/sqrt(Hz).
    range_g : float
        Full-scale range used, +/- g.
    adc_bits : int
        Output word length over the full range.
    bandwidth_ratio : float
        -3 dB bandwidth as a fraction of the ODR (0.5: up to Nyquist).
    bandwidth_max_hz : float
        Upper limit of the analogue bandwidth, Hz (inf if none).
    description : str
    """

    name: str
    max_odr_hz: float
    noise_density_ug: float
    range_g: float
    adc_bits: int
    bandwidth_ratio: float
    bandwidth_max_hz: float
    description: str

    def bandwidth_hz(self, sample_rate: int) -> float:
        """-3 dB bandwidth (Hz) at output data rate ``sample_rate``."""
        return min(self.bandwidth_ratio * sample_rate, self.bandwidth_max_hz)

    @property
    def lsb_g(self) -> float:
        """Quantisation step, g."""
        return 2 * self.range_g / 2 ** self.adc_bits


ACCELEROMETERS: dict[str, Accelerometer] = {
    # Analog Devices ADXL345: 290 ug/sqrt(Hz) (x, y), ODR up to 3200 Hz with bandwidth ODR/2,
    # +/-16 g full resolution: 13 bits at 3.9 mg/LSB.
    "adxl345": Accelerometer("adxl345", 3200.0, 290.0, 16.0, 13, 0.5, np.inf,
                             "ADXL345 MEMS accelerometer: ODR <= 3200 Hz, 290 ug/sqrt(Hz), +/-16 g, 13 bit"),
    # Analog Devices ADXL355: 22.5 ug/sqrt(Hz), ODR up to 4000 Hz, digital low-pass at ODR/4,
    # 20-bit at +/-2.048 g (3.9 ug/LSB); +/-8.192 g range used here for impacts.
    "adxl355": Accelerometer("adxl355", 4000.0, 22.5, 8.192, 20, 0.25, np.inf,
                             "ADXL355 low-noise MEMS accelerometer: ODR <= 4000 Hz, bandwidth ODR/4, "
                             "22.5 ug/sqrt(Hz), +/-8.192 g, 20 bit"),
    # ST IIS3DWB: 75 ug/sqrt(Hz) (3-axis mode), ODR 26.7 kHz, flat to ~6.3 kHz, 16 bit, +/-16 g (0.488 mg/LSB).
    "iis3dwb": Accelerometer("iis3dwb", 26667.0, 75.0, 16.0, 16, 0.5, 6300.0,
                             "IIS3DWB wide-band vibration sensor: ODR <= 26.7 kHz, bandwidth 6.3 kHz, "
                             "75 ug/sqrt(Hz), +/-16 g, 16 bit"),
}


@dataclass(frozen=True)
class Microphone:
    """Datasheet figures of a digital MEMS microphone.

    Attributes
    ----------
    name : str
    sensitivity_dbfs : float
        Output level (dBFS, full-scale sine = 0 dBFS) of a 94 dB SPL sine.
    snr_db : float
        Signal-to-noise ratio at 94 dB SPL, dB.
    aop_db_spl : float
        Acoustic overload point, dB SPL.
    adc_bits : int
        PCM word length after decimation.
    max_rate_hz : float
        Highest PCM output rate supported by its decimation, Hz.
    description : str
    """

    name: str
    sensitivity_dbfs: float
    snr_db: float
    aop_db_spl: float
    adc_bits: int
    max_rate_hz: float
    description: str

    @property
    def gain_fs_per_pa(self) -> float:
        """Full-scale units per pascal (RMS to RMS and peak to peak)."""
        return 10 ** (self.sensitivity_dbfs / 20) / np.sqrt(2)  # 1 Pa RMS sine -> 10**(dBFS/20) peak

    @property
    def noise_fs_rms(self) -> float:
        """Self-noise RMS in full-scale units."""
        return self.gain_fs_per_pa * 10 ** (-self.snr_db / 20)


MICROPHONES: dict[str, Microphone] = {
    "mp34dt05": Microphone("mp34dt05", -26.0, 64.0, 122.5, 16, 48000.0,
                           "MP34DT05 digital MEMS microphone: -26 dBFS at 94 dB SPL, SNR 64 dB, AOP 122.5 dB SPL, "
                           "16-bit PCM (input in Pa)"),
}

#: Sensor name -> one-line description (``synth --list``).
SENSORS: dict[str, str] = {"ideal": "ideal sensor: the signal unchanged"}
SENSORS.update({name: part.description for name, part in ACCELEROMETERS.items()})
SENSORS.update({name: part.description for name, part in MICROPHONES.items()})

P_REF_PA = 20e-6  # reference pressure of dB SPL


def apply_sensor(name: str, x: np.ndarray, *, sample_rate: int, rng: np.random.Generator,
                 params: MutableMapping[str, Any]) -> np.ndarray:
    """What sensor ``name`` outputs for the true signal ``x``.

    Parameters
    ----------
    name : str
        One of :data:`SENSORS`.
    x : ndarray, shape (n,), float64
        True signal: acceleration in g (accelerometers), pressure in Pa (microphones).
    sample_rate : int
        Output data rate, Hz.
    rng : numpy.random.Generator
        Drives the sensor noise.
    params : dict
        Clip parameters; the sensor's own (noise, range, bits...) are added in place.

    Returns
    -------
    ndarray, shape (n,), float64
        g for accelerometers; full-scale units (|y| <= 1) for microphones; ``x``
        itself for ``"ideal"``.
    """
    x = np.asarray(x, dtype=float)
    if name == "ideal":
        return x
    if name in ACCELEROMETERS:
        return _accelerometer(ACCELEROMETERS[name], x, sample_rate=sample_rate, rng=rng, params=params)
    if name in MICROPHONES:
        return _microphone(MICROPHONES[name], x, sample_rate=sample_rate, rng=rng, params=params)
    raise FaultsynthError(f"unknown sensor {name!r}: expected one of {', '.join(SENSORS)}")


def _lowpass(x: np.ndarray, cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """4th-order Butterworth low-pass (causal, like the part's filter); no-op at or above Nyquist."""
    if cutoff_hz >= 0.499 * sample_rate:
        return x
    return sosfilt(butter(4, cutoff_hz, fs=sample_rate, output="sos"), x)


def _quantise(x: np.ndarray, step: float, bits: int) -> np.ndarray:
    """Round to the ADC step and saturate to the ``bits``-bit two's-complement codes."""
    codes = np.clip(np.rint(x / step), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return codes * step


def _accelerometer(part: Accelerometer, x: np.ndarray, *, sample_rate: int, rng: np.random.Generator,
                   params: MutableMapping[str, Any]) -> np.ndarray:
    if sample_rate > part.max_odr_hz:
        raise FaultsynthError(f"sensor {part.name}: sample rate {sample_rate} Hz is above its maximum output "
                              f"data rate {part.max_odr_hz:.0f} Hz: expected --sample-rate <= {part.max_odr_hz:.0f}")
    bandwidth = part.bandwidth_hz(sample_rate)
    noise_density_g = part.noise_density_ug * 1e-6
    noise = gaussian(rng, x.size)
    noise *= np.float32(noise_density_g * np.sqrt(sample_rate / 2))
    y = _lowpass(x + noise, bandwidth, sample_rate)
    y = np.clip(y, -part.range_g, part.range_g)
    y = _quantise(y, part.lsb_g, part.adc_bits)
    effective_bw = min(bandwidth, sample_rate / 2)
    params.update(sensor_noise_density_ug_sqrt_hz=part.noise_density_ug,
                  sensor_noise_g_rms=float(noise_density_g * np.sqrt(effective_bw)),
                  sensor_bandwidth_hz=float(effective_bw), range_g=part.range_g, adc_bits=part.adc_bits,
                  lsb_g=part.lsb_g, sensor_clipped_fraction=float(np.mean(np.abs(y) >= part.range_g - part.lsb_g)))
    return y


def _microphone(part: Microphone, x: np.ndarray, *, sample_rate: int, rng: np.random.Generator,
                params: MutableMapping[str, Any]) -> np.ndarray:
    if sample_rate > part.max_rate_hz:
        raise FaultsynthError(f"sensor {part.name}: sample rate {sample_rate} Hz is above its maximum PCM rate "
                              f"{part.max_rate_hz:.0f} Hz: expected --sample-rate <= {part.max_rate_hz:.0f}")
    y = x * part.gain_fs_per_pa + rng.standard_normal(x.size) * part.noise_fs_rms
    y = np.clip(y, -1.0, 1.0)
    step = 2.0 / 2 ** part.adc_bits
    y = _quantise(y, step, part.adc_bits)
    rms_pa = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    params.update(mic_input_unit="Pa", mic_sensitivity_dbfs=part.sensitivity_dbfs, mic_snr_db=part.snr_db,
                  mic_aop_db_spl=part.aop_db_spl, mic_full_scale_pa_peak=1 / part.gain_fs_per_pa,
                  sensor_noise_fs_rms=part.noise_fs_rms, adc_bits=part.adc_bits,
                  input_level_db_spl=float(20 * np.log10(max(rms_pa, 1e-12) / P_REF_PA)),
                  sensor_clipped_fraction=float(np.mean(np.abs(y) >= 1 - step)))
    return y
