"""UPID values and generated ids."""

from __future__ import annotations

import pytest

from libprocess import ID, UPID, UPIDError


def test_parse_and_format() -> None:
    """This test ensures that `id@ip:port` parses into its parts and formats back."""
    upid = UPID("slave(1)@10.0.0.7:5051")
    assert (upid.id, upid.host, upid.port) == ("slave(1)", "10.0.0.7", 5051)
    assert str(upid) == "slave(1)@10.0.0.7:5051"
    assert upid == UPID("slave(1)", "10.0.0.7", 5051) == "slave(1)@10.0.0.7:5051"
    assert hash(upid) == hash(UPID(str(upid)))
    assert upid.address == ("10.0.0.7", 5051)
    assert UPID(upid) == upid


def test_empty_upid_is_falsy() -> None:
    """This test ensures that the empty UPID (an unset pid in Mesos) is falsy and prints ''."""
    assert not UPID()
    assert str(UPID()) == ""
    assert UPID("master@127.0.0.1:5050")


@pytest.mark.parametrize("text", ["master", "master@", "@1.2.3.4:5", "m@1.2.3.4",
                                  "m@1.2.3.4:x", "m@1.2.3.4:70000", "m@1.2.3.4:0", "a b@h:1"])
def test_bad_addresses_raise(text: str) -> None:
    """This test ensures that a malformed address raises `UPIDError` naming it."""
    with pytest.raises(UPIDError, match=r"process address|expected"):
        UPID(text)


def test_immutable() -> None:
    """This test ensures that a UPID cannot be changed (it is used as a dict key)."""
    upid = UPID("a@1.2.3.4:5")
    with pytest.raises(AttributeError):
        upid.port = 6  # type: ignore[misc]


def test_id_generate_counts_per_prefix() -> None:
    """This test ensures that `ID.generate` numbers each prefix separately, from 1."""
    first = ID.generate("test-generate-a")
    assert first == "test-generate-a(1)"
    assert ID.generate("test-generate-a") == "test-generate-a(2)"
    assert ID.generate("test-generate-b") == "test-generate-b(1)"
