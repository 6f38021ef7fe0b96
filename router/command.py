"""Reading what a person typed after ``/image`` into a prompt and :class:`Constraints`.

How text is read (``parse_command``):

* **Purpose word.** The first word may name the purpose: ``economy``, ``draft`` (or ``preview``),
  ``hero``, ``final``, ``edit`` or ``character``. ``/image hero product shot`` is a hero request
  for "product shot": the purpose word leaves the prompt. To keep such a word as part of the
  prompt, put ``--`` before it (``/image -- hero of the story``) or quote it (quoted text is kept,
  and it also marks the request text-heavy, see below).
* **Options** start with ``--`` (phones that turn ``--`` into an em or en dash are understood
  too) and may come anywhere: ``--draft --hero --final --edit --character --economy``
  (purpose), ``--text`` (the image carries text), ``--4k --2k --1k --512`` or ``--size 2K``,
  ``--aspect 16:9`` (also ``--ar 16:9`` or just ``--16:9``), ``-n 4`` (1 to 4 images),
  ``--model NAME`` (id or display name; quote names with spaces; ``auto`` clears a pin),
  ``--tier NAME``, ``--thinking minimal|high``, ``--batch``, ``--estimate``. ``--name=value``
  works too. A lone ``--`` ends the options: everything after it is prompt.
* **Quoted text** (straight or curly quotes) stays in the prompt exactly as typed, quotes and
  all, is never read as options, and marks the request text-heavy: ``/image final "SUMMER SALE
  50%" poster --4k`` is a final, text-heavy 4K request whose prompt is ``"SUMMER SALE 50%"
  poster``. An apostrophe (a curly one too) is not a quote.
* Everything else is prompt, in the order typed; no word is ever dropped.

Mistakes raise :class:`~router.errors.CommandError` with a message that says what would work.
Checks that depend on the model (4K on a 1K-only model, an aspect ratio it lacks, too many
reference images) happen later, in planning.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from typing import Any

from router.constraints import MAX_IMAGES_PER_REQUEST, Constraints, Purpose
from router.errors import CommandError

__all__ = ["OPTIONS_HELP", "THINKING_LEVELS", "ParsedCommand", "parse_command"]

#: Thinking levels a person can ask for (Gemini 3 Flash image models; others ignore it).
THINKING_LEVELS = ("minimal", "high")

#: The options, as listed in error messages.
OPTIONS_HELP = (
    "--draft --hero --final --edit --character --economy, --text, --4k --2k --1k --512 "
    "(or --size 2K), --aspect 16:9 (or --ar 16:9), -n 1..4, --model NAME, --tier NAME, "
    "--thinking minimal|high, --batch, --estimate"
)

# Straight and curly quotes (phones type curly ones), as escapes so the source stays readable.
_DOUBLE_QUOTES = frozenset('"\u201c\u201d\u201e\u00ab\u00bb')
_SINGLE_QUOTES = frozenset("'\u2018\u2019\u201a")
# Em dash, en dash, horizontal bar, minus sign: what phones make of "--".
_LONG_DASHES = "\u2014\u2013\u2015\u2212"
_PURPOSE_WORDS = {
    "economy": Purpose.ECONOMY,
    "draft": Purpose.DRAFT,
    "preview": Purpose.DRAFT,
    "hero": Purpose.HERO,
    "final": Purpose.FINAL,
    "edit": Purpose.EDIT,
    "character": Purpose.CHARACTER,
}
_PURPOSE_FLAGS = {p.value: p for p in Purpose}
_SIZE_FLAGS = {"4k": "4K", "2k": "2K", "1k": "1K", "512": "512", "0.5k": "512"}
_SIZE_WORDS = {
    "512": "512",
    "512px": "512",
    "0.5k": "512",
    ".5k": "512",
    "1k": "1K",
    "1024": "1K",
    "1024px": "1K",
    "2k": "2K",
    "2048": "2K",
    "2048px": "2K",
    "4k": "4K",
    "4096": "4K",
    "4096px": "4K",
}
_BOOL_FLAGS = ("text", "batch", "estimate")
_VALUE_OPTIONS = {
    "model": "model",
    "tier": "tier",
    "size": "size",
    "aspect": "aspect",
    "ar": "aspect",
    "n": "count",
    "count": "count",
    "thinking": "thinking",
}
_KNOWN_NAMES = sorted({*_PURPOSE_FLAGS, *_SIZE_FLAGS, *_BOOL_FLAGS, *_VALUE_OPTIONS})
_ASPECT_RE = re.compile("^([0-9]{1,3})\\s*[:x\u00d7/]\\s*([0-9]{1,3})$")
_COUNT_RE = re.compile(r"^[0-9]{1,6}$")
_OPTION_START = re.compile(f"^(?:--|[{_LONG_DASHES}]+)(?=[A-Za-z0-9.])")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedCommand:
    """The prompt left after options are read, and the constraints they set."""

    prompt: str
    constraints: Constraints


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: int
    end: int
    quoted: bool


def parse_command(text: str, *, defaults: Constraints | None = None) -> ParsedCommand:
    """Read ``/image`` text into a prompt and constraints (see the module docstring).

    ``defaults`` are the settings carried over from a thread; whatever the text sets overrides
    them. Raises :class:`~router.errors.CommandError` for unknown options, bad values, conflicting
    options and an empty prompt.
    """
    tokens = _tokenize(text)
    reader = _Reader(tokens)
    kept = reader.read()
    prompt = _join(text, tokens, kept)
    if not prompt.strip():
        raise CommandError(_empty_prompt_message(reader.purpose_word))
    base = defaults if defaults is not None else Constraints()
    updates = reader.updates()
    if any(tokens[i].quoted for i in kept):
        updates["text_heavy"] = True
    return ParsedCommand(prompt=prompt, constraints=replace(base, **updates))


def _empty_prompt_message(purpose_word: str | None) -> str:
    if purpose_word:
        return (
            f"Tell me what to make after “{purpose_word}”, e.g. /image {purpose_word} product "
            "shot of a red sneaker on white. (To use the word itself as the prompt, write "
            f"/image -- {purpose_word}.)"
        )
    return "Tell me what to make, e.g. /image hero product shot of a red sneaker on white."


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        quoted = False
        close = _closing_quote(text, i)
        if close is not None:
            quoted = True
            i = close + 1
        while i < n and not text[i].isspace():
            i += 1
        tokens.append(_Token(text[start:i], start, i, quoted))
    return tokens


def _closing_quote(text: str, start: int) -> int | None:
    """Index of the quote closing the one at ``start``, or None when ``start`` opens no quote."""
    opener = text[start]
    if opener in _DOUBLE_QUOTES:
        for j in range(start + 1, len(text)):
            if text[j] in _DOUBLE_QUOTES:
                return j if j > start + 1 else None
        return None
    if opener in _SINGLE_QUOTES:
        # A single quote opens a quote only if a matching one ends a word later on; otherwise
        # it is an apostrophe (as in '90s or kids').
        for j in range(start + 2, len(text)):
            if text[j] in _SINGLE_QUOTES and not text[j - 1].isspace():
                after = text[j + 1] if j + 1 < len(text) else " "
                if after.isspace() or not after.isalnum():
                    return j
        return None
    return None


def _unquote(token: _Token) -> str:
    if token.quoted and len(token.text) >= 2:
        body = token.text[1:]
        for j, ch in enumerate(body):
            if ch in _DOUBLE_QUOTES or ch in _SINGLE_QUOTES:
                return body[:j]
        return body
    return token.text


def _join(text: str, tokens: list[_Token], kept: list[int]) -> str:
    parts: list[str] = []
    previous: int | None = None
    for index in kept:
        if previous is not None:
            if index == previous + 1:
                parts.append(text[tokens[previous].end : tokens[index].start])
            else:
                parts.append(" ")
        parts.append(tokens[index].text)
        previous = index
    return "".join(parts)


class _Reader:
    """Walks the tokens once, collecting settings and the indexes of prompt tokens."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.purposes: dict[Purpose, str] = {}
        self.purpose_word: str | None = None
        self.values: dict[str, tuple[Any, str]] = {}
        self.flags: set[str] = set()

    def read(self) -> list[int]:
        kept: list[int] = []
        options_done = False
        seen_word = False
        i = 0
        while i < len(self.tokens):
            token = self.tokens[i]
            if options_done or token.quoted:
                kept.append(i)
                seen_word = True
                i += 1
                continue
            if token.text == "--":
                options_done = True
                seen_word = True  # words after "--" are prompt, purpose words included
                i += 1
                continue
            option = _option_name(token.text)
            if option is not None:
                i = self.option(option, i)
                continue
            if not seen_word:
                seen_word = True
                word = token.text.rstrip(":,;").lower()
                if word in _PURPOSE_WORDS:
                    self.set_purpose(_PURPOSE_WORDS[word], word)
                    self.purpose_word = token.text.rstrip(":,;")
                    i += 1
                    continue
            kept.append(i)
            i += 1
        return kept

    def option(self, raw: str, index: int) -> int:
        """Apply the option at ``index``; return the index of the next unread token."""
        name, has_value, inline = raw.partition("=")
        name = name.lower()
        shown = f"--{name}" if name != "n" else "-n"
        if not has_value and name.startswith("n") and name[1:].isdigit() and len(name) > 1:
            name, has_value, inline = "n", "=", name[1:]  # -n4
        if name in _PURPOSE_FLAGS and not has_value:
            self.set_purpose(_PURPOSE_FLAGS[name], shown)
            return index + 1
        if name in _SIZE_FLAGS and not has_value:
            self.set_value("size", _SIZE_FLAGS[name], shown)
            return index + 1
        if name in _BOOL_FLAGS and not has_value:
            self.flags.add(name)
            return index + 1
        aspect = _ASPECT_RE.match(name)
        if aspect and not has_value:
            self.set_value("aspect", _aspect(name, shown), shown)
            return index + 1
        kind = _VALUE_OPTIONS.get(name)
        if kind is None:
            raise CommandError(_unknown_option_message(name, bool(has_value)))
        if has_value:
            value, next_index = inline, index + 1
        else:
            if index + 1 >= len(self.tokens) or (
                not self.tokens[index + 1].quoted and _option_name(self.tokens[index + 1].text)
            ):
                raise CommandError(_missing_value_message(kind, shown))
            value, next_index = _unquote(self.tokens[index + 1]), index + 2
        self.set_value(kind, _convert(kind, value.strip(), shown), shown)
        return next_index

    def set_purpose(self, purpose: Purpose, shown: str) -> None:
        self.purposes.setdefault(purpose, shown)
        if len(self.purposes) > 1:
            names = " and ".join(self.purposes.values())
            raise CommandError(
                f"Pick one purpose: you asked for {names}. Purposes: economy, draft, hero, "
                "final, edit, character."
            )

    def set_value(self, kind: str, value: Any, shown: str) -> None:
        if kind in self.values and self.values[kind][0] != value:
            earlier = self.values[kind][1]
            raise CommandError(
                f"Pick one {_KIND_WORDS[kind]}: {earlier} and {shown} disagree "
                f"({self.values[kind][0]} vs {value})."
            )
        self.values[kind] = (value, shown)

    def updates(self) -> dict[str, Any]:
        updates: dict[str, Any] = {}
        if self.purposes:
            updates["purpose"] = next(iter(self.purposes))
        if "text" in self.flags:
            updates["text_heavy"] = True
        if "batch" in self.flags:
            updates["batch"] = True
        if "estimate" in self.flags:
            updates["estimate_only"] = True
        fields = {
            "size": "image_size",
            "aspect": "aspect_ratio",
            "count": "image_count",
            "model": "model_pin",
            "tier": "tier_pin",
            "thinking": "thinking_level",
        }
        for kind, (value, _shown) in self.values.items():
            updates[fields[kind]] = value
        return updates


