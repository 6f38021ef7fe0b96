"""Image providers: the :class:`ImageProvider` seam, its values and errors.

The Gemini adapter lives in :mod:`bot.providers.gemini` and is imported from there (it pulls in
google-genai, which the rest of the bot never imports).
"""

from bot.providers.base import (
    GeneratedImage,
    ImageProvider,
    ImageRequest,
    ImageResult,
    KeyRejected,
    MalformedResponse,
    ModelNotFound,
    NoImage,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ReferenceImage,
    Rejected,
    SafetyBlocked,
    Unavailable,
)

__all__ = [
    "GeneratedImage",
    "ImageProvider",
    "ImageRequest",
    "ImageResult",
    "KeyRejected",
    "MalformedResponse",
    "ModelNotFound",
    "NoImage",
    "ProviderError",
    "ProviderTimeout",
    "RateLimited",
    "ReferenceImage",
    "Rejected",
    "SafetyBlocked",
    "Unavailable",
]
