"""Short sounds the line plays between words: the « one moment » cue while the bot is still working on an answer.

A caller who hears nothing for more than a second thinks the line is dead and starts again. Two soft rising tones
(90 ms each, -24 dBFS, faded in and out) say « I heard you, one moment » without words that could be mistaken for
the answer.
"""

from __future__ import annotations

import numpy as np

from voice.audio import SLIN8K, AudioFormat, convert

THINKING_AFTER_S = 1.0  # an answer not started after this long gets the cue
_TONES_HZ = (523.25, 659.25)  # C5 then E5
_TONE_MS = 90
_GAP_MS = 40
_LEVEL = 10 ** (-24 / 20)


def thinking_cue(fmt: AudioFormat) -> bytes:
    """The cue in ``fmt`` (whole 20 ms frames)."""
    rate = SLIN8K.rate
    parts = []
    for hz in _TONES_HZ:
        t = np.arange(int(rate * _TONE_MS / 1000)) / rate
        tone = np.sin(2 * np.pi * hz * t) * _LEVEL
        fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.015)  # 15 ms ramps: no click
        parts += [tone * fade, np.zeros(int(rate * _GAP_MS / 1000))]
    samples = np.concatenate(parts)
    pcm = (samples * 32767).astype("<i2").tobytes()
    out = convert(pcm, SLIN8K, fmt)
    frame = fmt.bytes_per_frame(20)
    whole = -(-len(out) // frame) * frame
    return out + fmt.silence(20)[: whole - len(out)] if whole > len(out) else out
