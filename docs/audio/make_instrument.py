"""Writes instrument.wav: a plucked-string melody (Karplus-Strong synthesis),
the style sound of docs/audio. Usage: python3 make_instrument.py OUT.wav"""
import sys, wave, random
import numpy as np

RATE = 22050
random.seed(1)
rng = np.random.default_rng(1)


def pluck(freq, seconds, decay=0.996):
    """One Karplus-Strong string: a noise burst in a delay line, averaged."""
    period = int(RATE / freq)
    line = rng.uniform(-1, 1, period)
    out = np.empty(int(seconds * RATE))
    for i in range(len(out)):
        out[i] = line[i % period]
        line[i % period] = decay * 0.5 * (line[i % period] + line[(i + 1) % period])
    return out


notes = [220.0, 277.2, 329.6, 440.0, 329.6, 277.2, 246.9, 293.7, 370.0, 493.9, 370.0, 293.7]
song = np.concatenate([pluck(f, 0.25) for f in notes])
song = 0.8 * song / np.abs(song).max()
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(RATE)
    w.writeframes((song * 32767).astype("<i2").tobytes())
