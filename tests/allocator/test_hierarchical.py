"""Actor-level tests of the hierarchical DRF allocator (port of the scenarios of
`src/tests/hierarchical_allocator_tests.cpp`).

Each test starts a real allocator process with the clock paused; offers go to an
`OfferRecorder` and are read after `settle()`, which returns once the allocator is idle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

import libprocess
from libprocess import metrics
from libprocess.clock import Clock
from libprocess.testing import settle
from mesos.allocator.allocator import AllocatorOptions
from mesos.allocator.hierarchical import HierarchicalDRFAllocator
from mesos.common.resources import Resources
from mesos.protos.mesos import mesos_pb2

Offerable = dict[str, dict[str, Resources]]


class OfferRecorder:
    """The offer callback of a test allocator: records every `(framework_id, offerable)` it
    is given. Called on the allocator's thread; read by the test after `settle()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offers: list[tuple[str, Offerable]] = []

    def __call__(self, framework_id: str, offerable: Offerable) -> None:
        with self._lock:
            self._offers.append((framework_id, offerable))

    def take(self) -> list[tuple[str, Offerable]]:
        """Every offer recorded since the last `take()`, oldest first."""
        with self._lock:
            offers, self._offers = self._offers, []
        return offers

    def take_by_agent(self) -> dict[str, tuple[str, str, Resources]]:
        """The offers since the last `take()`, as slave id -> (framework id, role,
        resources); fails if an agent was offered twice."""
        result: dict[str, tuple[str, str, Resources]] = {}
        for framework_id, offerable in self.take():
            for role, by_slave in offerable.items():
                for slave_id, resources in by_slave.items():
                    assert slave_id not in result, f"agent {slave_id} offered twice"
                    result[slave_id] = (framework_id, role, resources)
        return result


def framework_info(framework_id: str, role: str | None = None,
                   roles: Iterable[str] | None = None,
                   capabilities: Iterable[int] = ()) -> mesos_pb2.FrameworkInfo:
    """A `FrameworkInfo`; `roles` makes it a MULTI_ROLE framework."""
    info = mesos_pb2.FrameworkInfo(user="test", name=f"framework {framework_id}")
    info.id.value = framework_id
    if role is not None:
        info.role = role
    types = list(capabilities)
    if roles is not None:
        info.roles.extend(roles)
        types.append(mesos_pb2.FrameworkInfo.Capability.MULTI_ROLE)
    for t in types:
        info.capabilities.add(type=t)
    return info


def slave_info(slave_id: str, attributes: Iterable[tuple[str, str]] = ()) -> mesos_pb2.SlaveInfo:
    info = mesos_pb2.SlaveInfo(hostname=f"host-{slave_id}")
    info.id.value = slave_id
    for name, text in attributes:
        attribute = info.attributes.add(name=name, type=mesos_pb2.Value.TEXT)
        attribute.text.value = text
    return info


def offered(text: str, role: str = "*") -> Resources:
    """The resources of `text` as they appear in an offer to `role`."""
    return Resources.parse(text).allocate(role)


@pytest.fixture
def start_allocator(clock: Clock) -> Iterator[Callable[..., tuple[HierarchicalDRFAllocator,
                                                                   OfferRecorder]]]:
    """Starts allocators (with the clock paused) whose offers go to an `OfferRecorder`;
    keyword arguments are `AllocatorOptions`. Finalizes them after the test."""
    started: list[HierarchicalDRFAllocator] = []

    def start(**options: Any) -> tuple[HierarchicalDRFAllocator, OfferRecorder]:
        options.setdefault("seed", 7)
        recorder = OfferRecorder()
        allocator = HierarchicalDRFAllocator()
        allocator.initialize(AllocatorOptions(**options), recorder)
        started.append(allocator)
        return allocator, recorder

    yield start
    for allocator in started:
        allocator.finalize()


# Tests.


def test_offers_new_agent_to_framework(start_allocator):
    """This test ensures that the resources of a newly added agent are offered, without any
    clock advance, to the framework, allocated to its role."""
    allocator, offers = start_allocator()

    # 1. A framework subscribes; there is nothing to offer yet.
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    settle()
    assert offers.take() == []

    # 2. An agent is added: its resources are offered at once (event-driven allocation).
    total = "cpus:2;mem:1024;disk:4096;ports:[31000-32000]"
    allocator.add_slave("s1", slave_info("s1"), Resources.parse(total), {})
    settle()

    assert offers.take() == [("f1", {"*": {"s1": offered(total)}})]

    # 3. A later run has nothing more to offer: the agent is entirely offered.
    allocator.allocate().get(timeout=10)
    settle()
    assert offers.take() == []


