"""Tests of the DRF sorter (the pure core of the hierarchical allocator).

Like `src/tests/sorter_tests.cpp`, these drive the sorter through its public API only: clients,
agents, allocations and weights go in, and the order `sort()` gives back is what is checked.
"""

from __future__ import annotations

import random

import pytest

from mesos.allocator.quantities import ResourceQuantities
from mesos.allocator.sorter import DRFSorter


def make_sorter(*clients: str, total: dict[str, float] | None = None) -> DRFSorter:
    """A sorter with one agent `agent1` holding `total` and the given clients, all active."""
    sorter = DRFSorter()
    sorter.add_slave("agent1", total if total is not None else {"cpus": 100, "mem": 100})
    for client in clients:
        sorter.add(client)
        sorter.activate(client)
    return sorter


def test_dominant_resource_decides_the_share() -> None:
    """This test ensures that a client's share is the largest fraction it holds of any one
    resource (its dominant resource), not its CPU fraction, its memory fraction or the sum."""
    # 1. A pool of 10 cpus and 100 mem, and three clients.
    sorter = make_sorter("a", "b", "c", total={"cpus": 10, "mem": 100})

    # 2. Shares by dominant resource: a = .29 (cpus), b = .28 (mem), c = .25 (cpus). Ordering
    #    by cpus alone would give b, c, a; by mem alone a, c, b; by the sum a, c, b.
    sorter.allocated("a", "agent1", {"cpus": 2.9, "mem": 1})
    sorter.allocated("b", "agent1", {"cpus": 0.5, "mem": 28})
    sorter.allocated("c", "agent1", {"cpus": 2.5, "mem": 5})

    assert sorter.sort() == ["c", "b", "a"]


def test_drf_order_of_two_clients() -> None:
    """This test ensures that the client with the lower dominant share comes first, and that
    the order follows further allocations."""
    sorter = make_sorter("a", "b")

    # 1. Shares: a = .05, b = .06.
    sorter.allocated("a", "agent1", {"cpus": 5, "mem": 5})
    sorter.allocated("b", "agent1", {"cpus": 6, "mem": 6})
    assert sorter.sort() == ["a", "b"]

    # 2. Shares: a = .07, b = .06: the order flips.
    sorter.allocated("a", "agent1", {"cpus": 2})
    assert sorter.sort() == ["b", "a"]
    assert sorter.allocation_scalar_quantities("a") == {"cpus": 7, "mem": 5}


def test_drf_order_of_three_clients_across_agents() -> None:
    """This test ensures that allocations on several agents add up to one share, measured
    against the total of all agents, and that the per-agent allocation is kept apart."""
    # 1. Two agents of 50 cpus and 50 mem each: the pool is 100 cpus and 100 mem.
    sorter = DRFSorter()
    sorter.add_slave("agent1", {"cpus": 50, "mem": 50})
    sorter.add_slave("agent2", {"cpus": 50, "mem": 50})
    for client in ("a", "b", "c"):
        sorter.add(client)
        sorter.activate(client)

    # 2. Shares: a = .05 + .05 = .10 (cpus), b = .06 (mem), c = .08 (cpus).
    sorter.allocated("a", "agent1", {"cpus": 5, "mem": 1})
    sorter.allocated("a", "agent2", {"cpus": 5, "mem": 1})
    sorter.allocated("b", "agent2", {"cpus": 1, "mem": 6})
    sorter.allocated("c", "agent1", {"cpus": 8})
    assert sorter.sort() == ["b", "c", "a"]

    # 3. The allocation of `a` is known per agent and in sum.
    assert sorter.allocation("a") == {
        "agent1": {"cpus": 5, "mem": 1},
        "agent2": {"cpus": 5, "mem": 1},
    }
    assert sorter.allocation_scalar_quantities("a") == {"cpus": 10, "mem": 2}
    assert sorter.allocation_scalar_quantities() == {"cpus": 19, "mem": 8}


