"""Tests of Mesos byte sizes (`mesos.common.bytes`), after stout's bytes tests."""

from __future__ import annotations

import pytest

from mesos.common.bytes import format_bytes, parse_bytes


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100B", 100),
        ("10KB", 10 * 1024),
        ("512MB", 512 * 1024**2),
        ("1GB", 1024**3),
        ("2TB", 2 * 1024**4),
        ("0B", 0),
        ("512mb", 512 * 1024**2),
        ("1Gb", 1024**3),
    ],
)
def test_parse_every_unit(text: str, value: int) -> None:
    """This test ensures that every unit parses to binary multiples of bytes, whatever the
    unit's case (stout upper-cases it)."""
    assert parse_bytes(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Invalid bytes ''"),
        ("100", "Invalid bytes '100'"),
        ("MB", "Invalid bytes 'MB'"),
        ("-1MB", "Invalid bytes '-1MB'"),
        ("1.5GB", "fractional bytes"),
        ("10XB", "unknown unit 'XB'"),
        ("10 MB", "unknown unit ' MB'"),
        ("99999999999TB", "larger than"),
    ],
)
def test_parse_rejects_bad_text_naming_it(text: str, reason: str) -> None:
    """This test ensures that a malformed size raises `ValueError` naming the bad text and
    the expected form."""
    with pytest.raises(ValueError) as error:
        parse_bytes(text)
    assert reason in str(error.value)
    if reason != "larger than":
        assert "e.g. '512MB'" in str(error.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0B"),
        (100, "100B"),
        (1536, "1536B"),
        (1024, "1KB"),
        (1024**2, "1MB"),
        (1536 * 1024, "1536KB"),
        (512 * 1024**2, "512MB"),
        (1024**3, "1GB"),
        (2 * 1024**4, "2TB"),
        (2048 * 1024**4, "2048TB"),
    ],
)
def test_format_raises_the_unit_only_without_loss(value: int, text: str) -> None:
    """This test ensures that formatting uses the largest unit that loses no information,
    as stout's `operator<<` does."""
    assert format_bytes(value) == text
    assert parse_bytes(text) == value


@pytest.mark.parametrize("bad", [-1, 1.5, "1MB", None, True])
def test_format_rejects_non_sizes(bad: object) -> None:
    """This test ensures that formatting anything but a whole non-negative number raises
    `ValueError`."""
    with pytest.raises(ValueError, match="Invalid bytes"):
        format_bytes(bad)  # type: ignore[arg-type]
