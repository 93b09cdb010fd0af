"""The sentence splitter with offsets, and numbered sentences for citing evidence by number."""

from __future__ import annotations

from pathlib import Path

import pytest

from summariser.sentences import Span, number_sentences, quote_for, split_sentences

from conftest import SEEDS

SEED_PATHS = sorted(SEEDS.glob("*.txt"))


def texts(text: str) -> list[str]:
    return [span.text for span in split_sentences(text)]


@pytest.mark.parametrize("seed", SEED_PATHS, ids=lambda p: p.stem)
def test_spans_cover_every_seed_in_order(seed: Path) -> None:
    text = seed.read_text(encoding="utf-8")
    spans = split_sentences(text)
    assert len(spans) > 3
    cursor = 0
    for span in spans:
        assert text[span.start : span.end] == span.text
        assert span.text == span.text.strip() and span.text
        assert not text[cursor : span.start].strip(), "only whitespace is left out between sentences"
        cursor = span.end
    assert not text[cursor:].strip()
    for left, right in zip(spans, spans[1:]):
        # Never split inside an initialism or after a title.
        assert not right.text.startswith("S.") and not left.text.endswith(("Mr.", "Mrs.", "Dr.", " U."))
        if left.text.endswith("U.S."):
            assert right.text.split()[0] in {"The", "He", "She", "It", "They"}, (left.text[-40:], right.text[:40])


def test_news_abbreviations_in_the_seeds_stay_inside_their_sentences() -> None:
    afghan = texts((SEEDS / "wikinews-afghan.txt").read_text(encoding="utf-8"))
    assert any("critics of U.S. President Donald Trump's policies" in s for s in afghan)
    assert any(s.endswith("Muslims traveling to the U.S.") for s in afghan)  # "... the U.S. The President"
    assert any(s.startswith("The six - member Afghan team") for s in afghan)  # "... Washington D.C. The six"
    taxes = texts((SEEDS / "wikinews-taxes.txt").read_text(encoding="utf-8"))
    assert any("Mr. Toccafondi says" in s for s in taxes)
    everything = [s for p in SEED_PATHS for s in texts(p.read_text(encoding="utf-8"))]
    assert any("L. Ron Hubbard" in s for s in everything)
    assert any("The U.S. Environmental Protection Agency" in s for s in everything)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Lavrov met Dr. Wang in St. Petersburg. They talked.", ["Mr. Lavrov met Dr. Wang in St. Petersburg.", "They talked."]),
        ("Prices rose 3.5 percent in Jan. 2024 after talks. Officials were pleased.", ["Prices rose 3.5 percent in Jan. 2024 after talks.", "Officials were pleased."]),
        ("He lives at No. 10 Downing Street. It is small.", ["He lives at No. 10 Downing Street.", "It is small."]),
        ("The U.S. Senate voted. The U.N. said nothing.", ["The U.S. Senate voted.", "The U.N. said nothing."]),
        ("Sanctions were imposed by the U.S. The ministry objected.", ["Sanctions were imposed by the U.S.", "The ministry objected."]),
        ("John F. Kennedy and J. R. R. Tolkien met.", ["John F. Kennedy and J. R. R. Tolkien met."]),
        ("She said, “We will win.” The crowd cheered.", ["She said, “We will win.”", "The crowd cheered."]),
        ("“Are you sure?” he asked. “Yes!” she said.", ["“Are you sure?” he asked.", "“Yes!” she said."]),
        ("He paused... Then he left (for good.) Nobody knew why!", ["He paused...", "Then he left (for good.)", "Nobody knew why!"]),
        ("Cities, e.g. Paris, agreed. Acme Inc. said yes. Acme Inc. The end.", ["Cities, e.g. Paris, agreed.", "Acme Inc. said yes.", "Acme Inc.", "The end."]),
        ("Fire at the port\n\nMonday, May 4, 2026\n\nA fire broke out.", ["Fire at the port", "Monday, May 4, 2026", "A fire broke out."]),
        ("A headline without a period\nThe first line of the story.", ["A headline without a period", "The first line of the story."]),
        ("A hard-wrapped sentence goes on\nacross two lines. Next one.", ["A hard-wrapped sentence goes on\nacross two lines.", "Next one."]),
        ("  Leading and trailing space.  ", ["Leading and trailing space."]),
        ("Yahoo!'s shares rose. The version is 2.0.1 now.", ["Yahoo!'s shares rose.", "The version is 2.0.1 now."]),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    spans = split_sentences(text)
    assert [s.text for s in spans] == expected
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_number_sentences_renders_one_numbered_sentence_per_line() -> None:
    text = "Talks ended\n\nMr. Lavrov met Wang   Yi in\nthe capital. They talked."
    assert number_sentences(text) == "[1] Talks ended\n[2] Mr. Lavrov met Wang Yi in the capital.\n[3] They talked."
    assert number_sentences("") == ""


def test_quote_for_returns_the_verbatim_text_and_its_offsets() -> None:
    text = "Talks ended\n\nMr. Lavrov met Wang   Yi in\nmoscow. They talked. It rained."
    quote, start, end = quote_for(text, 2)
    assert quote == "Mr. Lavrov met Wang   Yi in\nmoscow." == text[start:end]
    quote, start, end = quote_for(text, [3, 4])
    assert quote == "They talked. It rained." == text[start:end]
    assert quote_for(text, (4, 3)) == quote_for(text, [3, 4])
    for ids, message in [(5, "sentence 5 does not exist"), ([2, 4], "not consecutive"), ([], "at least one"), (0, "does not exist")]:
        with pytest.raises(ValueError, match=message):
            quote_for(text, ids)


def test_span_is_a_plain_value() -> None:
    assert split_sentences("One. Two.") == [Span(0, 4, "One."), Span(5, 9, "Two.")]