def test_offered_resources_carry_allocation_role(start_allocator):
    """This test ensures that every offered `Resource` has `allocation_info.role` set to the
    role it is offered to."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1", role="analytics"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:1;mem:512"), {})
    settle()

    (framework_id, offerable), = offers.take()
    assert framework_id == "f1"
    assert list(offerable) == ["analytics"]
    resources = list(offerable["analytics"]["s1"])
    assert {r.name for r in resources} == {"cpus", "mem"}
    assert all(r.allocation_info.role == "analytics" for r in resources)


def test_drf_lower_dominant_share_gets_next_agent(start_allocator):
    """This test ensures that each new agent goes to the framework with the lowest dominant
    share (DRF), whoever was added first."""
    allocator, offers = start_allocator()

    # 1. f1 alone gets the first agent.
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    assert offers.take_by_agent()["s1"][0] == "f1"

    # 2. f2 arrives with nothing: its share (0) is the lowest, so it gets the next agent.
    allocator.add_framework("f2", framework_info("f2"), {}, True)
    allocator.add_slave("s2", slave_info("s2"), Resources.parse("cpus:1;mem:512"), {})
    settle()
    assert offers.take_by_agent()["s2"][0] == "f2"

    # 3. Totals are now cpus:6;mem:3584 (with s3): f1 holds 2/6 cpus (its dominant share,
    #    0.33), f2 holds 1/6 (0.17); f2 gets s3 although it was added after f1.
    allocator.add_slave("s3", slave_info("s3"), Resources.parse("cpus:3;mem:2048"), {})
    settle()
    assert offers.take_by_agent()["s3"][0] == "f2"

    # 4. Now f2 holds 4/7 cpus against f1's 2/7: f1 gets s4.
    allocator.add_slave("s4", slave_info("s4"), Resources.parse("cpus:1;mem:512"), {})
    settle()
    assert offers.take_by_agent()["s4"][0] == "f1"


def test_drf_counts_the_dominant_resource(start_allocator):
    """This test ensures that the share of a framework is its largest fraction of any
    resource: a framework holding little cpu but much memory ranks after one holding a bit
    more cpu and little memory."""
    allocator, offers = start_allocator()
    allocator.add_framework("cpu-heavy", framework_info("cpu-heavy"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:4;mem:512"), {})
    settle()
    assert offers.take_by_agent()["s1"][0] == "cpu-heavy"

    allocator.add_framework("mem-heavy", framework_info("mem-heavy"), {}, True)
    allocator.add_slave("s2", slave_info("s2"), Resources.parse("cpus:1;mem:8192"), {})
    settle()
    assert offers.take_by_agent()["s2"][0] == "mem-heavy"

    # Totals cpus:10;mem:9216: cpu-heavy's dominant share is cpus 4/10 = 0.4; mem-heavy's is
    # mem 8192/9216 = 0.89 although it holds only 1/10 of the cpus.
    allocator.add_slave("s3", slave_info("s3"), Resources.parse("cpus:5;mem:512"), {})
    settle()
    assert offers.take_by_agent()["s3"][0] == "cpu-heavy"


def test_declined_offer_is_filtered_until_refuse_seconds_pass(start_allocator, clock):
    """This test ensures that resources declined with `refuse_seconds` are not offered again
    to the framework until the filter expires on the libprocess clock, and are offered at the
    next allocation run after that."""
    allocator, offers = start_allocator(allocation_interval=1.0)
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    resources = offers.take_by_agent()["s1"][2]

    # 1. The framework declines for 10 seconds.
    allocator.recover_resources("f1", "s1", resources, mesos_pb2.Filters(refuse_seconds=10))
    settle()
    assert offers.take() == []
    process = allocator.process
    assert libprocess.dispatch(process, process.offer_filter_count, "f1").get(10) == 1

    # 2. Batch runs before the filter expires offer nothing.
    for _ in range(9):
        clock.advance(1.0)
        settle()
    assert offers.take() == []

    # 3. At 10 s the filter expires; the next batch run offers the resources again.
    clock.advance(1.0)
    settle()
    assert libprocess.dispatch(process, process.offer_filter_count, "f1").get(10) == 0
    clock.advance(1.0)
    settle()
    assert offers.take() == [("f1", {"*": {"s1": resources}})]


def test_default_filter_is_five_seconds(start_allocator, clock):
    """This test ensures that a decline with default `Filters` refuses the resources for 5
    seconds (the protobuf default of `refuse_seconds`)."""
    allocator, offers = start_allocator(allocation_interval=1.0)
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    resources = offers.take_by_agent()["s1"][2]

    allocator.recover_resources("f1", "s1", resources, mesos_pb2.Filters())
    settle()
    clock.advance(4.0)
    settle()
    assert offers.take() == []

    clock.advance(1.0)  # The filter expires at 5 s, after that instant's batch run.
    settle()
    clock.advance(1.0)
    settle()
    assert offers.take_by_agent()["s1"][0] == "f1"


def test_filtered_resources_go_to_another_framework(start_allocator):
    """This test ensures that a filter only holds resources back from the framework that
    declined them: they are offered to the next framework in DRF order right away."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    resources = offers.take_by_agent()["s1"][2]

    # f2 subscribes while everything is offered to f1: nothing for f2 yet.
    allocator.add_framework("f2", framework_info("f2"), {}, True)
    settle()
    assert offers.take() == []

    allocator.recover_resources("f1", "s1", resources, mesos_pb2.Filters(refuse_seconds=60))
    settle()
    assert offers.take() == [("f2", {"*": {"s1": resources}})]


def test_revive_clears_filters(start_allocator):
    """This test ensures that reviving offers drops the framework's filters and allocates
    at once, without waiting for a batch run."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    resources = offers.take_by_agent()["s1"][2]

    allocator.recover_resources("f1", "s1", resources, mesos_pb2.Filters(refuse_seconds=1000))
    settle()
    assert offers.take() == []

    allocator.revive_offers("f1", set())
    settle()
    assert offers.take() == [("f1", {"*": {"s1": resources}})]


def test_suppress_stops_offers_and_revive_resumes(start_allocator, clock):
    """This test ensures that a suppressed framework gets no offers, even from batch runs,
    and that reviving it resumes them."""
    allocator, offers = start_allocator(allocation_interval=1.0)
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    resources = offers.take_by_agent()["s1"][2]

    # 1. Suppress, then give the resources back without any filter.
    allocator.suppress_offers("f1", set())
    allocator.recover_resources("f1", "s1", resources, None)
    settle()

    # 2. Neither event-driven nor batch runs offer anything.
    for _ in range(5):
        clock.advance(1.0)
        settle()
    assert offers.take() == []

    # 3. Revive: offers resume at once.
    allocator.revive_offers("f1", set())
    settle()
    assert offers.take() == [("f1", {"*": {"s1": resources}})]


def test_suppress_one_role_of_multi_role_framework(start_allocator):
    """This test ensures that suppressing one role of a MULTI_ROLE framework stops offers for
    that role only."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1", roles=["a", "b"]), {}, True,
                            suppressed_roles={"a"})
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    assert offers.take() == [("f1", {"b": {"s1": offered("cpus:2;mem:1024", "b")}})]


def test_reserved_resources_are_offered_only_to_their_role(start_allocator):
    """This test ensures that resources reserved to a role are offered only to frameworks of
    that role, while unreserved resources go to any role."""
    allocator, offers = start_allocator()

    # `dev` ranks first (equal shares, then by name), but it may only get the unreserved part.
    allocator.add_framework("dev", framework_info("dev", role="dev"), {}, True)
    allocator.add_framework("prod", framework_info("prod", role="prod"), {}, True)
    allocator.add_slave(
        "s1", slave_info("s1"), Resources.parse("cpus(prod):4;mem(prod):2048;cpus:1;mem:512"),
        {})
    settle()

    got = dict(offers.take())
    assert got["dev"] == {"dev": {"s1": offered("cpus:1;mem:512", "dev")}}
    assert got["prod"] == {"prod": {"s1": offered("cpus(prod):4;mem(prod):2048", "prod")}}