def test_weights_divide_the_share() -> None:
    """This test ensures that a client's share is divided by its weight, whether the weight is
    set before the client is added or while it is in the sorter."""
    # 1. `b` gets weight 2 before it exists.
    sorter = make_sorter()
    sorter.update_weight("b", 2)
    for client in ("a", "b", "c"):
        sorter.add(client)
        sorter.activate(client)

    # 2. Raw shares: a = .05, b = .06, c = .04; weighted: a = .05, b = .03, c = .04.
    sorter.allocated("a", "agent1", {"cpus": 5, "mem": 5})
    sorter.allocated("b", "agent1", {"cpus": 6, "mem": 6})
    sorter.allocated("c", "agent1", {"cpus": 4, "mem": 4})
    assert sorter.sort() == ["b", "c", "a"]

    # 3. A weight of 10 for `a` on a clean, sorted tree: a = .005.
    sorter.update_weight("a", 10)
    assert sorter.sort() == ["a", "b", "c"]

    # 4. A weight below 1 raises the share: c = .04 / .1 = .4.
    sorter.update_weight("c", 0.1)
    assert sorter.sort() == ["a", "b", "c"]
    sorter.update_weight("a", 1)
    assert sorter.sort() == ["b", "a", "c"]


def test_update_weight_resorts_a_clean_tree() -> None:
    """This test ensures that changing a weight after `sort()` has cached the order is seen by
    the next `sort()`."""
    sorter = make_sorter("a", "b")
    sorter.allocated("a", "agent1", {"cpus": 10})
    sorter.allocated("b", "agent1", {"cpus": 20})
    assert sorter.sort() == ["a", "b"]
    assert sorter.sort() == ["a", "b"]

    sorter.update_weight("b", 4)

    assert sorter.sort() == ["b", "a"]


def test_invalid_weights_are_refused() -> None:
    """This test ensures that a weight that is not a positive number fails loudly and changes
    nothing."""
    sorter = make_sorter("a", "b")
    sorter.allocated("a", "agent1", {"cpus": 10})
    for weight in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="Invalid weight"):
            sorter.update_weight("a", weight)
    assert sorter.sort() == ["b", "a"]


def test_hierarchical_roles_count_allocations_towards_ancestors() -> None:
    """This test ensures that the sorter ranks siblings at each level of the role tree by the
    share of their whole subtree: an allocation to `a/b` raises the share of `a`."""
    # 1. Roles `a/b`, `a/c` and `d`.
    sorter = make_sorter("a/b", "a/c", "d")

    # 2. Shares: a/b = .10, a/c = .05, so a = .15; d = .12. A flat sort would give
    #    a/c, a/b, d; the hierarchy puts `d` first because `a` as a whole holds more.
    sorter.allocated("a/b", "agent1", {"cpus": 10})
    sorter.allocated("a/c", "agent1", {"cpus": 5})
    sorter.allocated("d", "agent1", {"cpus": 12})
    assert sorter.sort() == ["d", "a/c", "a/b"]

    # 3. Giving back part of `a/b`'s allocation lowers `a` to .08: `a` comes first again.
    sorter.unallocated("a/b", "agent1", {"cpus": 7})
    assert sorter.sort() == ["a/b", "a/c", "d"]

    # 4. The weight of the internal node `a` scales the whole subtree: a = .08 / .5 = .16.
    sorter.update_weight("a", 0.5)
    assert sorter.sort() == ["d", "a/b", "a/c"]


def test_client_that_is_also_a_parent_role() -> None:
    """This test ensures that a role can be a client and the parent of other clients at once
    (`a` beside `a/b`): it is sorted among its children, it keeps its allocation when the
    child arrives and leaves, and its allocation counts towards `a`."""
    # 1. Client `a` with .10 of cpus, and `d` with .12.
    sorter = make_sorter("a", "d")
    sorter.allocated("a", "agent1", {"cpus": 10})
    sorter.allocated("d", "agent1", {"cpus": 12})
    assert sorter.sort() == ["a", "d"]

    # 2. `a/b` arrives and gets .05: `a` as a subtree holds .15 and goes after `d`; inside,
    #    `a/b` (.05) goes before the client `a` (.10).
    sorter.add("a/b")
    sorter.activate("a/b")
    sorter.allocated("a/b", "agent1", {"cpus": 5})
    assert sorter.sort() == ["d", "a/b", "a"]
    assert sorter.allocation("a") == {"agent1": {"cpus": 10}}
    assert sorter.count() == 3

    # 3. `a/b` leaves with its allocation: `a` is a plain client again, at .10.
    sorter.remove("a/b")
    assert sorter.sort() == ["a", "d"]
    assert sorter.allocation("a") == {"agent1": {"cpus": 10}}
    assert sorter.allocation_scalar_quantities() == {"cpus": 22}

    # 4. It can become a parent again, and be removed while its child stays.
    sorter.add("a/c")
    sorter.activate("a/c")
    sorter.remove("a")
    assert sorter.sort() == ["a/c", "d"]
    assert not sorter.contains("a")
    assert sorter.allocation_scalar_quantities() == {"cpus": 12}


def test_deactivated_clients_are_not_sorted_but_keep_their_allocation() -> None:
    """This test ensures that an inactive client is left out of `sort()` while its allocation
    still counts towards its ancestors, and that activation puts it back in its place."""
    sorter = make_sorter("a/b", "a/c", "d")
    sorter.allocated("a/b", "agent1", {"cpus": 10})
    sorter.allocated("a/c", "agent1", {"cpus": 5})
    sorter.allocated("d", "agent1", {"cpus": 12})
    assert sorter.sort() == ["d", "a/c", "a/b"]

    # 1. Deactivating `a/b` hides it, but `a` still holds .15 and stays after `d`.
    sorter.deactivate("a/b")
    assert sorter.sort() == ["d", "a/c"]
    assert sorter.contains("a/b")
    assert sorter.count() == 3

    # 2. An inactive client can still be allocated to and unallocated from.
    sorter.unallocated("a/b", "agent1", {"cpus": 10})
    assert sorter.sort() == ["a/c", "d"]
    sorter.allocated("a/b", "agent1", {"cpus": 1})

    # 3. Deactivating twice is harmless; a subtree with no active client vanishes from the
    #    order.
    sorter.deactivate("a/b")
    sorter.deactivate("a/c")
    assert sorter.sort() == ["d"]

    # 4. Activation brings the clients back in DRF order: a = .06 < d = .12, a/b = .01.
    sorter.activate("a/c")
    sorter.activate("a/b")
    sorter.activate("a/b")
    assert sorter.sort() == ["a/b", "a/c", "d"]


def test_new_clients_are_inactive_until_activated() -> None:
    """This test ensures that `add()` alone does not make a client appear in `sort()`."""
    sorter = DRFSorter()
    sorter.add("a")
    sorter.add("b/c")
    assert sorter.sort() == []
    assert sorter.count() == 2

    sorter.activate("b/c")
    assert sorter.sort() == ["b/c"]


def test_remove_takes_the_allocation_out_of_the_tree() -> None:
    """This test ensures that removing a client removes its allocation from its ancestors and
    the internal nodes that only it needed."""
    sorter = make_sorter("a/b", "a/c", "d")
    sorter.allocated("a/b", "agent1", {"cpus": 10})
    sorter.allocated("a/c", "agent1", {"cpus": 5})
    sorter.allocated("d", "agent1", {"cpus": 12})
    assert sorter.sort() == ["d", "a/c", "a/b"]

    # 1. Without `a/b`, `a` holds only .05.
    sorter.remove("a/b")
    assert sorter.sort() == ["a/c", "d"]
    assert not sorter.contains("a/b")
    assert sorter.count() == 2
    assert sorter.allocation_scalar_quantities() == {"cpus": 17}

    # 2. Without `a/c`, the node `a` is gone: `a` can be added as a plain client, with nothing
    #    allocated.
    sorter.remove("a/c")
    sorter.add("a")
    sorter.activate("a")
    assert sorter.allocation_scalar_quantities("a") == {}
    assert sorter.sort() == ["a", "d"]

    # 3. A removed client is unknown to every call.
    with pytest.raises(KeyError, match="a/b"):
        sorter.allocated("a/b", "agent1", {"cpus": 1})
    with pytest.raises(KeyError, match="a/b"):
        sorter.allocation("a/b")
    with pytest.raises(KeyError, match="a/b"):
        sorter.remove("a/b")


def test_ties_are_broken_by_allocation_count_then_path() -> None:
    """This test ensures that clients with equal shares are ordered by how many allocations
    they received (fewer first), then by path, whatever the order they were added in."""
    # 1. Equal shares and counts: the order is by path, not by insertion.
    orders = []
    for clients in (("a", "b", "c"), ("c", "b", "a"), ("b", "c", "a")):
        sorter = make_sorter(*clients)
        orders.append(sorter.sort())
    assert orders == [["a", "b", "c"]] * 3

    # 2. Equal shares, but `a` was allocated twice and `b` once: `b` first.
    sorter = make_sorter("a", "b")
    sorter.allocated("a", "agent1", {"cpus": 5})
    sorter.allocated("a", "agent1", {"cpus": 5})
    sorter.allocated("b", "agent1", {"cpus": 10})
    assert sorter.sort() == ["b", "a"]

    # 3. Giving resources back does not reduce the count: `b` stays first at equal shares.
    sorter.unallocated("a", "agent1", {"cpus": 5})
    sorter.unallocated("b", "agent1", {"cpus": 5})
    assert sorter.sort() == ["b", "a"]


def test_total_pool_changes_change_the_shares() -> None:
    """This test ensures that adding and removing agents changes every share, and so the
    order, even when no allocation changed."""
    # 1. Pool: 10 cpus, 100 mem. Shares: a = .2 (cpus), b = .1 (cpus).
    sorter = make_sorter("a", "b", total={"cpus": 10, "mem": 100})
    sorter.allocated("a", "agent1", {"cpus": 2, "mem": 1})
    sorter.allocated("b", "agent1", {"cpus": 1, "mem": 5})
    assert sorter.sort() == ["b", "a"]

    # 2. A big-cpu, small-memory agent replaces the first: pool 100 cpus, 10 mem. Shares:
    #    a = .1 (mem), b = .5 (mem).
    sorter.add_slave("agent2", {"cpus": 100, "mem": 10})
    sorter.remove_slave("agent1")
    assert sorter.total_scalar_quantities() == {"cpus": 100, "mem": 10}
    assert sorter.sort() == ["a", "b"]

    # 3. Agents are added once and removed once.
    with pytest.raises(ValueError, match="agent2"):
        sorter.add_slave("agent2", {"cpus": 1})
    with pytest.raises(KeyError, match="agent1"):
        sorter.remove_slave("agent1")


def test_resources_missing_from_the_pool_do_not_count() -> None:
    """This test ensures that a resource whose total is zero (no agent has it any more) is
    ignored by the share, and that excluded resources are ignored too."""
    # 1. Only `b` holds gpus, 1 of 1: share 1.
    sorter = DRFSorter()
    sorter.add_slave("agent1", {"cpus": 10})
    sorter.add_slave("agent2", {"gpus": 1})
    for client in ("a", "b"):
        sorter.add(client)
        sorter.activate(client)
    sorter.allocated("a", "agent1", {"cpus": 5})
    sorter.allocated("b", "agent2", {"gpus": 1})
    assert sorter.sort() == ["a", "b"]

    # 2. Without the gpu agent `b`'s share is 0.
    sorter.remove_slave("agent2")
    assert sorter.sort() == ["b", "a"]

    # 3. Excluding gpus from fairness (`--fair_sharing_excluded_resource_names=gpus`) has the
    #    same effect while the gpu agent is there.
    sorter.add_slave("agent2", {"gpus": 1})
    assert sorter.sort() == ["a", "b"]
    sorter.initialize(["gpus"])
    assert sorter.sort() == ["b", "a"]


def test_unallocated_never_goes_below_zero() -> None:
    """This test ensures that giving back more than a client holds on an agent fails loudly
    and leaves the sorter unchanged."""
    sorter = make_sorter("a", "b")
    sorter.add_slave("agent2", {"cpus": 100, "mem": 100})
    sorter.allocated("a", "agent1", {"cpus": 10, "mem": 10})
    sorter.allocated("b", "agent1", {"cpus": 5})
    assert sorter.sort() == ["b", "a"]

    # 1. More cpus than held, a resource never allocated, and another agent all fail.
    with pytest.raises(ValueError, match="Cannot unallocate"):
        sorter.unallocated("a", "agent1", {"cpus": 10.001})
    with pytest.raises(ValueError, match="Cannot unallocate"):
        sorter.unallocated("a", "agent1", {"disk": 1})
    with pytest.raises(ValueError, match="agent2"):
        sorter.unallocated("a", "agent2", {"cpus": 1})

    # 2. Nothing changed.
    assert sorter.allocation("a") == {"agent1": {"cpus": 10, "mem": 10}}
    assert sorter.allocation_scalar_quantities() == {"cpus": 15, "mem": 10}
    assert sorter.sort() == ["b", "a"]

    # 3. Giving back all of it is fine and leaves no trace of the agent.
    sorter.unallocated("a", "agent1", {"cpus": 10, "mem": 10})
    assert sorter.allocation("a") == {}
    assert sorter.allocation_scalar_quantities("a") == {}
    assert sorter.sort() == ["a", "b"]


