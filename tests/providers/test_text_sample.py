"""The sample of generated text every stream keeps for estimates: bounded, but counting all."""

from __future__ import annotations

from burncloud.providers.text_sample import SAMPLE_CHARS, TextSample


def test_the_sample_stops_at_its_bound_and_the_count_does_not() -> None:
    sample = TextSample()
    for _ in range(3):
        sample.add("é" * 10_000)
    sample.add("")
    assert [len(part) for part in sample.parts] == [10_000, SAMPLE_CHARS - 10_000]
    assert (sample.chars, sample.total) == (SAMPLE_CHARS, 30_000)


def test_unread_characters_count_but_are_not_sampled() -> None:
    sample = TextSample()
    sample.add("Hello")
    sample.add_unread(995)
    assert (sample.parts, sample.chars, sample.total) == (["Hello"], 5, 1_000)


def test_extending_keeps_order_the_bound_and_the_others_total() -> None:
    first, second = TextSample(), TextSample()
    first.add("a" * (SAMPLE_CHARS - 3))
    second.add("bcdef")
    second.add_unread(10)
    first.extend(second)
    assert first.parts[-1] == "bcd" and first.chars == SAMPLE_CHARS
    assert first.total == SAMPLE_CHARS - 3 + 15