def test_reservations_go_to_descendant_roles(start_allocator):
    """This test ensures that resources reserved to a role are offered to frameworks of its
    descendant roles (`prod/web` may use `prod`'s reservation), but not to other roles."""
    allocator, offers = start_allocator()
    allocator.add_framework("other", framework_info("other", role="other"), {}, True)
    allocator.add_framework("web", framework_info("web", role="prod/web"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus(prod):4;mem(prod):2048"),
                        {})
    settle()

    assert offers.take() == [
        ("web", {"prod/web": {"s1": offered("cpus(prod):4;mem(prod):2048", "prod/web")}}),
    ]


def test_weights_change_the_order_of_roles(start_allocator):
    """This test ensures that a role's weight divides its share: a heavier role keeps getting
    agents while its weighted share is the lowest."""
    allocator, offers = start_allocator()
    allocator.update_weights({"b": 3.0})
    allocator.add_framework("fa", framework_info("fa", role="a"), {}, True)
    allocator.add_framework("fb", framework_info("fb", role="b"), {}, True)

    owners = []
    for i in range(1, 4):
        allocator.add_slave(f"s{i}", slave_info(f"s{i}"), Resources.parse("cpus:1;mem:512"),
                            {})
        settle()
        owners.append(offers.take_by_agent()[f"s{i}"][0])

    # s1: a tie, `a` first by name. s2: `b` (share 0). s3: `a` holds 1/3 and `b` 1/3 / 3,
    # so `b` again; without the weight it would be a tie broken in favour of `a`.
    assert owners == ["fa", "fb", "fb"]


def test_weights_unset_keep_plain_drf(start_allocator):
    """This test ensures the control case of the weights test: with equal weights the third
    agent goes to `a`."""
    allocator, offers = start_allocator()
    allocator.add_framework("fa", framework_info("fa", role="a"), {}, True)
    allocator.add_framework("fb", framework_info("fb", role="b"), {}, True)
    owners = []
    for i in range(1, 4):
        allocator.add_slave(f"s{i}", slave_info(f"s{i}"), Resources.parse("cpus:1;mem:512"),
                            {})
        settle()
        owners.append(offers.take_by_agent()[f"s{i}"][0])
    assert owners == ["fa", "fb", "fa"]


def test_inactive_framework_gets_no_offers(start_allocator):
    """This test ensures that a deactivated framework gets nothing, and that reactivating it
    offers what is available at once."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.deactivate_framework("f1")
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    assert offers.take() == []

    allocator.activate_framework("f1")
    settle()
    assert offers.take_by_agent()["s1"][0] == "f1"


def test_framework_added_inactive_gets_no_offers(start_allocator):
    """This test ensures that a framework added as inactive (a recovered framework that has
    not reconnected) gets no offers."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, False)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    assert offers.take() == []


def test_deactivated_agent_is_not_offered(start_allocator, clock):
    """This test ensures that a deactivated agent's resources are not offered, even by batch
    runs, until the agent is reactivated."""
    allocator, offers = start_allocator(allocation_interval=1.0)
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    resources = offers.take_by_agent()["s1"][2]

    allocator.deactivate_slave("s1")
    allocator.recover_resources("f1", "s1", resources, None)
    settle()
    clock.advance(1.0)
    settle()
    assert offers.take() == []

    allocator.activate_slave("s1")
    settle()
    clock.advance(1.0)
    settle()
    assert offers.take() == [("f1", {"*": {"s1": resources}})]


def test_recovered_resources_return_to_the_pool(start_allocator):
    """This test ensures that recovered resources (a finished task) are available again:
    part of an agent given back is offered, and only that part."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:4;mem:2048"), {})
    settle()
    offers.take()

    # The framework keeps cpus:3;mem:1536 (its tasks) and gives back the rest.
    allocator.recover_resources("f1", "s1", offered("cpus:1;mem:512"),
                                mesos_pb2.Filters(refuse_seconds=0))
    settle()
    assert offers.take() == [("f1", {"*": {"s1": offered("cpus:1;mem:512")}})]

    process = allocator.process
    assert libprocess.dispatch(process, process.available, "s1").get(10) == Resources()


def test_recovered_resources_wait_for_batch_run_without_allocate_on_recover(
        start_allocator, clock):
    """This test ensures that with `allocate_on_recover` off (Mesos 1.12's behaviour),
    recovered resources are offered by the next batch run, not before."""
    allocator, offers = start_allocator(allocation_interval=5.0, allocate_on_recover=False)
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    resources = offers.take_by_agent()["s1"][2]

    allocator.recover_resources("f1", "s1", resources, None)
    settle()
    clock.advance(4.9)
    settle()
    assert offers.take() == []

    clock.advance(0.1)
    settle()
    assert offers.take() == [("f1", {"*": {"s1": resources}})]


def test_batch_allocation_runs_every_allocation_interval(start_allocator, clock):
    """This test ensures that an allocation run happens every `allocation_interval` of clock
    time, and not in between."""
    allocator, _ = start_allocator(allocation_interval=2.0)
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    settle()
    runs = metrics.get("allocator/mesos/allocation_runs")
    assert runs is not None
    before = runs.value

    for _ in range(3):
        clock.advance(1.9)
        settle()
        clock.advance(0.1)
        settle()
    assert runs.value - before == 3

    clock.advance(1.0)
    settle()
    assert runs.value - before == 3


def test_event_driven_allocations_are_coalesced(start_allocator):
    """This test ensures that a burst of events queued while the allocator is busy causes
    one allocation run, covering every affected agent."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    settle()
    runs = metrics.get("allocator/mesos/allocation_runs")
    assert runs is not None
    before = runs.value

    # 1. Hold the allocator's thread so that the events queue up behind it.
    release = threading.Event()
    libprocess.dispatch(allocator.process, lambda: release.wait(10))
    for i in range(10):
        allocator.add_slave(f"s{i}", slave_info(f"s{i}"), Resources.parse("cpus:1;mem:512"),
                            {})
    release.set()
    settle()

    # 2. One run, one offer with the ten agents.
    assert runs.value - before == 1
    (framework_id, offerable), = offers.take()
    assert framework_id == "f1"
    assert sorted(offerable["*"]) == [f"s{i}" for i in range(10)]


def test_min_allocatable_resources(start_allocator):
    """This test ensures that an agent offering less than the minimum allocatable resources
    (Mesos's default: cpus:0.01 or mem:32) is not offered, unless the minimum is lifted."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:0.005;mem:16"), {})
    settle()
    assert offers.take() == []

    lifted, lifted_offers = start_allocator(min_allocatable_resources=())
    lifted.add_framework("f1", framework_info("f1"), {}, True)
    lifted.add_slave("s1", slave_info("s1"), Resources.parse("cpus:0.005;mem:16"), {})
    settle()
    assert lifted_offers.take() == [("f1", {"*": {"s1": offered("cpus:0.005;mem:16")}})]


def test_framework_min_allocatable_resources_override(start_allocator):
    """This test ensures that a framework's `offer_filters` raise the minimum for its role:
    an agent below it is offered to another framework instead."""
    allocator, offers = start_allocator()
    picky = framework_info("picky")
    quantities = picky.offer_filters["*"].min_allocatable_resources.quantities.add()
    quantities.quantities["cpus"].value = 4
    allocator.add_framework("picky", picky, {}, True)
    allocator.add_framework("easy", framework_info("easy"), {}, True)

    allocator.add_slave("small", slave_info("small"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    assert offers.take_by_agent()["small"][0] == "easy"

    allocator.add_slave("big", slave_info("big"), Resources.parse("cpus:8;mem:1024"), {})
    settle()
    assert offers.take_by_agent()["big"][0] == "picky"


def test_remove_framework_frees_its_resources(start_allocator):
    """This test ensures that removing a framework gives everything it held back to the
    pool, for the other frameworks."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    offers.take()

    allocator.remove_framework("f1")
    allocator.add_framework("f2", framework_info("f2"), {}, True)
    settle()
    assert offers.take() == [("f2", {"*": {"s1": offered("cpus:2;mem:1024")}})]


def test_remove_slave(start_allocator):
    """This test ensures that a removed agent is neither offered nor counted any more, and
    that recovering resources of a removed agent is ignored."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    allocator.add_slave("s2", slave_info("s2"), Resources.parse("cpus:3;mem:1024"), {})
    settle()
    resources = offers.take_by_agent()["s1"][2]

    allocator.remove_slave("s1")
    allocator.recover_resources("f1", "s1", resources, None)
    allocator.allocate().get(10)
    settle()
    assert offers.take() == []

    snapshot = metrics.snapshot().get(10)
    assert snapshot["allocator/mesos/resources/cpus/total"] == 3.0


def test_used_resources_of_added_agent_are_not_offered(start_allocator):
    """This test ensures that resources already used by tasks on an added agent are counted
    for their framework and not offered again."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_framework("f2", framework_info("f2"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:4;mem:2048"),
                        {"f1": offered("cpus:3;mem:1024")})
    settle()

    # f1 already holds 3/4 cpus, so the rest goes to f2.
    assert offers.take() == [("f2", {"*": {"s1": offered("cpus:1;mem:1024")}})]


def test_update_slave_total_offers_the_difference(start_allocator):
    """This test ensures that growing an agent's total offers the new resources."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    offers.take()

    allocator.update_slave("s1", slave_info("s1"), Resources.parse("cpus:3;mem:1024"))
    settle()
    assert offers.take() == [("f1", {"*": {"s1": offered("cpus:1")}})]


def test_new_attributes_drop_the_agent_filters(start_allocator):
    """This test ensures that an agent updated with other attributes loses its offer filters,
    so frameworks that declined it for lack of an attribute see it again."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    resources = offers.take_by_agent()["s1"][2]
    allocator.recover_resources("f1", "s1", resources, mesos_pb2.Filters(refuse_seconds=1000))
    settle()
    assert offers.take() == []

    allocator.update_slave("s1", slave_info("s1", attributes=[("rack", "r1")]))
    settle()
    assert offers.take() == [("f1", {"*": {"s1": resources}})]


def test_gpu_agents_only_go_to_gpu_capable_frameworks(start_allocator):
    """This test ensures that an agent with GPUs is offered only to frameworks with the
    GPU_RESOURCES capability (`filter_gpu_resources`, MESOS-5634)."""
    allocator, offers = start_allocator()
    allocator.add_framework("plain", framework_info("plain"), {}, True)
    allocator.add_slave("gpu", slave_info("gpu"), Resources.parse("cpus:2;mem:1024;gpus:1"),
                        {})
    settle()
    assert offers.take() == []

    gpu = framework_info("gpu-fw",
                         capabilities=[mesos_pb2.FrameworkInfo.Capability.GPU_RESOURCES])
    allocator.add_framework("gpu-fw", gpu, {}, True)
    settle()
    assert offers.take_by_agent()["gpu"][0] == "gpu-fw"


