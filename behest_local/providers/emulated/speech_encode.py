"""Compressed formats of the emulated voice: mp3, opus (in Ogg) and flac.

Sits beside ``speech.py``, which makes the 24 kHz 16-bit samples and writes wav and pcm
itself; ``server/routes/audio.py`` asks ``encoder_for`` whether a format can be written
here. The encoder is libsndfile, through ``soundfile``: its wheels bundle libsndfile
(with LAME, mpg123, libFLAC, libopus and libvorbis) for Linux, macOS and Windows, so no
system ffmpeg is needed, and one library covers three formats and decodes them back (the
tests do). It brings numpy, so it is the optional extra ``behest-local[audio]``; without
it these formats are a 400 naming the extra. AAC has no encoder in libsndfile, and the
libraries that have one bundle all of ffmpeg: it is refused rather than faked.

libsndfile writes a whole file (flac and Ogg rewrite their headers at the end), so these
formats are encoded once the samples are made and then sent in pieces: CPU work, run
beside the loop by the caller.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable

from behest_local.errors import InvalidRequestError
from behest_local.providers.emulated.speech import SAMPLE_RATE

_CONTAINERS = {"mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OGG", "OPUS"),
               "flac": ("FLAC", "PCM_16")}
EXTRA = "pip install 'behest-local[audio]'"


def encoder_for(fmt: str) -> Callable[[bytes], bytes]:
    """The function that encodes 16-bit mono pcm into ``fmt``, or the 400 that says why
    this gateway cannot."""
    if fmt == "aac":
        raise InvalidRequestError(
            "The emulated voice cannot write AAC (no encoder installs without ffmpeg); "
            "ask for mp3, opus, flac, wav or pcm.", param="response_format",
            code="unsupported_response_format")
    if importlib.util.find_spec("soundfile") is None:  # optional: behest-local[audio]
        raise InvalidRequestError(
            f"The emulated voice writes {fmt} with the optional 'soundfile' library: "
            f"{EXTRA}; wav and pcm need nothing.", param="response_format",
            code="unsupported_response_format")
    container, subtype = _CONTAINERS[fmt]

    def encode(pcm: bytes) -> bytes:
        import numpy
        import soundfile
        out = io.BytesIO()
        samples = numpy.frombuffer(pcm, dtype="<i2")
        soundfile.write(out, samples, SAMPLE_RATE, format=container, subtype=subtype)
        return out.getvalue()

    return encode
