"""Tests of Mesos durations (`mesos.common.durations`), after stout's duration tests."""

from __future__ import annotations

import pytest

from mesos.common.durations import (
    format_duration,
    format_duration_ns,
    parse_duration,
    parse_duration_ns,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10ns", 10e-9),
        ("100us", 100e-6),
        ("500ms", 0.5),
        ("15secs", 15.0),
        ("1.5secs", 1.5),
        ("10mins", 600.0),
        ("2hrs", 7200.0),
        ("1days", 86400.0),
        ("1weeks", 604800.0),
        ("0secs", 0.0),
        (".5mins", 30.0),
    ],
)
def test_parse_every_unit(text: str, seconds: float) -> None:
    """This test ensures that every stout unit parses to the right number of seconds,
    fractions included."""
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-12, abs=0)


def test_parse_keeps_whole_nanoseconds_exact() -> None:
    """This test ensures that durations are whole nanoseconds and a decimal like `2.3secs`
    keeps what the user typed instead of truncating to 2.299999999 seconds."""
    assert parse_duration_ns("2.3secs") == 2_300_000_000
    assert parse_duration_ns("1weeks") == 7 * 24 * 3600 * 10**9
    assert format_duration(parse_duration("2.3secs")) == "2300ms"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Invalid duration ''"),
        ("15", "Invalid duration '15'"),
        ("secs", "Invalid duration 'secs'"),
        ("-1secs", "Invalid duration '-1secs'"),
        ("15sec", "unknown unit 'sec'"),
        ("15 secs", "unknown unit ' secs'"),
        ("1e3secs", "unknown unit 'e3secs'"),
        ("1.2.3secs", "'1.2.3' is not a number"),
        ("15SECS", "unknown unit 'SECS'"),
    ],
)
def test_parse_rejects_bad_text_naming_it(text: str, reason: str) -> None:
    """This test ensures that a malformed duration raises `ValueError` naming the bad text
    (or the bad unit) and the expected form."""
    with pytest.raises(ValueError) as error:
        parse_duration(text)
    message = str(error.value)
    assert reason in message
    assert "'secs'" in message and "e.g. '15secs'" in message


def test_parse_rejects_durations_beyond_int64_nanoseconds() -> None:
    """This test ensures that a duration too large for stout's int64 nanoseconds is refused
    rather than silently wrapping."""
    with pytest.raises(ValueError, match="out of the range"):
        parse_duration("100000000weeks")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        # stout's own `DurationTest.OutputFormat` cases.
        (3.141592653, "3.141592653secs"),
        (3.14, "3140ms"),
        (36000.0, "10hrs"),
        (-36000.0, "-10hrs"),
        (864000.0, "10days"),
        (86400 + 4 * 3600 + 1800.0, "1.1875days"),
        (1209600.0, "2weeks"),
        (0.0, "0ns"),
        # More buckets.
        (15.0, "15secs"),
        (75.0, "75secs"),
        (90.0, "90secs"),
        (60.0, "1mins"),
        (0.5, "500ms"),
        (1.5, "1500ms"),
        (90.5, "1.50833333333333mins"),
        (5400.0, "90mins"),
        (86400.0, "1days"),
        (129600.0, "36hrs"),
        (100e-6, "100us"),
        (1.5e-6, "1500ns"),
        (1.0005, "1.0005secs"),
        (1.5e-3, "1500us"),
        (-15.0, "-15secs"),
    ],
)
def test_format_picks_stout_units(seconds: float, text: str) -> None:
    """This test ensures that formatting follows stout's `operator<<`: the bucket's unit,
    or the next smaller one when only that one gives a whole number."""
    assert format_duration(seconds) == text


def test_format_uses_fifteen_significant_digits() -> None:
    """This test ensures that durations are printed with stout's 15 significant digits, as
    in its boundary case `Duration::max()`."""
    assert format_duration_ns(2**63 - 1) == "15250.2844524715weeks"
    assert format_duration_ns(-(2**63 - 1)) == "-15250.2844524715weeks"


def test_format_round_trips_through_parse() -> None:
    """This test ensures that every formatted duration parses back to the same value."""
    for seconds in (0.001, 0.25, 1, 59, 61, 3599, 3601, 86399, 86401, 10**6, 123.456):
        assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "15secs", None, True])
def test_format_rejects_non_numbers(bad: object) -> None:
    """This test ensures that formatting something that is not a finite number of seconds
    raises `ValueError` instead of printing nonsense."""
    with pytest.raises(ValueError, match="Invalid duration"):
        format_duration(bad)  # type: ignore[arg-type]
