"""The router's exceptions, one tree under :class:`RouterError`.

::

    RouterError                 base of everything the router raises on purpose
    ├── CommandError            a request a person typed cannot be done as asked; ``.message``
    │                           says what is wrong and what would work, in words for a marketer
    └── RateCardError           a rate card (TOML) is malformed or inconsistent; the message is
                                ``rate card FILE: KEY: problem``

Money errors live in :mod:`router.money` (:class:`~router.money.MoneyError`) because they are
raised by the lead-owned money helpers, which predate this tree.
"""

from __future__ import annotations

__all__ = ["CommandError", "RateCardError", "RouterError"]


class RouterError(Exception):
    """Base class of every error the router raises on purpose."""


class CommandError(RouterError):
    """Raised when a request cannot be done as asked (bad option, impossible size, no prompt...).

    ``message`` is written for the person who typed the command: what is wrong and what would work.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RateCardError(RouterError):
    """Raised when a rate card is malformed: ``rate card FILE: KEY: problem``.

    ``source`` names the file (or builtin card), ``key`` the dotted TOML key at fault and
    ``problem`` what is wrong with it.
    """

    def __init__(self, *, source: str, key: str, problem: str) -> None:
        super().__init__(f"rate card {source}: {key}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem
