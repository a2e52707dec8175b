"""What a media file is, from its first bytes: type, pixel size, duration.

The trace shows images and audio as a line (exchange/media.py), never as their bytes; this
module reads the facts that line needs from the file's header, by hand, with no decoder:
the summary runs for every recorded media body, often on only the first kilobytes the
capture kept, and must not depend on an optional library (Pillow, soundfile) or cost a
decode. ``sniff(head, size)`` knows PNG, JPEG, GIF, WebP, WAV, MP3, FLAC, Ogg, AAC (ADTS),
MP4, WebM and PDF; an unknown or cut-short header gives what it can (at least nothing).
Durations come from the header and the file's whole ``size``: exact for WAV and FLAC, for
MP3 from its Xing/Info frame count or else its (constant) bitrate; none for Ogg, AAC, MP4.
"""

from __future__ import annotations

import struct
from typing import NamedTuple


class Sniffed(NamedTuple):
    media_type: str
    width: int | None = None
    height: int | None = None
    seconds: float | None = None


PCM_BYTES_PER_SECOND = 24_000 * 2
"""OpenAI's ``pcm`` speech: raw 16-bit mono samples at 24 kHz, no header to read."""


def sniff(head: bytes, size: int | None = None) -> Sniffed | None:
    """The media type (and what the header says) of a file starting with ``head``, ``size``
    bytes long in all (``len(head)`` when None); None when no known format matches."""
    size = len(head) if size is None else size
    try:
        for check in _CHECKS:
            found = check(head, size)
            if found is not None:
                return found
    except (struct.error, IndexError, ValueError, ZeroDivisionError):
        return None  # a header cut short or lying: unknown rather than wrong
    return None


def _png(head: bytes, size: int) -> Sniffed | None:
    if not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    if len(head) >= 24 and head[12:16] == b"IHDR":
        return Sniffed("image/png", *struct.unpack(">II", head[16:24]))
    return Sniffed("image/png")


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # frame headers (not DHT, JPG, DAC)


def _jpeg(head: bytes, size: int) -> Sniffed | None:
    if not head.startswith(b"\xff\xd8\xff"):
        return None
    pos = 2
    while pos + 9 <= len(head):
        if head[pos] != 0xFF:
            break
        marker = head[pos + 1]
        if marker in _SOF:
            height, width = struct.unpack(">HH", head[pos + 5:pos + 9])
            return Sniffed("image/jpeg", width, height)
        pos += 2 + struct.unpack(">H", head[pos + 2:pos + 4])[0]
    return Sniffed("image/jpeg")


def _gif(head: bytes, size: int) -> Sniffed | None:
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    return Sniffed("image/gif", *struct.unpack("<HH", head[6:10])) if len(head) >= 10 \
        else Sniffed("image/gif")


def _riff(head: bytes, size: int) -> Sniffed | None:
    if head[:4] != b"RIFF" or len(head) < 12:
        return None
    kind = head[8:12]
    if kind == b"WEBP":
        return _webp(head)
    if kind == b"WAVE":
        return _wav(head, size)
    return None


def _webp(head: bytes) -> Sniffed:
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30:
        width, height = struct.unpack("<HH", head[26:30])
        return Sniffed("image/webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and len(head) >= 25:
        bits = int.from_bytes(head[21:25], "little")
        return Sniffed("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X" and len(head) >= 30:
        return Sniffed("image/webp", int.from_bytes(head[24:27], "little") + 1,
                       int.from_bytes(head[27:30], "little") + 1)
    return Sniffed("image/webp")


def _wav(head: bytes, size: int) -> Sniffed:
    pos, byte_rate = 12, None
    while pos + 8 <= len(head):
        name, length = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if name == b"fmt " and pos + 16 <= len(head):
            byte_rate = struct.unpack("<I", head[pos + 16:pos + 20])[0]
        elif name == b"data":
            # A streamed WAV says 0 (or 0xFFFFFFFF) for a length it did not know yet.
            data = length if 0 < length <= size - pos - 8 else size - pos - 8
            return Sniffed("audio/wav", seconds=data / byte_rate if byte_rate else None)
        pos += 8 + length + (length & 1)
    return Sniffed("audio/wav")


_MP3_KBPS = {  # (MPEG-1?) → layer III bitrates by index
    True: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    False: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_audio(head: bytes, size: int) -> Sniffed | None:
    start = 0
    if head.startswith(b"ID3") and len(head) >= 10:  # a tag first: its size is syncsafe
        start = 10 + sum((head[6 + i] & 0x7F) << (21 - 7 * i) for i in range(4))
    if start + 4 > len(head) or head[start] != 0xFF or head[start + 1] & 0xE0 != 0xE0:
        return Sniffed("audio/mpeg") if start else None
    b1, b2, b3 = head[start + 1], head[start + 2], head[start + 3]
    if b1 & 0x06 == 0:  # layer bits 00: an AAC ADTS header, not MPEG audio
        return Sniffed("audio/aac") if b1 & 0xF0 == 0xF0 else None
    version = (b1 >> 3) & 3
    if version == 1 or (b1 >> 1) & 3 != 1 or b2 >> 4 in (0, 15) or (b2 >> 2) & 3 == 3:
        return Sniffed("audio/mpeg") if start else None  # not layer III we can time
    mpeg1 = version == 3
    rate = _MP3_RATES[version][(b2 >> 2) & 3]
    mono = b3 >> 6 == 3
    side = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    tag = head[start + 4 + side:start + 12 + side]
    if tag[:4] in (b"Xing", b"Info") and tag[7] & 1:  # VBR: the frame count is given
        frames = struct.unpack(">I", head[start + 12 + side:start + 16 + side])[0]
        return Sniffed("audio/mpeg", seconds=frames * (1152 if mpeg1 else 576) / rate)
    kbps = _MP3_KBPS[mpeg1][b2 >> 4]
    return Sniffed("audio/mpeg", seconds=(size - start) * 8 / (kbps * 1000))


def _flac(head: bytes, size: int) -> Sniffed | None:
    if not head.startswith(b"fLaC"):
        return None
    if len(head) < 26:
        return Sniffed("audio/flac")
    bits = int.from_bytes(head[18:26], "big")  # STREAMINFO: rate 20 bits … samples 36 bits
    rate, samples = bits >> 44, bits & 0xFFFFFFFFF
    return Sniffed("audio/flac", seconds=samples / rate if rate and samples else None)


def _other(head: bytes, size: int) -> Sniffed | None:
    if head.startswith(b"OggS"):
        return Sniffed("audio/ogg")
    if head[4:8] == b"ftyp":
        return Sniffed("audio/mp4" if head[8:11] == b"M4A" else "video/mp4")
    if head.startswith(b"\x1aE\xdf\xa3"):
        return Sniffed("audio/webm")
    if head.startswith(b"%PDF-"):
        return Sniffed("application/pdf")
    return None


_CHECKS = (_png, _jpeg, _gif, _riff, _flac, _mpeg_audio, _other)
