"""Real, small image bytes for tests (Pillow-encoded), plus a few hostile ones.

Every helper returns bytes a real decoder accepts (or, for the hostile ones, bytes crafted to look
like an image to a careless reader). Nothing here touches the disk or the network.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

__all__ = [
    "gif_bytes",
    "jpeg_bytes",
    "png_bytes",
    "png_declaring",
    "webp_bytes",
]

_DEFAULT_COLOR = (220, 60, 40)


def _encode(fmt: str, *, width: int, height: int, color: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (width, height), color)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_bytes(
    width: int = 8, height: int = 8, *, color: tuple[int, int, int] = _DEFAULT_COLOR
) -> bytes:
    """A real PNG of one flat colour."""
    return _encode("PNG", width=width, height=height, color=color)


def jpeg_bytes(
    width: int = 8, height: int = 8, *, color: tuple[int, int, int] = _DEFAULT_COLOR
) -> bytes:
    """A real baseline JPEG of one flat colour."""
    return _encode("JPEG", width=width, height=height, color=color)


def webp_bytes(
    width: int = 8, height: int = 8, *, color: tuple[int, int, int] = _DEFAULT_COLOR
) -> bytes:
    """A real WEBP of one flat colour."""
    return _encode("WEBP", width=width, height=height, color=color)


def gif_bytes(
    width: int = 8, height: int = 8, *, color: tuple[int, int, int] = _DEFAULT_COLOR
) -> bytes:
    """A real single-frame GIF of one flat colour."""
    return _encode("GIF", width=width, height=height, color=color)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, well-formed-looking PNG whose header declares ``width`` x ``height`` pixels.

    The IDAT holds only a few compressed rows, so the file is a few hundred bytes while a decoder
    that trusted the header would allocate ``width * height * 3`` bytes: a decompression bomb.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    rows = (b"\x00" + b"\x00" * (3 * min(width, 64))) * 4
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )
