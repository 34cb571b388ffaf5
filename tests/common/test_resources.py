"""Tests of `mesos.common.resources`, after `src/tests/resources_tests.cpp` and
`values_tests.cpp`."""

from __future__ import annotations

import pytest

from mesos.common.resources import (
    RANGES,
    SCALAR,
    SET,
    ResourceFormat,
    Resources,
    ResourcesError,
    convert_resource_format,
    is_strict_subrole_of,
    validate,
    validate_resources,
    validate_role,
)
from mesos.protos.mesos import mesos_pb2

LONG = "cpus(prod):8;cpus(stage):2;mem(*):15360;disk(*):710534;ports(*):[31000-32000]"

STATIC = mesos_pb2.Resource.ReservationInfo.STATIC
DYNAMIC = mesos_pb2.Resource.ReservationInfo.DYNAMIC


def scalar(name: str, value: float, *reservations: tuple[int, str], **fields: object) -> object:
    r = mesos_pb2.Resource(name=name, type=SCALAR)
    r.scalar.value = value
    for rtype, role in reservations:
        r.reservations.add(type=rtype, role=role)
    for key, val in fields.items():
        setattr(r, key, val)
    return r


def ranges(name: str, *pairs: tuple[int, int]) -> object:
    r = mesos_pb2.Resource(name=name, type=RANGES)
    r.ranges.SetInParent()
    for b, e in pairs:
        r.ranges.range.add(begin=b, end=e)
    return r


def volume(persistence_id: str, size: float, container_path: str = "data") -> object:
    r = scalar("disk", size, (DYNAMIC, "prod"))
    r.reservations[0].principal = "ops"
    r.disk.persistence.id = persistence_id
    r.disk.volume.container_path = container_path
    r.disk.volume.mode = mesos_pb2.Volume.RW
    return r


# -- parsing ----------------------------------------------------------------------------


def test_parse_the_long_example() -> None:
    """This test ensures that a typical agent `--resources` string parses into combined
    resources with the right values, roles and Mesos 1.12 text form."""
    r = Resources.parse(LONG)
    assert len(r) == 5
    assert r.cpus() == 10.0
    assert r.mem() == 15360.0
    assert r.disk() == 710534.0
    assert r.ports() == ((31000, 32000),)
    assert r.reserved("prod").cpus() == 8.0
    assert r.reserved("stage").cpus() == 2.0
    assert r.unreserved().cpus() is None
    assert str(r) == (
        "cpus(reservations: [(STATIC,prod)]):8; cpus(reservations: [(STATIC,stage)]):2; "
        "mem:15360; disk:710534; ports:[31000-32000]"
    )


def test_static_reservation_is_in_the_post_refinement_format() -> None:
    """This test ensures that `name(role)` becomes one STATIC reservation in the
    `reservations` stack with the deprecated `role` field unset, and `*` means unreserved, as
    `Resources::parse` does in Mesos 1.12."""
    protos = {p.name: p for p in Resources.parse("cpus(prod):8;mem(*):10")}
    cpus, mem = protos["cpus"], protos["mem"]
    assert [(x.type, x.role) for x in cpus.reservations] == [(STATIC, "prod")]
    assert not cpus.HasField("role") and not cpus.HasField("reservation")
    assert len(mem.reservations) == 0 and not mem.HasField("role")


def test_default_role_applies_to_tokens_without_one() -> None:
    """This test ensures that the default role reserves every token that names no role."""
    r = Resources.parse("cpus:4;mem(*):10", default_role="prod")
    assert r.reserved("prod").cpus() == 4.0
    assert r.unreserved().mem() == 10.0


def test_parse_values_sets_and_spaces() -> None:
    """This test ensures that sets parse in order, ranges coalesce, spaces inside values are
    ignored and names and roles are trimmed, as `values::parse` does."""
    r = Resources.parse(" gpus_ids : {a, b ,c} ; ports ( prod ) :[1-5, 6-10 ,20-30] ;;")
    assert r.get_set("gpus_ids") == ("a", "b", "c")
    assert r.reserved("prod").ports() == ((1, 10), (20, 30))
    assert str(r.get("gpus_ids")) == "gpus_ids:{a, b, c}"


def test_zero_and_empty_resources_are_dropped() -> None:
    """This test ensures that zero scalars, empty ranges and empty sets parse but leave no
    resource behind, as `Resources::add` skips empty resources."""
    r = Resources.parse("cpus:0;ports:[];s:{};mem:1")
    assert str(r) == "mem:1"
    assert not Resources.parse("cpus:0")
    assert str(Resources()) == "{}"


def test_parse_json_form() -> None:
    """This test ensures that the JSON array form parses, taking the default role for
    resources with no role, upgrading an old-style `role`, and keeping STATIC reservations."""
    text = (
        '[{"name": "cpus", "type": "SCALAR", "scalar": {"value": 8}},'
        ' {"name": "mem", "type": "SCALAR", "scalar": {"value": 512}, "role": "prod"},'
        ' {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 9}]},'
        '  "reservations": [{"type": "STATIC", "role": "web"}]},'
        ' {"name": "zones", "type": "SET", "set": {"item": ["a", "b"]}}]'
    )
    r = Resources.parse(text, default_role="dev")
    assert r == Resources.parse("cpus(dev):8;mem(prod):512;ports(web):[1-9];zones(dev):{a,b}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cpus8", "Bad value for resources, missing or extra ':' in 'cpus8'"),
        ("disk(a:b):1", "Bad value for resources, missing or extra ':' in 'disk(a:b):1'"),
        (":8", "Bad value for resources, missing or extra ':' in ':8'"),
        ("cpus(prod:8", "Bad value for resources, mismatched parentheses in 'cpus(prod:8'"),
        ("cpus)prod(:8", "Bad value for resources, mismatched parentheses in 'cpus)prod(:8'"),
        ("cpus:abc", "Bad value for resource 'cpus': 'abc' (expected a number"),
        ("cpus:1.2.3", "Bad value for resource 'cpus': '1.2.3'"),
        ("ports:[1-", "Bad value for resource 'ports': '[1-' (mismatched brackets)"),
        ("ports:[a-b]", "Bad value for resource 'ports': '[a-b]' (expecting non-negative "
         "integers in 'a')"),
        ("ports:[1-2-3]", "Bad value for resource 'ports': '[1-2-3]' (expecting one or more"),
        ("ports:1[2-3]", "Bad value for resource 'ports': '1[2-3]' (unexpected '[')"),
        ("s:{a", "Bad value for resource 's': '{a' (mismatched brackets)"),
        ("s:a{b}", "Bad value for resource 's': 'a{b}' (unexpected '{')"),
        ("cpus:", "Bad value for resources, missing or extra ':' in 'cpus:'"),
        ("cpus:-1", "Invalid resource 'cpus:-1': Invalid scalar resource: value <= 0"),
        ("cpus:0.0004", "Invalid resource 'cpus:0.0004': Invalid scalar resource: value <= 0"),
        ("ports:[5-1]", "Invalid resource 'ports:[5-1]': Invalid ranges resource: begin > end"),
        ("s:{a,a}", "Invalid resource 's:{a,a}': Invalid set resource: duplicated elements"),
        ("(prod):1", "Invalid resource '(prod):1': Empty resource name"),
        ("cpus():1", "Invalid resource 'cpus():1': Empty role name is invalid"),
        ("cpus(-x):1", "Invalid resource 'cpus(-x):1': Role '-x' cannot contain a path"),
        ("cpus(a b):1", "Invalid resource 'cpus(a b):1': Role 'a b' cannot contain whitespace"),
        ("cpus(a//b):1", "Invalid resource 'cpus(a//b):1': Role 'a//b' cannot contain two"),
        ("a:1;a:[1-2]", "Resources with the same name ('a') but different types are not "
         "allowed, in 'a:[1-2]'"),
    ],
)
def test_parse_errors_name_the_bad_token(text: str, message: str) -> None:
    """This test ensures that every parse error path raises `ResourcesError` (a
    `ValueError`) whose one-line message names the bad token."""
    with pytest.raises(ResourcesError) as error:
        Resources.parse(text)
    assert isinstance(error.value, ValueError)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ('{"name": "cpus", "type": "SCALAR"}', "Invalid resource 0"),
        ('{"name": "cpus", "type": "BOGUS", "scalar": {"value": 1}}',
         "Some JSON resources were not formatted properly: resource 0"),
        ('{"type": "SCALAR", "scalar": {"value": 1}}', "Missing required fields: name"),
        ('{"name": "cpus", "type": "SCALAR", "scalar": {"value": "x"}}', "'x'"),
        ('{"name": "disk", "type": "SCALAR", "scalar": {"value": 1}, "role": "r",'
         ' "disk": {"persistence": {"id": "v"}}}', "Persistent volumes cannot be specified"),
        ('{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "revocable": {}}',
         "Revocable resources cannot be specified"),
        ('{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},'
         ' "reservations": [{"type": "DYNAMIC", "role": "r"}]}',
         "Dynamic reservations cannot be specified"),
    ],
)
def test_json_parse_errors_name_the_resource(element: str, message: str) -> None:
    """This test ensures that a bad JSON resource is refused with a message naming its index
    and what is wrong, including the command line rules of `validateCommandLineResources`."""
    with pytest.raises(ResourcesError) as error:
        Resources.parse(f"[{element}]")
    assert message in str(error.value)


