"""Reading ``/image`` text: purpose words, options, quotes, phone punctuation, mistakes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router import CommandError, Constraints, Purpose, parse_command


@pytest.mark.parametrize(
    ("text", "prompt", "expected"),
    [
        ("hero product shot", "product shot", {"purpose": Purpose.HERO}),
        (
            "draft three banner ideas for the winter sale",
            "three banner ideas for the winter sale",
            {"purpose": Purpose.DRAFT},
        ),
        ("preview a logo", "a logo", {"purpose": Purpose.DRAFT}),
        ("Hero: red sneaker", "red sneaker", {"purpose": Purpose.HERO}),
        ("a hero on a horse", "a hero on a horse", {"purpose": Purpose.ECONOMY}),
        ("-- hero of the story", "hero of the story", {"purpose": Purpose.ECONOMY}),
        ('"hero" in neon', '"hero" in neon', {"purpose": Purpose.ECONOMY, "text_heavy": True}),
        (
            'final "SUMMER SALE 50%" poster --4k',
            '"SUMMER SALE 50%" poster',
            {"purpose": Purpose.FINAL, "text_heavy": True, "image_size": "4K"},
        ),
        (
            "final \u201cSUMMER SALE 50%\u201d poster \u20144k",
            "\u201cSUMMER SALE 50%\u201d poster",
            {"purpose": Purpose.FINAL, "text_heavy": True, "image_size": "4K"},
        ),
        ("cat \u2013hero \u2014ar 16:9", "cat", {"purpose": Purpose.HERO, "aspect_ratio": "16:9"}),
        ("cat --hero", "cat", {"purpose": Purpose.HERO}),
        ("cat --final --text", "cat", {"purpose": Purpose.FINAL, "text_heavy": True}),
        ("cat --edit", "cat", {"purpose": Purpose.EDIT}),
        ("cat --character", "cat", {"purpose": Purpose.CHARACTER}),
        ("cat --economy", "cat", {"purpose": Purpose.ECONOMY}),
        ("cat --draft", "cat", {"purpose": Purpose.DRAFT}),
        ("cat --2k", "cat", {"image_size": "2K"}),
        ("cat --1K", "cat", {"image_size": "1K"}),
        ("cat --512", "cat", {"image_size": "512"}),
        ("cat --size 4k", "cat", {"image_size": "4K"}),
        ("cat --size=2048", "cat", {"image_size": "2K"}),
        ("cat --aspect 16:9", "cat", {"aspect_ratio": "16:9"}),
        ("cat --ar 4x5", "cat", {"aspect_ratio": "4:5"}),
        ("cat --21:9", "cat", {"aspect_ratio": "21:9"}),
        ("cat -n 4", "cat", {"image_count": 4}),
        ("cat -n3", "cat", {"image_count": 3}),
        ("cat --n=2", "cat", {"image_count": 2}),
        ("cat --batch --estimate", "cat", {"batch": True, "estimate_only": True}),
        ("cat --thinking HIGH", "cat", {"thinking_level": "high"}),
        ('cat --model "Nano Banana Pro"', "cat", {"model_pin": "Nano Banana Pro"}),
        ("cat --model gemini-3-pro-image", "cat", {"model_pin": "gemini-3-pro-image"}),
        ("cat --tier final", "cat", {"tier_pin": "final"}),
        ("--4k --hero cat", "cat", {"image_size": "4K", "purpose": Purpose.HERO}),
        ("--4k hero cat", "cat", {"image_size": "4K", "purpose": Purpose.HERO}),
        ("cat -- --4k is a word", "cat --4k is a word", {"image_size": None}),
        ('sign saying "--4k"', 'sign saying "--4k"', {"image_size": None, "text_heavy": True}),
        ("kids\u2019 toys don\u2019t \u201890s", "kids\u2019 toys don\u2019t \u201890s", {}),
        ("it's 'retro' style", "it's 'retro' style", {"text_heavy": True}),
        ("cat -5\u00b0C day", "cat -5\u00b0C day", {}),
        ("a cat \u2014 on a mat", "a cat \u2014 on a mat", {}),
        ("line one\nline two --2k", "line one\nline two", {"image_size": "2K"}),
        ("cat --hero --hero", "cat", {"purpose": Purpose.HERO}),
    ],
)
def test_text_reads_into_prompt_and_constraints(
    text: str, prompt: str, expected: dict[str, object]
) -> None:
    """Each example reads into the expected prompt and constraint values."""
    parsed = parse_command(text)
    assert parsed.prompt == prompt
    for name, value in expected.items():
        assert getattr(parsed.constraints, name) == value, name


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("cat --foo", ["Unknown option --foo.", "Options:", "--hero", "put it in quotes"]),
        ("cat --heor", ["Did you mean --hero?"]),
        ("cat -n 9", ["1 to 4 images", "not 9"]),
        ("cat -n 0", ["1 to 4 images", "not 0"]),
        ("cat -n four", ["-n needs a number of images from 1 to 4"]),
        ("cat --ar 16-9", ["not an aspect ratio", "16:9"]),
        ("cat --aspect 0:9", ["not an aspect ratio"]),
        ("cat --size 8K", ["Sizes: 512, 1K, 2K, 4K"]),
        ("cat --thinking max", ["minimal or high"]),
        ("cat --tier premium", ["no tier called", "economy, draft, hero, final, edit, character"]),
        ("cat --model", ["--model needs a value", '--model "Nano Banana Pro"']),
        ("cat --model --4k", ["--model needs a value"]),
        ("", ["Tell me what to make"]),
        ("   ", ["Tell me what to make"]),
        ("--4k", ["Tell me what to make"]),
        ("hero", ["after \u201chero\u201d", "/image -- hero"]),
        ("hero cat --final", ["Pick one purpose", "hero and --final"]),
        ("cat --4k --2k", ["Pick one size", "--4k and --2k"]),
        ("cat --ar 1:1 --ar 16:9", ["Pick one aspect ratio"]),
    ],
)
def test_mistakes_explain_what_would_work(text: str, fragments: list[str]) -> None:
    """A mistake raises CommandError whose message names what would work."""
    with pytest.raises(CommandError) as caught:
        parse_command(text)
    for fragment in fragments:
        assert fragment in caught.value.message


def test_text_overrides_thread_defaults() -> None:
    """Settings carried from a thread apply unless the new text sets them."""
    defaults = Constraints(purpose=Purpose.HERO, image_size="4K", aspect_ratio="16:9")
    parsed = parse_command("another one --2k", defaults=defaults)
    assert parsed.constraints.purpose == Purpose.HERO
    assert parsed.constraints.image_size == "2K"
    assert parsed.constraints.aspect_ratio == "16:9"
    assert parse_command("final take", defaults=defaults).constraints.purpose == Purpose.FINAL


def test_auto_clears_a_carried_pin() -> None:
    """``--model auto`` and ``--tier auto`` clear pins carried over from a thread."""
    defaults = Constraints(model_pin="Nano Banana Pro", tier_pin="final")
    parsed = parse_command("cat --model auto --tier auto", defaults=defaults)
    assert parsed.constraints.model_pin is None
    assert parsed.constraints.tier_pin is None


_WORD = st.text(
    alphabet=st.characters(
        categories=("L", "N"), include_characters="!?.,%&/:", exclude_characters="\"'"
    ),
    min_size=1,
    max_size=8,
).filter(
    lambda w: (
        w.lower().rstrip(":,;")
        not in {
            "economy",
            "draft",
            "preview",
            "hero",
            "final",
            "edit",
            "character",
        }
    )
)
_OPTION = st.sampled_from(
    # No two of these conflict, so any combination parses.
    [
        "--hero",
        "--4k",
        "\u20144K",
        "--ar 16:9",
        "-n 2",
        "--batch",
        "--text",
        "--size 4K",
        "--model gemini-3-pro-image",
        "--thinking minimal",
        "--estimate",
        "\u2013hero",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_parser_never_crashes(text: str) -> None:
    """On any text the parser returns a result or raises CommandError, nothing else."""
    message = ""
    try:
        parsed = parse_command(text)
    except CommandError as exc:
        message = exc.message
    else:
        assert parsed.prompt.strip()
        return
    assert message


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab -\u2014\"'\u201c\u201d\u2019:4kn\n")), max_size=40)
)
def test_prompt_words_come_from_the_text_in_order(text: str) -> None:
    """Every word of the prompt is a word of the text, in the order typed."""
    try:
        parsed = parse_command(text)
    except CommandError:
        return
    words = text.split()
    position = 0
    for word in parsed.prompt.split():
        position = words.index(word, position) + 1


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(_WORD.map(lambda w: ("word", w)), _OPTION.map(lambda o: ("option", o))),
        min_size=1,
        max_size=12,
    ).filter(lambda parts: any(kind == "word" for kind, _ in parts))
)
def test_no_prompt_word_is_ever_lost(parts: list[tuple[str, str]]) -> None:
    """Every non-option word of the input appears in the prompt, in order."""
    text = " ".join(value for _, value in parts)
    parsed = parse_command(text)
    assert parsed.prompt.split() == [value for kind, value in parts if kind == "word"]