def test_bad_input_fails_loudly() -> None:
    """This test ensures that malformed paths and quantities, duplicate clients and unknown
    clients are refused with an error naming the problem."""
    sorter = make_sorter("a")
    for path in ("", "a//b", "/a", "a/", "a/./b", "..", 7):
        with pytest.raises(ValueError, match="Invalid sorter path"):
            sorter.add(path)  # type: ignore[arg-type]  # Deliberately wrong types too.
    with pytest.raises(ValueError, match="already"):
        sorter.add("a")
    for quantities in ({"cpus": -1}, {"cpus": float("nan")}, {"cpus": "1"}, {"": 1}):
        with pytest.raises(ValueError, match="Invalid"):
            sorter.allocated("a", "agent1", quantities)  # type: ignore[arg-type]
    for call in (sorter.activate, sorter.deactivate, sorter.remove):
        with pytest.raises(KeyError, match="Unknown sorter client 'x'"):
            call("x")
    assert sorter.allocation("a") == {}
    assert sorter.count() == 1


def test_update_replaces_an_allocation_without_counting_it() -> None:
    """This test ensures that `update()` changes a client's allocation on an agent, moves its
    share, and does not count as a new allocation for tie breaking."""
    sorter = make_sorter("a", "b")
    sorter.allocated("a", "agent1", {"cpus": 10, "disk": 10})
    sorter.allocated("b", "agent1", {"cpus": 5})
    sorter.allocated("b", "agent1", {"cpus": 5})
    assert sorter.sort() == ["a", "b"]

    # 1. `a` turns 5 of its cpus into 20 mem: share .2 (mem).
    sorter.update("a", "agent1", {"cpus": 5}, {"mem": 20})
    assert sorter.allocation("a") == {"agent1": {"cpus": 5, "mem": 20, "disk": 10}}
    assert sorter.sort() == ["b", "a"]

    # 2. Back to .1: equal shares, and `a` (one allocation) goes before `b` (two).
    sorter.update("a", "agent1", {"mem": 20}, {"mem": 10})
    assert sorter.sort() == ["a", "b"]

    # 3. What it does not hold cannot be updated.
    with pytest.raises(ValueError, match="Cannot update"):
        sorter.update("a", "agent1", {"mem": 11}, {})


def test_sort_returns_a_fresh_list() -> None:
    """This test ensures that the caller may change the list `sort()` returns without changing
    the sorter's cached order."""
    sorter = make_sorter("a", "b")
    first = sorter.sort()
    first.reverse()
    assert sorter.sort() == ["a", "b"]


def test_scalar_arithmetic_is_exact_to_three_decimals() -> None:
    """This test ensures that, as with Mesos's fixed-point scalars, many small allocations
    given back one by one leave exactly nothing, so `unallocated` never trips on round-off."""
    sorter = make_sorter("a")
    for _ in range(10):
        sorter.allocated("a", "agent1", {"cpus": 0.1})
    assert sorter.allocation_scalar_quantities("a") == {"cpus": 1.0}
    sorter.unallocated("a", "agent1", {"cpus": 0.3})
    sorter.unallocated("a", "agent1", {"cpus": 0.7})
    assert sorter.allocation("a") == {}
    assert ResourceQuantities({"cpus": 0.1}) + {"cpus": 0.2} == {"cpus": 0.3}


class _Oracle:
    """A from-scratch DRF order: every share recomputed, every level sorted, on each call."""

    def __init__(self, clients: list[str]) -> None:
        self.clients = clients
        self.active: set[str] = set()
        self.held: dict[str, dict[str, float]] = {c: {} for c in clients}
        self.calls: dict[str, int] = {c: 0 for c in clients}
        self.weights: dict[str, float] = {}
        self.total: dict[str, float] = {}

    def sort(self) -> list[str]:
        # Internal nodes: every proper prefix of a client path.
        internal: set[str] = set()
        for client in self.clients:
            parts = client.split("/")
            internal.update("/".join(parts[:i]) for i in range(1, len(parts)))
        return self._sort("", internal)

    def _key(self, path: str, leaf: bool, internal: set[str]) -> tuple[float, int, str]:
        if leaf:
            members = [path]
        else:
            members = [c for c in self.clients if c == path or c.startswith(path + "/")]
        share = 0.0
        for name, total in self.total.items():
            if total > 0:
                held = sum(self.held[m].get(name, 0.0) for m in members)
                share = max(share, held / total)
        # A client that is also an internal node is the virtual leaf `<path>/.`: its own
        # allocation, default weight.
        virtual = leaf and path in internal
        weight = 1.0 if virtual else self.weights.get(path, 1.0)
        node_path = path + "/." if virtual else path
        return (share / weight, sum(self.calls[m] for m in members), node_path)

    def _sort(self, prefix: str, internal: set[str]) -> list[str]:
        children: set[tuple[str, bool]] = set()
        for client in self.clients:
            if client == prefix:
                children.add((client, True))
            elif not prefix or client.startswith(prefix + "/"):
                rest = client[len(prefix) + 1 :] if prefix else client
                child = (prefix + "/" if prefix else "") + rest.split("/")[0]
                children.add((child, child not in internal))
        order: list[str] = []
        for child, leaf in sorted(children, key=lambda c: self._key(c[0], c[1], internal)):
            if not leaf:
                order.extend(self._sort(child, internal))
            elif child in self.active:
                order.append(child)
        return order