def test_scalars_use_three_decimal_fixed_point() -> None:
    """This test ensures that scalars keep three decimals and add exactly, so 0.1 + 0.2 is
    0.3 and adding then subtracting gives back what was there."""
    a = Resources.parse("cpus:0.1")
    b = Resources.parse("cpus:0.2")
    assert (a + b).cpus() == 0.3
    assert ((a + b) - b).cpus() == 0.1
    assert Resources.parse("cpus:0.0005").cpus() == 0.001
    assert str(Resources.parse("cpus:1.23456")) == "cpus:1.235"


# -- arithmetic -------------------------------------------------------------------------


def test_addition_combines_same_name_and_role() -> None:
    """This test ensures that `+` combines resources of the same name and reservation
    (scalars add, ranges merge, sets unite) and keeps different roles apart."""
    a = Resources.parse("cpus(prod):1;ports:[1-5];s:{a,b};mem:10")
    b = Resources.parse("cpus(prod):2;cpus:4;ports:[6-10,20-30];s:{b,c}")
    total = a + b
    assert total.reserved("prod").cpus() == 3.0
    assert total.unreserved().cpus() == 4.0
    assert total.ports() == ((1, 10), (20, 30))
    assert total.get_set("s") == ("a", "b", "c")
    assert len(total) == 5
    # Operands are untouched values.
    assert a == Resources.parse("cpus(prod):1;ports:[1-5];s:{a,b};mem:10")


def test_subtraction_splits_ranges_and_never_goes_negative() -> None:
    """This test ensures that `-` splits ranges, removes set items, and drops a resource
    that would become empty or negative instead of keeping a negative amount."""
    total = Resources.parse("cpus:4;mem:100;ports:[31000-32000];s:{a,b}")
    task = Resources.parse("cpus:1;mem:150;ports:[31005-31010,31500-31500];s:{a,z}")
    rest = total - task
    assert rest.cpus() == 3.0
    assert rest.mem() is None
    assert rest.ports() == ((31000, 31004), (31011, 31499), (31501, 32000))
    assert rest.get_set("s") == ("b",)
    assert (rest - rest) == Resources()
    assert not (total - total)


def test_range_arithmetic_matches_integer_sets() -> None:
    """This test ensures that adding, subtracting and containing ranges agree with the same
    operations on plain sets of port numbers, over many seeded random cases."""
    import random

    rng = random.Random(1234)

    def random_ports() -> set[int]:
        ports: set[int] = set()
        for _ in range(rng.randint(0, 4)):
            begin = rng.randint(0, 60)
            ports.update(range(begin, begin + rng.randint(0, 12)))
        return ports

    def as_resources(ports: set[int]) -> Resources:
        pairs: list[tuple[int, int]] = []
        for port in sorted(ports):
            if pairs and pairs[-1][1] == port - 1:
                pairs[-1] = (pairs[-1][0], port)
            else:
                pairs.append((port, port))
        # Give the ranges split up and out of order, to exercise coalescing.
        rng.shuffle(pairs)
        return Resources(ranges("ports", *pairs))

    def as_set(resources: Resources) -> set[int]:
        return {p for b, e in resources.ports() or () for p in range(b, e + 1)}

    for _ in range(500):
        x, y = random_ports(), random_ports()
        a, b = as_resources(x), as_resources(y)
        assert as_set(a + b) == x | y
        assert as_set(a - b) == x - y
        assert a.contains(b) == (y <= x)
        assert (a == b) == (x == y)


def test_subtraction_respects_reservations() -> None:
    """This test ensures that subtracting resources of another role (or unreserved ones)
    leaves reserved resources alone."""
    total = Resources.parse("cpus(prod):4")
    assert total - Resources.parse("cpus:4") == total
    assert total - Resources.parse("cpus(dev):4") == total
    assert not total - Resources.parse("cpus(prod):4")


def test_contains_is_offer_contains_task() -> None:
    """This test ensures that `contains` (and `>=`) says whether every resource of a task
    fits in an offer of the same name, reservation and type."""
    offer = Resources.parse("cpus(prod):4;mem:1024;ports:[31000-31010];s:{a,b}")
    assert offer.contains(Resources.parse("cpus(prod):4;mem:512;ports:[31002-31003];s:{b}"))
    assert offer >= Resources.parse("mem:1024")
    assert Resources.parse("mem:1") <= offer
    assert offer.contains(Resources())
    assert not offer.contains(Resources.parse("cpus(prod):4.001"))
    assert not offer.contains(Resources.parse("cpus:1"))
    assert not offer.contains(Resources.parse("cpus(dev):1"))
    assert not offer.contains(Resources.parse("ports:[31010-31011]"))
    assert not offer.contains(Resources.parse("s:{c}"))
    assert not offer.contains(Resources.parse("gpus:1"))


def test_contains_a_single_protobuf_validates_it() -> None:
    """This test ensures that checking one `Resource` validates it first, so an invalid
    resource such as `cpus:-1` is never contained."""
    offer = Resources.parse("cpus:4")
    assert offer.contains(scalar("cpus", 2))
    assert not offer.contains(scalar("cpus", -1))


def test_equality_ignores_order() -> None:
    """This test ensures that equality (and the hash) does not depend on the order resources
    or set items were added, as Mesos compares by mutual containment."""
    a = Resources.parse("cpus:1;mem:2;s:{a,b};ports:[1-2,5-6]")
    b = Resources.parse("s:{b,a};ports:[5-6];mem:2;ports:[1-2];cpus:1")
    assert a == b and hash(a) == hash(b)
    assert a != Resources.parse("cpus:1;mem:2;s:{a};ports:[1-2,5-6]")
    assert a != Resources.parse("cpus(r):1;mem:2;s:{a,b};ports:[1-2,5-6]")
    assert {a: 1}[b] == 1


def test_sum_and_protobuf_operands() -> None:
    """This test ensures that `sum()` works and that a single `Resource` protobuf can be
    added or subtracted (an invalid one is ignored, as Mesos's `operator-=`)."""
    parts = [Resources.parse("cpus:1"), Resources.parse("cpus:2"), Resources.parse("mem:3")]
    assert sum(parts) == Resources.parse("cpus:3;mem:3")
    assert (Resources.parse("cpus:1") + scalar("cpus", 1)).cpus() == 2.0
    assert (Resources.parse("cpus:2") - scalar("cpus", 1)).cpus() == 1.0
    assert (Resources.parse("cpus:2") - scalar("cpus", -1)).cpus() == 2.0


# -- protobufs in and out ---------------------------------------------------------------


def test_construction_from_protobufs_skips_invalid_and_empty() -> None:
    """This test ensures that building from protobufs ignores invalid and zero resources
    and combines the rest, as `Resources(const RepeatedPtrField<Resource>&)`."""
    bad_ranges = ranges("ports", (5, 1))
    r = Resources([scalar("cpus", 1), scalar("cpus", 2), scalar("mem", 0),
                   scalar("cpus", -3), bad_ranges, scalar("", 1)])
    assert str(r) == "cpus:3"


def test_old_format_protobufs_are_upgraded() -> None:
    """This test ensures that protobufs in the pre-reservation-refinement format (`role`,
    `reservation`) and in the endpoint format are upgraded to the reservations stack."""
    static = scalar("cpus", 1, role="prod")
    dynamic = scalar("mem", 10, role="prod")
    dynamic.reservation.principal = "ops"
    endpoint = scalar("disk", 5, (STATIC, "prod"), role="prod")
    r = Resources([static, dynamic, endpoint, scalar("gpus", 1, role="*")])
    expected_mem = scalar("mem", 10, (DYNAMIC, "prod"))
    expected_mem.reservations[0].principal = "ops"
    assert r == Resources([
        scalar("cpus", 1, (STATIC, "prod")),
        expected_mem,
        scalar("disk", 5, (STATIC, "prod")),
        scalar("gpus", 1),
    ])
    mem = next(p for p in r if p.name == "mem")
    assert [(x.type, x.role, x.principal) for x in mem.reservations] == [(DYNAMIC, "prod", "ops")]
    assert all(not p.HasField("role") and not p.HasField("reservation") for p in r)
    assert r.unreserved().get_scalar("gpus") == 1.0