def test_update_framework_roles(start_allocator):
    """This test ensures that a framework that changes its roles is offered resources for its
    new role, and that suppressing through `update_framework` stops them."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1", roles=["a"]), {}, True,
                            suppressed_roles={"a"})
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    assert offers.take() == []

    allocator.update_framework("f1", framework_info("f1", roles=["a", "b"]), {"a"})
    allocator.allocate()
    settle()
    assert offers.take() == [("f1", {"b": {"s1": offered("cpus:2;mem:1024", "b")}})]


def test_pause_and_resume(start_allocator):
    """This test ensures that a paused allocator makes no offers, event-driven or requested,
    and offers again once resumed."""
    allocator, offers = start_allocator()
    allocator.pause()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    allocator.allocate().get(10)
    settle()
    assert offers.take() == []

    allocator.resume()
    allocator.allocate().get(10)
    settle()
    assert offers.take_by_agent()["s1"][0] == "f1"


def test_metrics(start_allocator):
    """This test ensures that the allocator publishes Mesos's metrics: runs, run times, the
    event queue and per-resource totals and offered amounts."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024;disk:512"),
                        {})
    allocator.add_slave("s2", slave_info("s2"), Resources.parse("cpus:2;mem:1024;disk:512"),
                        {})
    settle()
    resources = offers.take_by_agent()["s2"][2]
    allocator.recover_resources("f1", "s2", resources, mesos_pb2.Filters(refuse_seconds=100))
    settle()

    snapshot = metrics.snapshot().get(10)
    assert snapshot["allocator/mesos/allocation_runs"] >= 1
    assert snapshot["allocator/mesos/allocation_run_ms/count"] >= 1
    assert "allocator/mesos/allocation_run_latency_ms" in snapshot
    assert snapshot["allocator/mesos/event_queue_dispatches"] == 0
    assert snapshot["allocator/mesos/resources/cpus/total"] == 4.0
    assert snapshot["allocator/mesos/resources/mem/total"] == 2048.0
    assert snapshot["allocator/mesos/resources/disk/total"] == 1024.0
    assert snapshot["allocator/mesos/resources/cpus/offered_or_allocated"] == 2.0
    assert snapshot["allocator/mesos/resources/mem/offered_or_allocated"] == 1024.0
    assert snapshot["allocator/mesos/offer_filters/roles/*/active"] == 1.0


def test_event_queue_dispatches_counts_queued_calls(start_allocator):
    """This test ensures that `allocator/mesos/event_queue_dispatches` counts the calls
    waiting for the allocator's thread."""
    allocator, _ = start_allocator()
    settle()
    release = threading.Event()
    libprocess.dispatch(allocator.process, lambda: release.wait(10))
    for i in range(5):
        allocator.add_framework(f"f{i}", framework_info(f"f{i}"), {}, False)
    gauge = metrics.get("allocator/mesos/event_queue_dispatches")
    assert gauge is not None
    assert gauge.values()["allocator/mesos/event_queue_dispatches"] == 5.0
    release.set()
    settle()
    assert gauge.values()["allocator/mesos/event_queue_dispatches"] == 0.0


def test_bad_calls_are_ignored(start_allocator):
    """This test ensures that calls naming unknown frameworks or agents, or duplicates, are
    logged and ignored instead of breaking the allocator."""
    allocator, offers = start_allocator()
    assert allocator.remove_framework("nope").get(10) is None
    assert allocator.deactivate_slave("nope").get(10) is None
    assert allocator.suppress_offers("nope", set()).get(10) is None
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.update_weights({"a": -1.0})
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    assert offers.take_by_agent()["s1"][0] == "f1"


def test_agent_added_before_its_framework(start_allocator):
    """This test ensures the master failover order: an agent re-registers with tasks of a
    framework that has not re-subscribed yet; once the framework is added with what it uses,
    its resources are tracked, and recovering them (the task finished) offers them again."""
    allocator, offers = start_allocator()

    # 1. The agent comes back with f1's task (reported without an allocation role, as an old
    #    agent does); f2 gets the rest of the agent.
    allocator.add_framework("f2", framework_info("f2"), {}, True)
    task = Resources.parse("cpus:3;mem:1024")
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:4;mem:2048"),
                        {"f1": task})
    settle()
    assert offers.take() == [("f2", {"*": {"s1": offered("cpus:1;mem:1024")}})]

    # 2. f1 re-subscribes with what it uses; nothing is left to offer.
    allocator.add_framework("f1", framework_info("f1"), {"s1": task.allocate("*")}, True)
    settle()
    assert offers.take() == []

    # 3. The task finishes: its resources go back to the pool and, f1 holding nothing now
    #    against f2's quarter of the cpus, are offered to f1.
    allocator.recover_resources("f1", "s1", task.allocate("*"), None)
    settle()
    assert offers.take() == [("f1", {"*": {"s1": offered("cpus:3;mem:1024")}})]


def test_recovering_resources_not_held_is_ignored(start_allocator):
    """This test ensures that recovering resources a framework does not hold on the agent
    (a duplicate decline) changes nothing."""
    allocator, offers = start_allocator()
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:2;mem:1024"), {})
    settle()
    resources = offers.take_by_agent()["s1"][2]
    allocator.recover_resources("f1", "s1", resources, mesos_pb2.Filters(refuse_seconds=0))
    settle()
    assert offers.take() == [("f1", {"*": {"s1": resources}})]

    allocator.recover_resources("f1", "s1", offered("cpus:8"), None)
    allocator.allocate()
    settle()
    assert offers.take() == []


def test_remove_slave_with_usage_the_sorters_never_saw(start_allocator):
    """This test ensures that removing an agent whose usage by a framework was never tracked
    in the sorters (the framework was re-added without it) neither fails nor corrupts the
    allocator: later agents are still offered."""
    allocator, offers = start_allocator()
    allocator.add_slave("s1", slave_info("s1"), Resources.parse("cpus:4;mem:2048"),
                        {"f1": offered("cpus:4;mem:2048")})
    allocator.add_framework("f1", framework_info("f1"), {}, True)
    settle()
    assert offers.take() == []

    assert allocator.remove_slave("s1").get(10) is None
    allocator.add_slave("s2", slave_info("s2"), Resources.parse("cpus:1;mem:512"), {})
    settle()
    assert offers.take() == [("f1", {"*": {"s2": offered("cpus:1;mem:512")}})]
