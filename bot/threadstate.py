"""What a bot thread remembers between replies: the last prompt and the flags carried over.

Stored in the thread row's JSON column. Only settings a person would expect to stick are carried
(size, aspect ratio, pinned model or tier, thinking level, text-heavy); the purpose belongs to each
reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from router import Constraints, Purpose

__all__ = ["ThreadSettings"]

_CARRIED = ("image_size", "aspect_ratio", "model_pin", "tier_pin", "thinking_level", "text_heavy")
_PURPOSES = {purpose.value: purpose for purpose in Purpose}


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadSettings:
    """The subject of the thread, the purpose it was made for, and the flags carried to replies.

    ``prompt`` is the subject (what the image shows); an edit instruction in a reply does not
    replace it, so "More like this" and "Final render" keep making the same thing. ``purpose``
    is what the thread's images were made for (More like this keeps it).
    """

    prompt: str
    purpose: Purpose = Purpose.ECONOMY
    image_size: str | None = None
    aspect_ratio: str | None = None
    model_pin: str | None = None
    tier_pin: str | None = None
    thinking_level: str | None = None
    text_heavy: bool = False

    @classmethod
    def from_request(cls, *, prompt: str, constraints: Constraints) -> ThreadSettings:
        """The settings a new request leaves on its thread."""
        return cls(
            prompt=prompt,
            purpose=constraints.purpose,
            **{name: getattr(constraints, name) for name in _CARRIED},
        )

    def defaults(self) -> Constraints:
        """Constraints carrying these flags, for parsing a reply's own flags on top."""
        return Constraints(**{name: getattr(self, name) for name in _CARRIED})

    def after_reply(self, *, prompt: str, constraints: Constraints) -> ThreadSettings:
        """The settings after a reply: its flags now stick.

        An edit or a reference-locked variant keeps the thread's subject and purpose; a reply
        that asks for something else (another purpose word or flag) becomes the new subject.
        """
        if constraints.purpose in (Purpose.EDIT, Purpose.CHARACTER):
            return replace(
                ThreadSettings.from_request(prompt=self.prompt, constraints=constraints),
                purpose=self.purpose,
            )
        return ThreadSettings.from_request(prompt=prompt, constraints=constraints)

    def to_dict(self) -> dict[str, Any]:
        """Serialisable form for the thread row's JSON column."""
        payload: dict[str, Any] = {"prompt": self.prompt, "purpose": self.purpose.value}
        payload.update({name: getattr(self, name) for name in _CARRIED})
        return payload

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ThreadSettings:
        """Read back what :meth:`to_dict` wrote; unknown keys from older versions are ignored."""
        values: dict[str, Any] = {
            "prompt": str(raw.get("prompt", "")),
            "purpose": _PURPOSES.get(str(raw.get("purpose")), Purpose.ECONOMY),
        }
        for name in _CARRIED:
            value = raw.get(name)
            if name == "text_heavy":
                values[name] = bool(value)
            elif value is None or isinstance(value, str):
                values[name] = value
        return cls(**values)