def test_protobuf_formats_out() -> None:
    """This test ensures that `to_protobuf_list` gives the post format by default, the
    pre-refinement format (deprecated `role`/`reservation` set, stack cleared) for old
    consumers and the endpoint format (both) as `convertResourceFormat` does."""
    r = Resources.parse("cpus(prod):8;mem:1")
    dyn = scalar("disk", 3, (DYNAMIC, "prod"))
    dyn.reservations[0].principal = "ops"
    r = r + Resources(dyn)

    post = {p.name: p for p in r.to_protobuf_list()}
    assert not post["cpus"].HasField("role") and len(post["cpus"].reservations) == 1

    pre = {p.name: p for p in r.to_protobuf_list(ResourceFormat.PRE_RESERVATION_REFINEMENT)}
    assert pre["cpus"].role == "prod" and len(pre["cpus"].reservations) == 0
    assert not pre["cpus"].HasField("reservation")
    assert pre["mem"].HasField("role") and pre["mem"].role == "*"
    assert pre["disk"].role == "prod" and pre["disk"].reservation.principal == "ops"

    endpoint = {p.name: p for p in r.to_protobuf_list(ResourceFormat.ENDPOINT)}
    assert endpoint["cpus"].role == "prod" and len(endpoint["cpus"].reservations) == 1

    # Every format reads back as the same resources.
    for fmt in ResourceFormat:
        assert Resources(r.to_protobuf_list(fmt)) == r


def test_refined_reservations_cannot_be_downgraded() -> None:
    """This test ensures that a resource with refined reservations has no
    pre-reservation-refinement form and converting it raises."""
    refined = scalar("cpus", 1, (STATIC, "eng"), (DYNAMIC, "eng/web"))
    assert validate(refined) is None
    with pytest.raises(ResourcesError, match="refined reservations"):
        Resources(refined).to_protobuf_list(ResourceFormat.PRE_RESERVATION_REFINEMENT)
    endpoint = Resources(refined).to_protobuf_list(ResourceFormat.ENDPOINT)[0]
    assert not endpoint.HasField("role") and len(endpoint.reservations) == 2


def test_convert_resource_format_round_trip() -> None:
    """This test ensures that converting one resource to the old format and back restores
    it, including a dynamic reservation's principal."""
    original = scalar("mem", 1, (DYNAMIC, "prod"))
    original.reservations[0].principal = "ops"
    copy = mesos_pb2.Resource()
    copy.CopyFrom(original)
    convert_resource_format(copy, ResourceFormat.PRE_RESERVATION_REFINEMENT)
    assert copy.role == "prod" and copy.reservation.principal == "ops"
    convert_resource_format(copy, ResourceFormat.POST_RESERVATION_REFINEMENT)
    assert copy == original


def test_iteration_yields_independent_protobufs() -> None:
    """This test ensures that iterating gives fresh protobufs: changing one does not change
    the `Resources` it came from."""
    r = Resources.parse("cpus:1")
    for p in r:
        p.scalar.value = 100
    assert r.cpus() == 1.0
    assert [p.name for p in r] == ["cpus"]


def test_copy_and_pickle() -> None:
    """This test ensures that resources survive `copy`, `deepcopy` and a pickle round trip
    (kinds are interned per process, so pickling must rebuild them)."""
    import copy
    import pickle

    shared = volume("v1", 64)
    shared.shared.SetInParent()
    r = Resources.parse(LONG) + Resources([shared, shared])
    assert copy.copy(r) == r and copy.deepcopy(r) == r
    again = pickle.loads(pickle.dumps(r))
    assert again == r and str(again) == str(r)
    assert (again - r) == Resources()


# -- helpers ----------------------------------------------------------------------------


