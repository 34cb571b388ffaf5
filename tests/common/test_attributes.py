"""Tests of agent attributes (`mesos.common.attributes`), after `attributes_tests.cpp`."""

from __future__ import annotations

import pytest

from mesos.common.attributes import (
    find_attribute,
    format_attribute,
    format_attributes,
    parse_attribute,
    parse_attributes,
)
from mesos.protos.mesos import mesos_pb2

Value = mesos_pb2.Value


def test_parse_every_type() -> None:
    """This test ensures that text, numbers, ranges and sets become TEXT, SCALAR, RANGES
    and SET attributes, in order."""
    attributes = parse_attributes("disks:sata;raid:jbod;dc:1;rack:3;ports:[1-10];zone:{a,b}")
    assert [(a.name, a.type) for a in attributes] == [
        ("disks", Value.TEXT),
        ("raid", Value.TEXT),
        ("dc", Value.SCALAR),
        ("rack", Value.SCALAR),
        ("ports", Value.RANGES),
        ("zone", Value.SET),
    ]
    disks, _raid, dc, _rack, ports, zone = attributes
    assert disks.text.value == "sata"
    assert dc.scalar.value == 1.0
    assert [(r.begin, r.end) for r in ports.ranges.range] == [(1, 10)]
    assert list(zone.set.item) == ["a", "b"]


def test_value_may_contain_colons_and_newlines_separate() -> None:
    """This test ensures that only the first ':' separates name from value and that
    newlines separate attributes like ';', as Mesos splits them."""
    attributes = parse_attributes("url:http://host:80\nrack:r1;;")
    assert [(a.name, a.text.value) for a in attributes] == [
        ("url", "http://host:80"),
        ("rack", "r1"),
    ]


def test_format_round_trips() -> None:
    """This test ensures that formatting gives the `--attributes` text back, which parses
    to the same attributes."""
    text = "disks:sata;dc:1.5;ports:[1-10, 20-30];zone:{a, b}"
    attributes = parse_attributes(text)
    assert format_attributes(attributes) == text
    assert parse_attributes(format_attributes(attributes)) == attributes
    assert format_attribute(attributes[1]) == "dc:1.5"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rack", "Invalid attribute key:value pair 'rack'"),
        ("rack:", "Invalid attribute key:value pair 'rack:'"),
        (":3", "Invalid attribute key:value pair ':3'"),
        ("ok:1;bad", "Invalid attribute key:value pair 'bad'"),
        ("p:[1-", "Bad value for attribute 'p': '[1-' (mismatched brackets)"),
        ("p:[a-b]", "Bad value for attribute 'p': '[a-b]' (expecting non-negative integers"),
        ("p:[5-1]", "Bad value for attribute 'p': '[5-1]' (range begin > end)"),
        ("z:a{b}", "Bad value for attribute 'z': 'a{b}' (unexpected '{')"),
        ("z: ", "Bad value for attribute 'z': ' ' (expecting a non-empty value)"),
    ],
)
def test_bad_attributes_name_the_token(text: str, message: str) -> None:
    """This test ensures that each malformed attribute raises `ValueError` naming the bad
    pair or value (where Mesos would abort the agent)."""
    with pytest.raises(ValueError) as error:
        parse_attributes(text)
    assert str(error.value).startswith(message)


def test_parse_attribute_and_find() -> None:
    """This test ensures that one value parses on its own and `find_attribute` looks
    attributes up by name."""
    rack = parse_attribute("rack", "3")
    assert rack.type == Value.SCALAR and rack.scalar.value == 3.0
    with pytest.raises(ValueError, match="empty name"):
        parse_attribute("", "3")
    attributes = parse_attributes("a:1;b:x")
    assert find_attribute(attributes, "b").text.value == "x"
    assert find_attribute(attributes, "c") is None