def test_incremental_updates_match_a_full_resort() -> None:
    """This test ensures that the cached, incrementally maintained order always equals the
    order computed from scratch, over a long random run of allocations, releases, updates,
    weight changes, pool changes, (de)activations and clients coming and going on a hierarchy
    of roles."""
    rng = random.Random(20240611)
    clients = ["a", "a/b", "a/c", "a/b/x", "d", "d/e", "f", "g/h", "g/i", "j"]
    # Clients that come and go; they are never allocated to, so that the allocation counts the
    # oracle sums stay those of the sorter (which, like Mesos, keeps a removed client's count in
    # its ancestors).
    transients = ["t", "a/t", "j/t", "g/h/t", "g/t/u"]
    sorter = DRFSorter()
    oracle = _Oracle(list(clients))
    for transient in transients:
        oracle.held[transient] = {}
        oracle.calls[transient] = 0
    for agent in ("agent1", "agent2"):
        sorter.add_slave(agent, {"cpus": 64, "mem": 256, "gpus": 4})
    oracle.total = {"cpus": 128, "mem": 512, "gpus": 8}
    for client in clients:
        sorter.add(client)
        sorter.activate(client)
        oracle.active.add(client)
    held: dict[tuple[str, str], dict[str, float]] = {}

    for step in range(3000):
        client = rng.choice(clients)
        agent = rng.choice(("agent1", "agent2"))
        mine = held.setdefault((client, agent), {})
        action = rng.random()
        if action < 0.40:
            allocation = {"cpus": rng.randint(0, 4), "mem": rng.randint(0, 16)}
            if rng.random() < 0.2:
                allocation["gpus"] = 1
            sorter.allocated(client, agent, allocation)
            oracle.calls[client] += 1
            for name, amount in allocation.items():
                mine[name] = mine.get(name, 0) + amount
                oracle.held[client][name] = oracle.held[client].get(name, 0) + amount
        elif action < 0.65:
            released = {name: rng.randint(0, int(amount)) for name, amount in mine.items()}
            sorter.unallocated(client, agent, released)
            for name, amount in released.items():
                mine[name] -= amount
                oracle.held[client][name] -= amount
        elif action < 0.72:
            old = {name: rng.randint(0, int(amount)) for name, amount in mine.items()}
            new = {"cpus": rng.randint(0, 2), "mem": rng.randint(0, 8)}
            sorter.update(client, agent, old, new)
            for name, amount in old.items():
                mine[name] -= amount
                oracle.held[client][name] -= amount
            for name, amount in new.items():
                mine[name] = mine.get(name, 0) + amount
                oracle.held[client][name] = oracle.held[client].get(name, 0) + amount
        elif action < 0.82:
            client = rng.choice(oracle.clients)
            if client in oracle.active:
                sorter.deactivate(client)
                oracle.active.discard(client)
            else:
                sorter.activate(client)
                oracle.active.add(client)
        elif action < 0.90:
            path = rng.choice([*clients, *transients, "g", "g/t"])
            weight = rng.choice((0.5, 1.0, 2.0, 3.0))
            sorter.update_weight(path, weight)
            oracle.weights[path] = weight
        elif action < 0.95:
            transient = rng.choice(transients)
            if transient in oracle.clients:
                sorter.remove(transient)
                oracle.clients.remove(transient)
                oracle.active.discard(transient)
            else:
                sorter.add(transient)
                oracle.clients.append(transient)
                if rng.random() < 0.7:
                    sorter.activate(transient)
                    oracle.active.add(transient)
        else:
            extra = rng.randint(0, 64)
            sorter.remove_slave("agent2")
            sorter.add_slave("agent2", {"cpus": 64 + extra, "mem": 256, "gpus": 4})
            oracle.total["cpus"] = 128 + extra

        assert sorter.sort() == oracle.sort(), f"step {step}"
        assert sorter.count() == len(oracle.clients)