def test_accessors() -> None:
    """This test ensures that the named accessors sum over every role and give None for a
    missing resource."""
    r = Resources.parse(LONG + ";gpus:1;ephemeral_ports:[1-2]")
    assert (r.cpus(), r.gpus(), r.mem(), r.disk()) == (10.0, 1.0, 15360.0, 710534.0)
    assert r.ephemeral_ports() == ((1, 2),)
    assert Resources().cpus() is None and Resources().ports() is None
    assert r.names() == {"cpus", "mem", "disk", "ports", "gpus", "ephemeral_ports"}
    assert r.types()["ports"] == RANGES and r.types()["cpus"] == SCALAR
    assert r.scalars().names() == {"cpus", "mem", "disk", "gpus"}
    assert r.get("cpus") == Resources.parse("cpus(prod):8;cpus(stage):2")
    assert r.get_set("ports") is None


def test_scalar_quantities_count_ports() -> None:
    """This test ensures that quantities sum scalars of every role and count ranges and
    sets by their number of elements, as `ResourceQuantities::fromResources` (the DRF
    sorter's input)."""
    r = Resources.parse(LONG + ";s:{a,b,c}")
    assert r.scalar_quantities() == {
        "cpus": 10.0, "mem": 15360.0, "disk": 710534.0, "ports": 1001.0, "s": 3.0,
    }
    assert Resources().scalar_quantities() == {}


def test_reservation_filters() -> None:
    """This test ensures that `reserved`, `unreserved`, `allocatable_to` (with hierarchical
    roles) and `reservations` select resources by their current reservation."""
    r = Resources.parse("cpus(eng):1;cpus(eng/web):2;cpus(ops):4;cpus:8")
    assert r.reserved().cpus() == 7.0
    assert r.reserved("eng").cpus() == 1.0
    assert r.unreserved().cpus() == 8.0
    assert r.allocatable_to("eng/web").cpus() == 11.0
    assert r.allocatable_to("eng/web/api").cpus() == 11.0
    assert r.allocatable_to("eng").cpus() == 9.0
    assert r.allocatable_to("dev").cpus() == 8.0
    assert r.reserved_to_role_subtree("eng").cpus() == 3.0
    assert {role: res.cpus() for role, res in r.reservations().items()} == {
        "eng": 1.0, "eng/web": 2.0, "ops": 4.0,
    }
    assert r.filter(lambda p: p.scalar.value > 3) == Resources.parse("cpus(ops):4;cpus:8")


def test_to_unreserved_and_flatten() -> None:
    """This test ensures that `to_unreserved` drops reservations and combines the result,
    and `flatten(role)` statically reserves everything to one role."""
    r = Resources.parse("cpus(prod):8;cpus(stage):2;mem:10")
    assert r.to_unreserved() == Resources.parse("cpus:10;mem:10")
    assert r.flatten() == Resources.parse("cpus:10;mem:10")
    assert r.flatten("*") == Resources.parse("cpus:10;mem:10")
    assert r.flatten("dev") == Resources.parse("cpus(dev):10;mem(dev):10")
    with pytest.raises(ResourcesError, match="Cannot flatten to role ''"):
        r.flatten("")


def test_allocation_info() -> None:
    """This test ensures that `allocate` tags resources with a role (shown as
    `(allocated: role)`), that allocated and unallocated resources do not combine, and that
    `allocations` and `unallocate` undo it."""
    r = Resources.parse("cpus:1;mem(prod):2")
    allocated = r.allocate("prod")
    assert str(allocated) == "cpus(allocated: prod):1; mem(allocated: prod)(reservations: " \
        "[(STATIC,prod)]):2"
    assert not r.contains(allocated) and not allocated.contains(r)
    assert all(p.allocation_info.role == "prod" for p in allocated)
    both = allocated + r.allocate("dev")
    assert set(both.allocations()) == {"dev", "prod"}
    assert both.allocations()["dev"] == r.allocate("dev")
    assert both.unallocate() == r + r
    with pytest.raises(ResourcesError, match="not allocated"):
        r.allocations()