_KIND_WORDS = {
    "size": "size",
    "aspect": "aspect ratio",
    "count": "number of images",
    "model": "model",
    "tier": "tier",
    "thinking": "thinking level",
}


def _option_name(text: str) -> str | None:
    """The option name in ``text`` (``--hero`` -> ``hero``), or None when it is prompt text."""
    match = _OPTION_START.match(text)
    if match:
        return text[match.end() :]
    if text == "-n" or re.fullmatch(r"-n[0-9]+", text) or text.startswith("-n="):
        return text[1:]
    return None


def _convert(kind: str, value: str, shown: str) -> Any:
    if kind == "size":
        size = _SIZE_WORDS.get(value.lower())
        if size is None:
            raise CommandError(
                f"{shown} {value!s} is not a size I know. Sizes: 512, 1K, 2K, 4K "
                "(e.g. --2k or --size 2K)."
            )
        return size
    if kind == "aspect":
        return _aspect(value, shown)
    if kind == "count":
        if not _COUNT_RE.match(value):
            raise CommandError(
                f"{shown} needs a number of images from 1 to {MAX_IMAGES_PER_REQUEST}, e.g. -n 4."
            )
        count = int(value)
        if not 1 <= count <= MAX_IMAGES_PER_REQUEST:
            raise CommandError(
                f"You can ask for 1 to {MAX_IMAGES_PER_REQUEST} images at a time, not {count}. "
                f"Try -n {MAX_IMAGES_PER_REQUEST}."
            )
        return count
    if kind == "tier":
        tier = value.lower()
        if tier == "auto":
            return None
        if tier not in _PURPOSE_FLAGS:
            raise CommandError(
                f"There is no tier called {value!r}. Tiers: economy, draft, hero, final, edit, "
                "character (or auto)."
            )
        return tier
    if kind == "thinking":
        level = value.lower()
        if level not in THINKING_LEVELS:
            raise CommandError(f"{shown} takes minimal or high, not {value!r}.")
        return level
    # model: checked against the rate card when planning
    if not value:
        raise CommandError(_missing_value_message(kind, shown))
    return None if value.lower() == "auto" else value


def _aspect(value: str, shown: str) -> str:
    match = _ASPECT_RE.match(value.strip())
    if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        raise CommandError(
            f"{shown} {value} is not an aspect ratio. Write width:height, e.g. --aspect 16:9, "
            "--ar 4:5 or --ar 1:1."
        )
    return f"{int(match.group(1))}:{int(match.group(2))}"


def _missing_value_message(kind: str, shown: str) -> str:
    examples = {
        "model": '--model "Nano Banana Pro"',
        "tier": "--tier hero",
        "size": "--size 2K",
        "aspect": "--aspect 16:9",
        "count": "-n 4",
        "thinking": "--thinking high",
    }
    return f"{shown} needs a value, e.g. {examples[kind]}."


def _unknown_option_message(name: str, has_value: bool) -> str:
    shown = f"--{name}"
    message = f"Unknown option {shown}."
    close = difflib.get_close_matches(name, _KNOWN_NAMES, n=1, cutoff=0.6)
    if close:
        message += f" Did you mean --{close[0]}?"
    message += f" Options: {OPTIONS_HELP}."
    if not has_value:
        message += f' To keep "{shown}" in the prompt, put it in quotes.'
    return message
