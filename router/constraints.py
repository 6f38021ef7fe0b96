"""What a person asked for, as values the planner understands.

:class:`Purpose` names the six jobs (and the six tiers of a rate card). :class:`Constraints` is
everything that shapes a plan: the purpose, whether the image carries text, how many reference
images come with it, size, aspect ratio, count, batch, and the person's pins. It is built by
:func:`router.command.parse_command` from what was typed, or directly by code (the character chain,
buttons under a result).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["IMAGE_SIZES", "MAX_IMAGES_PER_REQUEST", "Constraints", "Purpose"]

#: The image sizes the Gemini API knows, smallest first ("512" has no K suffix on the wire).
IMAGE_SIZES: tuple[str, ...] = ("512", "1K", "2K", "4K")

#: One request makes at most this many images (each image is its own API call).
MAX_IMAGES_PER_REQUEST = 4


class Purpose(StrEnum):
    """The job an image is for; each purpose is served by the rate card tier of the same name."""

    ECONOMY = "economy"
    DRAFT = "draft"
    HERO = "hero"
    FINAL = "final"
    EDIT = "edit"
    CHARACTER = "character"


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraints:
    """Everything that shapes a routing plan, as asked (validated by the planner, not here).

    ``reference_count`` counts reference images for identity lock; ``has_source_image`` is an image
    to edit. ``image_size`` is one of :data:`IMAGE_SIZES` or None for the tier's default.
    ``model_pin`` names a model by id or display name; ``tier_pin`` one of the six tier names.
    ``estimate_only`` asks for a price quote without generating anything.
    """

    purpose: Purpose = Purpose.ECONOMY
    text_heavy: bool = False
    reference_count: int = 0
    has_source_image: bool = False
    image_size: str | None = None
    aspect_ratio: str | None = None
    image_count: int = 1
    batch: bool = False
    model_pin: str | None = None
    tier_pin: str | None = None
    thinking_level: str | None = None
    estimate_only: bool = False

    @property
    def input_images(self) -> int:
        """Images sent with the prompt: the references plus the image being edited, if any."""
        return self.reference_count + (1 if self.has_source_image else 0)
