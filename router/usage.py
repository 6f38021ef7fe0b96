"""Token counts that a provider reports for one call, the input of actual pricing."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Usage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """What one generate call consumed, as the response's ``usage_metadata`` reports it.

    ``input_tokens`` counts the whole prompt (text and reference images); ``output_image_tokens``
    only tokens of images that were actually returned; ``output_text_tokens`` visible text;
    ``thinking_tokens`` the model's thoughts (billed as text output). ``reported`` is False when the
    response carried no usage at all, so pricing must fall back to the card's per-image figure.
    """

    input_tokens: int = 0
    input_image_tokens: int = 0
    output_image_tokens: int = 0
    output_text_tokens: int = 0
    thinking_tokens: int = 0
    reported: bool = True

    def __post_init__(self) -> None:
        for name in (
            "input_tokens",
            "input_image_tokens",
            "output_image_tokens",
            "output_text_tokens",
            "thinking_tokens",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"Usage.{name} must not be negative")

    @classmethod
    def unreported(cls) -> Usage:
        """A usage for a response that carried no token counts."""
        return cls(reported=False)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            input_image_tokens=self.input_image_tokens + other.input_image_tokens,
            output_image_tokens=self.output_image_tokens + other.output_image_tokens,
            output_text_tokens=self.output_text_tokens + other.output_text_tokens,
            thinking_tokens=self.thinking_tokens + other.thinking_tokens,
            reported=self.reported and other.reported,
        )
