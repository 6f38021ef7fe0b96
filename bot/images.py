"""Generated and uploaded images on disk (``IMAGEBOT_IMAGE_DIR``).

A paid image is written here, atomically, before anything tries to post it to Slack, so a failed
upload never loses it. Paths are relative to the image directory when stored in the database, so
several replicas can share one volume mounted at different places.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

__all__ = ["ImageStore"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
}


class ImageStore:
    """Writes image bytes under a root directory and reads them back by relative path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, data: bytes, *, key: str, mime_type: str, at: datetime) -> str:
        """Store ``data`` durably and return its path relative to the root.

        ``key`` names the image (an idempotency key and an index); saving the same key twice
        overwrites with the same bytes, so a retried job never leaves two copies.
        """
        extension = _EXTENSIONS.get(mime_type, ".bin")
        relative = Path(f"{at:%Y}") / f"{at:%m}" / f"{_SAFE.sub('_', key)}{extension}"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".part")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        return relative.as_posix()

    def path(self, relative: str) -> Path:
        """The absolute path of a stored image; refuses paths that escape the root."""
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root.resolve()):
            raise ValueError(f"image path {relative!r} is outside the image directory")
        return candidate

    def read(self, relative: str) -> bytes:
        """The bytes of a stored image."""
        return self.path(relative).read_bytes()