def test_push_and_pop_reservations() -> None:
    """This test ensures that pushing a DYNAMIC refinement and popping it back round-trips,
    and that an invalid refinement is refused."""
    r = Resources.parse("cpus(eng):4")
    refinement = mesos_pb2.Resource.ReservationInfo(type=DYNAMIC, role="eng/web")
    refined = r.push_reservation(refinement)
    assert refined.reserved("eng/web").cpus() == 4.0
    assert str(refined) == "cpus(reservations: [(STATIC,eng),(DYNAMIC,eng/web)]):4"
    assert refined.pop_reservation() == r
    assert r.pop_reservation() == Resources.parse("cpus:4")
    with pytest.raises(ResourcesError, match="not a refinement"):
        r.push_reservation(mesos_pb2.Resource.ReservationInfo(type=DYNAMIC, role="ops"))
    with pytest.raises(ResourcesError, match="Cannot pop"):
        Resources.parse("cpus:1").pop_reservation()


def test_stripped_scalar_quantity() -> None:
    """This test ensures that `create_stripped_scalar_quantity` keeps scalars only, summed
    across reservations."""
    r = Resources.parse(LONG)
    assert r.create_stripped_scalar_quantity() == Resources.parse(
        "cpus:10;mem:15360;disk:710534"
    )


def test_text_of_metadata() -> None:
    """This test ensures that `str` prints reservations with principal and labels, revocable
    and disk metadata the way Mesos's `operator<<` does."""
    dyn = scalar("cpus", 1, (DYNAMIC, "prod"))
    dyn.reservations[0].principal = "ops"
    dyn.reservations[0].labels.labels.add(key="k", value="v")
    dyn.reservations[0].labels.labels.add(key="flag")
    assert str(Resources(dyn)) == "cpus(reservations: [(DYNAMIC,prod,ops,{k: v, flag})]):1"
    rev = scalar("cpus", 2)
    rev.revocable.SetInParent()
    assert str(Resources(rev)) == "cpus{REV}:2"
    assert str(Resources(volume("v1", 64))) == (
        "disk(reservations: [(DYNAMIC,prod,ops)])[v1:data]:64"
    )
    assert Resources(rev).revocable().cpus() == 2.0
    assert not Resources(rev).non_revocable()


def test_reservation_labels_compare_as_a_set() -> None:
    """This test ensures that two dynamic reservations whose labels differ only in order
    combine, as Mesos compares `Labels` without order."""
    a = scalar("cpus", 1, (DYNAMIC, "prod"))
    a.reservations[0].labels.labels.add(key="x", value="1")
    a.reservations[0].labels.labels.add(key="y", value="2")
    b = scalar("cpus", 2, (DYNAMIC, "prod"))
    b.reservations[0].labels.labels.add(key="y", value="2")
    b.reservations[0].labels.labels.add(key="x", value="1")
    assert len(Resources([a, b])) == 1
    assert Resources([a, b]).cpus() == 3.0


# -- disks and shared resources ---------------------------------------------------------


def test_persistent_volumes_never_combine() -> None:
    """This test ensures that two identical persistent volumes stay two resources, that
    subtracting one leaves the other, and that containment ignores the volume's mount
    point (Mesos ignores `DiskInfo.volume` when comparing)."""
    v = volume("v1", 64)
    both = Resources([v, v])
    assert len(both) == 2 and both.disk() == 128.0
    assert len(both - Resources(v)) == 1
    assert both.contains(Resources(v)) and not Resources(v).contains(both)
    elsewhere = volume("v1", 64, container_path="other")
    assert Resources(v).contains(Resources(elsewhere))
    assert not Resources(v).contains(Resources(volume("v1", 32)))
    assert not Resources(v).contains(Resources(volume("v2", 64)))
    assert both.persistent_volumes() == both
    # The volume's own mount point survives a round trip through `Resources`.
    assert next(iter(Resources(elsewhere))).disk.volume.container_path == "other"


def test_mount_disks_never_combine() -> None:
    """This test ensures that MOUNT disks are exclusive: two of them are never added into
    one, and a part of one is not contained in it."""
    mount = scalar("disk", 100)
    mount.disk.source.type = mesos_pb2.Resource.DiskInfo.Source.MOUNT
    mount.disk.source.mount.root = "/mnt/a"
    r = Resources([mount, mount])
    assert len(r) == 2
    assert str(r) == "disk[MOUNT:/mnt/a]:100; disk[MOUNT:/mnt/a]:100"
    half = scalar("disk", 50)
    half.disk.source.CopyFrom(mount.disk.source)
    assert not r.contains(Resources(half))
    assert r.contains(Resources(mount))


def test_shared_resources_count_copies() -> None:
    """This test ensures that shared persistent volumes add up as copies of one resource
    (printed with their count) and subtract copy by copy."""
    shared = volume("v1", 64)
    shared.shared.SetInParent()
    two = Resources(shared) + Resources(shared)
    assert len(two) == 1
    assert str(two).endswith("<SHARED>:64<2>")
    assert two.contains(Resources(shared)) and not Resources(shared).contains(two)
    assert two - Resources(shared) == Resources(shared)
    assert two.shared() == two and not two.non_shared()
    assert two.disk() == 64.0


# -- validation -------------------------------------------------------------------------


def _reserved(*reservations: tuple[int, str], **fields: object) -> object:
    return scalar("cpus", 1, *reservations, **fields)


@pytest.mark.parametrize(
    ("resource", "error"),
    [
        (scalar("", 1), "Empty resource name"),
        (scalar("cpus", -1), "Invalid scalar resource: value <= 0"),
        (scalar("cpus", 0.0001), "Invalid scalar resource: value <= 0"),
        (scalar("cpus", float("nan")), "Invalid scalar resource: value is not finite"),
        (mesos_pb2.Resource(name="cpus", type=SCALAR), "Invalid scalar resource"),
        (ranges("ports", (5, 1)), "Invalid ranges resource: begin > end"),
        (ranges("ports", (1, 5), (3, 8)), "Invalid ranges resource: overlapping ranges"),
        (ranges("ports", (5, 6), (1, 10)), "Invalid ranges resource: overlapping ranges"),
        (mesos_pb2.Resource(name="s", type=SET, set=mesos_pb2.Value.Set(item=["a", "a"])),
         "Invalid set resource: duplicated elements"),
        (mesos_pb2.Resource(name="t", type=mesos_pb2.Value.TEXT), "Unsupported resource type"),
        (_reserved((STATIC, "*")), 'Invalid reservation: role "*" cannot be reserved'),
        (_reserved((STATIC, "eng"), (STATIC, "eng/web")),
         "Invalid refined reservation: A refined reservation cannot be STATIC"),
        (_reserved((STATIC, "eng"), (DYNAMIC, "ops")),
         "Invalid refined reservation: role 'ops' is not a refinement of 'eng'"),
        (_reserved((STATIC, "eng"), role="ops"),
         "Invalid resource format: 'Resource.role' field with 'ops' does not match"),
        (_reserved(role="-bad"), "Role '-bad' cannot contain a path segment that starts"),
    ],
)
def test_validate_reports_why(resource: object, error: str) -> None:
    """This test ensures that `validate` reports each invalid resource the way
    `Resources::validate` does, and `validate_resources` names the resource."""
    assert validate(resource) is not None
    assert validate(resource).startswith(error)  # type: ignore[union-attr]
    message = validate_resources([scalar("mem", 1), resource])
    assert message is not None and message.startswith("Resource '")
    assert "' is invalid: " + error in message


def test_validate_accepts_good_resources() -> None:
    """This test ensures that valid resources of both formats pass validation."""
    disk = scalar("disk", 1)
    disk.disk.source.type = mesos_pb2.Resource.DiskInfo.Source.PATH
    for resource in (
        scalar("cpus", 0),
        scalar("cpus", 1, role="prod"),
        _reserved((STATIC, "eng"), (DYNAMIC, "eng/web")),
        ranges("ports", (1, 2), (3, 4)),
        disk,
    ):
        assert validate(resource) is None
    assert validate_resources([scalar("cpus", 1)]) is None
    cpus_with_disk = scalar("cpus", 1)
    cpus_with_disk.disk.SetInParent()
    assert validate(cpus_with_disk) == "DiskInfo should not be set for cpus resource"


def test_roles() -> None:
    """This test ensures that role names follow Mesos's rules for hierarchical roles."""
    assert validate_role("*") is None and validate_role("eng/web") is None
    for bad in ("", "/a", "a/", "a//b", ".", "a/..", "-a", "a/*", "a b", "a\x7fb"):
        assert validate_role(bad) is not None, bad
    assert is_strict_subrole_of("eng/web", "eng")
    assert not is_strict_subrole_of("eng", "eng")
    assert not is_strict_subrole_of("engineering", "eng")
