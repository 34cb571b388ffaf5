"""The DRF sorter: orders the clients of the allocator by weighted dominant share.

Port of `DRFSorter` (`src/master/allocator/mesos/sorter/drf/sorter.{hpp,cpp}`). The hierarchical
allocator keeps one sorter over role paths (`a`, `a/b`, ...) and one per role over framework ids,
and asks each for `sort()` once per agent in every allocation run. This module is a pure core: no
actors, no threads, no clock; it is touched only by the thread of the allocator that owns it.

The clients form a tree by their `/`-separated paths. A client is always a leaf; a client whose
path is also the prefix of another client (`a` beside `a/b`) is represented by a *virtual leaf*
named `.` under the internal node `a`, as in Mesos. Allocation made to a leaf counts towards every
ancestor, so at each level siblings are ranked by the share of their whole subtree.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Iterable, Mapping

from mesos.allocator.quantities import ResourceQuantities

__all__ = ["DRFSorter"]

DEFAULT_WEIGHT = 1.0

# The name of the virtual leaf that stands for a client whose path is also an internal node.
_VIRTUAL = "."


class _Kind(enum.Enum):
    ACTIVE_LEAF = enum.auto()
    INACTIVE_LEAF = enum.auto()
    INTERNAL = enum.auto()


_ACTIVE_LEAF = _Kind.ACTIVE_LEAF
_INACTIVE_LEAF = _Kind.INACTIVE_LEAF
_INTERNAL = _Kind.INTERNAL


class _Node:
    """A node of the sorter tree (port of `DRFSorter::Node`).

    `children` holds every child by name. `ordered` holds the children that take part in the
    ranking (active leaves and internal nodes, never inactive leaves); whenever the sorter is not
    dirty it is sorted by `_drf_key`, which is Mesos's `compareDRF`.
    """

    __slots__ = (
        "agents",
        "children",
        "client",
        "count",
        "kind",
        "name",
        "ordered",
        "parent",
        "path",
        "share",
        "totals",
        "weight",
    )

    def __init__(self, name: str, kind: _Kind, parent: _Node | None, weight: float) -> None:
        self.name = name
        self.kind = kind
        self.parent = parent
        if parent is None:
            self.path = ""
        elif parent.parent is None:
            self.path = name
        else:
            self.path = f"{parent.path}/{name}"
        # The client path of a leaf (for a virtual leaf: its parent's path); `None` otherwise.
        self.client: str | None = None
        self.weight = weight
        # Weighted dominant share; not computed for the root, nor kept current for inactive
        # leaves (it is recomputed on activation).
        self.share = 0.0
        # How many times an allocation was made to this subtree: the first tie breaker, which
        # spreads allocations evenly across clients of equal share.
        self.count = 0
        # Scalar quantities allocated to this subtree.
        self.totals = ResourceQuantities()
        # Allocation per agent id, kept on leaves only (internal nodes need only `totals`).
        self.agents: dict[str, ResourceQuantities] = {}
        self.children: dict[str, _Node] = {}
        self.ordered: list[_Node] = []


def _drf_key(node: _Node) -> tuple[float, int, str]:
    # Port of `Node::compareDRF`: lower share first, then fewer allocations, then path.
    return (node.share, node.count, node.path)


class DRFSorter:
    """Weighted, hierarchical Dominant Resource Fairness sorter (port of `DRFSorter`).

    Owns the tree of clients (paths, weights, active or not), the scalar quantities allocated to
    each client per agent, and the total pool (the scalar quantities of every agent added with
    `add_slave`). It is pure: no thread, no clock, no I/O; the allocator that owns it is the only
    caller. Illegal calls fail loudly: an unknown client or agent raises `KeyError`, a duplicate
    or a malformed argument, or unallocating more than is allocated, raises `ValueError`; a call
    that raises leaves the sorter unchanged.

    Shares are cached. Changing the pool, the weights or the set of clients marks the tree dirty
    and the next `sort()` recomputes every share; `allocated`, `unallocated`, `update`,
    `activate` and `deactivate` only recompute the shares on the client's path to the root and
    move those nodes among their siblings. The client order itself is cached too, so a `sort()`
    with nothing changed costs one list copy.
    """

    def __init__(self, fairness_exclude_resource_names: Iterable[str] | None = None) -> None:
        self._root = _Node("", _INTERNAL, None, DEFAULT_WEIGHT)
        # Every leaf by client path (for a virtual leaf, the path of its parent).
        self._clients: dict[str, _Node] = {}
        # Weights by path; may name paths that are not in the tree (yet).
        self._weights: dict[str, float] = {}
        # The total pool: each agent's quantities, and their sum.
        self._agents: dict[str, ResourceQuantities] = {}
        self._total = ResourceQuantities()
        self._fairness_exclude: frozenset[str] = frozenset()
        # The positive totals of the resources that count for fairness, by name.
        self._fair_totals: dict[str, float] = {}
        # When true, every share is stale and `sort()` recomputes and resorts the whole tree.
        self._dirty = False
        # The result of the last `sort()`, valid until the order of some active leaf changes.
        self._order: list[str] | None = None
        if fairness_exclude_resource_names is not None:
            self.initialize(fairness_exclude_resource_names)

    def initialize(self, fairness_exclude_resource_names: Iterable[str] | None) -> None:
        """Excludes the named resources from the share computation (port of
        `DRFSorter::initialize`, fed by `--fair_sharing_excluded_resource_names`)."""
        self._fairness_exclude = frozenset(fairness_exclude_resource_names or ())
        self._update_fair_totals()
        self._mark_dirty()

    # Clients.

    def add(self, client_path: str) -> None:
        """Adds an inactive client, creating the internal nodes of its path as needed."""
        tokens = self._tokenize(client_path)
        if client_path in self._clients:
            raise ValueError(f"Client '{client_path}' is already in the sorter")

        # Phase 1: walk down the existing tree (like `mkdir -p`) until either the path is used
        # up (the client names an internal node: give it a virtual leaf), or we meet a leaf
        # (turn it into an internal node first), or the next node does not exist.
        current = self._root
        index = 0
        leaf: _Node | None = None
        while True:
            if index == len(tokens):
                leaf = self._new_node(_VIRTUAL, _INACTIVE_LEAF, current)
                break
            if current.kind is not _INTERNAL:
                self._make_internal(current)
                break
            child = current.children.get(tokens[index])
            if child is None:
                break
            current = child
            index += 1

        # Phase 2: create the rest of the path; its last element is the new leaf.
        for position in range(index, len(tokens)):
            last = position == len(tokens) - 1
            current = self._new_node(
                tokens[position], _INACTIVE_LEAF if last else _INTERNAL, current
            )
            if last:
                leaf = current

        assert leaf is not None
        leaf.client = client_path
        self._clients[client_path] = leaf
        self._mark_dirty()

    def remove(self, client_path: str) -> None:
        """Removes a client, its allocation and the internal nodes it alone needed."""
        leaf = self._find(client_path)
        del self._clients[client_path]

        # Walk up from the leaf: take its allocation out of every ancestor, delete nodes left
        # without children, and turn an internal node left with only its virtual leaf back into
        # a plain leaf.
        removed = leaf.totals
        current = leaf
        while current.parent is not None:
            parent = current.parent
            if removed:
                parent.totals -= removed
            if not current.children:
                del parent.children[current.name]
                if current.kind is not _INACTIVE_LEAF:
                    parent.ordered.remove(current)
            elif len(current.children) == 1 and _VIRTUAL in current.children:
                virtual = current.children.pop(_VIRTUAL)
                current.ordered.clear()
                current.kind = virtual.kind
                current.agents = virtual.agents
                current.client = virtual.client
                if current.kind is _INACTIVE_LEAF:
                    parent.ordered.remove(current)
                self._clients[current.path] = current
            current = parent

        self._mark_dirty()

    def activate(self, client_path: str) -> None:
        """Makes a client appear in `sort()`; a no-op when it is already active."""
        leaf = self._find(client_path)
        if leaf.kind is not _INACTIVE_LEAF:
            return
        leaf.kind = _ACTIVE_LEAF
        assert leaf.parent is not None
        if self._dirty:
            leaf.parent.ordered.append(leaf)
        else:
            leaf.share = self._calculate_share(leaf)
            bisect.insort(leaf.parent.ordered, leaf, key=_drf_key)
        self._order = None

    def deactivate(self, client_path: str) -> None:
        """Hides a client from `sort()`, keeping its allocation; a no-op when already inactive."""
        leaf = self._find(client_path)
        if leaf.kind is not _ACTIVE_LEAF:
            return
        leaf.kind = _INACTIVE_LEAF
        assert leaf.parent is not None
        leaf.parent.ordered.remove(leaf)
        self._order = None

    def update_weight(self, path: str, weight: float) -> None:
        """Sets the weight of a path (a client or an internal node, present or not yet): the
        share of the node at that path is divided by it."""
        tokens = self._tokenize(path)
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or weight <= 0
        ):
            raise ValueError(f"Invalid weight {weight!r} for '{path}': expected a number > 0")
        self._weights[path] = float(weight)

        node: _Node | None = self._root
        for token in tokens:
            assert node is not None
            node = node.children.get(token)
            if node is None:
                break
        if node is not None:
            node.weight = float(weight)

        self._mark_dirty()

    def contains(self, client_path: str) -> bool:
        return client_path in self._clients

    def count(self) -> int:
        """The number of clients, active or not."""
        return len(self._clients)

    # Allocations.

    def allocated(
        self, client_path: str, agent_id: str, quantities: Mapping[str, float]
    ) -> None:
        """Records that `quantities` on `agent_id` were allocated to the client."""
        allocation = ResourceQuantities.of(quantities)
        leaf = self._find(client_path)

        if allocation:
            on_agent = leaf.agents.get(agent_id)
            if on_agent is None:
                leaf.agents[agent_id] = allocation.copy()
            else:
                on_agent += allocation

        node: _Node | None = leaf
        while node is not None:
            if allocation:
                node.totals += allocation
            node.count += 1
            node = node.parent

        self._reposition_path(leaf)

    def unallocated(
        self, client_path: str, agent_id: str, quantities: Mapping[str, float]
    ) -> None:
        """Records that `quantities` on `agent_id` went back from the client to the pool.

        Raises `ValueError` if the client does not hold that much on that agent.
        """
        released = ResourceQuantities.of(quantities)
        leaf = self._find(client_path)
        on_agent = leaf.agents.get(agent_id, ResourceQuantities())
        if not on_agent.contains(released):
            raise ValueError(
                f"Cannot unallocate {released} on agent {agent_id} from client "
                f"'{client_path}': it holds only {on_agent} there"
            )
        if not released:
            return

        on_agent -= released
        if not on_agent:
            del leaf.agents[agent_id]

        node: _Node | None = leaf
        while node is not None:
            node.totals -= released
            node = node.parent

        self._reposition_path(leaf)

    def update(
        self,
        client_path: str,
        agent_id: str,
        old_quantities: Mapping[str, float],
        new_quantities: Mapping[str, float],
    ) -> None:
        """Replaces part of a client's allocation on an agent (an operation such as a
        reservation changed it) without counting as a new allocation (port of
        `DRFSorter::update`). Raises `ValueError` if the client does not hold `old_quantities`
        there."""
        old = ResourceQuantities.of(old_quantities)
        new = ResourceQuantities.of(new_quantities)
        leaf = self._find(client_path)
        on_agent = leaf.agents.get(agent_id, ResourceQuantities())
        if not on_agent.contains(old):
            raise ValueError(
                f"Cannot update {old} on agent {agent_id} of client '{client_path}': "
                f"it holds only {on_agent} there"
            )

        on_agent = on_agent - old + new
        if on_agent:
            leaf.agents[agent_id] = on_agent
        else:
            leaf.agents.pop(agent_id, None)

        node: _Node | None = leaf
        while node is not None:
            node.totals -= old
            node.totals += new
            node = node.parent

        self._reposition_path(leaf)

    def allocation(self, client_path: str) -> dict[str, ResourceQuantities]:
        """The client's allocation by agent id (a copy)."""
        leaf = self._find(client_path)
        return {agent_id: held.copy() for agent_id, held in leaf.agents.items()}

    def allocation_scalar_quantities(self, client_path: str | None = None) -> ResourceQuantities:
        """The client's allocation summed over agents, or with no client the sum over all
        clients (a copy)."""
        if client_path is None:
            return self._root.totals.copy()
        return self._find(client_path).totals.copy()

    # The total pool.

    def add_slave(self, agent_id: str, quantities: Mapping[str, float]) -> None:
        """Adds an agent's scalar quantities to the total pool (port of `addSlave`)."""
        if agent_id in self._agents:
            raise ValueError(f"Agent {agent_id} is already in the sorter")
        added = ResourceQuantities(quantities)
        self._agents[agent_id] = added
        if added:
            self._total += added
            self._update_fair_totals()
            self._mark_dirty()

    def remove_slave(self, agent_id: str) -> None:
        """Takes an agent's scalar quantities out of the total pool (port of `removeSlave`)."""
        removed = self._agents.pop(agent_id, None)
        if removed is None:
            raise KeyError(f"Unknown agent {agent_id}")
        if removed:
            self._total -= removed
            self._update_fair_totals()
            self._mark_dirty()

    def total_scalar_quantities(self) -> ResourceQuantities:
        """The sum of the quantities of every agent (a copy)."""
        return self._total.copy()

    # Sorting.

    def sort(self) -> list[str]:
        """The active clients, in DRF order.

        Walks the tree from the root in pre-order, visiting the ranked children of each node
        from the lowest weighted dominant share to the highest, ties broken by fewer allocations
        then by path. Inactive clients and subtrees without an active client do not appear.
        """
        if self._dirty:
            self._sort_tree(self._root)
            self._dirty = False
        if self._order is None:
            order: list[str] = []
            self._list_clients(self._root, order)
            self._order = order
        return list(self._order)

    # Internals.

    @staticmethod
    def _tokenize(path: str) -> list[str]:
        if not isinstance(path, str) or not path:
            raise ValueError(f"Invalid sorter path {path!r}: expected a non-empty string")
        tokens = path.split("/")
        for token in tokens:
            if not token or token in (".", ".."):
                raise ValueError(
                    f"Invalid sorter path {path!r}: expected '/'-separated names, none "
                    "empty, '.' or '..'"
                )
        return tokens

    def _find(self, client_path: str) -> _Node:
        leaf = self._clients.get(client_path)
        if leaf is None:
            raise KeyError(f"Unknown sorter client '{client_path}'")
        return leaf

    def _new_node(self, name: str, kind: _Kind, parent: _Node) -> _Node:
        node = _Node(name, kind, parent, DEFAULT_WEIGHT)
        node.weight = self._weights.get(node.path, DEFAULT_WEIGHT)
        parent.children[name] = node
        if kind is not _INACTIVE_LEAF:
            parent.ordered.append(node)
        return node

    def _make_internal(self, leaf: _Node) -> None:
        # The leaf's client moves to a new virtual leaf below it, with its allocation; the node
        # keeps its totals, count and weight and becomes an internal node.
        assert leaf.parent is not None and leaf.client is not None
        virtual = self._new_node(_VIRTUAL, leaf.kind, leaf)
        virtual.client = leaf.client
        virtual.agents = leaf.agents
        virtual.totals = leaf.totals.copy()
        virtual.count = leaf.count
        self._clients[leaf.client] = virtual

        if leaf.kind is _INACTIVE_LEAF:
            leaf.parent.ordered.append(leaf)
        leaf.kind = _INTERNAL
        leaf.client = None
        leaf.agents = {}

    def _mark_dirty(self) -> None:
        self._dirty = True
        self._order = None

    def _update_fair_totals(self) -> None:
        excluded = self._fairness_exclude
        self._fair_totals = {
            name: amount
            for name, amount in self._total.items()
            if amount > 0 and name not in excluded
        }

    def _calculate_share(self, node: _Node) -> float:
        # Port of `DRFSorter::calculateShare`: the largest fraction of any resource's total
        # held by the node, divided by the node's weight.
        share = 0.0
        totals = self._fair_totals
        for name, amount in node.totals.items():
            total = totals.get(name)
            if total is not None:
                fraction = amount / total
                if fraction > share:
                    share = fraction
        return share / node.weight

    def _sort_tree(self, node: _Node) -> None:
        for child in node.ordered:
            child.share = self._calculate_share(child)
        node.ordered.sort(key=_drf_key)
        for child in node.ordered:
            if child.kind is _INTERNAL:
                self._sort_tree(child)

    def _reposition_path(self, leaf: _Node) -> None:
        # The shares of the leaf and its ancestors changed. If the tree is sorted, recompute
        # them and move each node to its place among its siblings (the siblings' shares did not
        # change); if it is dirty, `sort()` will do it all anyway.
        if self._dirty:
            return
        node = leaf
        while node.parent is not None:
            if node.kind is not _INACTIVE_LEAF:
                node.share = self._calculate_share(node)
                if self._reposition(node):
                    self._order = None
            node = node.parent

    @staticmethod
    def _reposition(node: _Node) -> bool:
        assert node.parent is not None
        siblings = node.parent.ordered
        index = siblings.index(node)
        key = _drf_key(node)
        if (index == 0 or _drf_key(siblings[index - 1]) < key) and (
            index == len(siblings) - 1 or key < _drf_key(siblings[index + 1])
        ):
            return False
        del siblings[index]
        bisect.insort(siblings, node, key=_drf_key)
        return True

    def _list_clients(self, node: _Node, order: list[str]) -> None:
        for child in node.ordered:
            if child.kind is _ACTIVE_LEAF:
                order.append(child.client)  # type: ignore[arg-type]  # Leaves have a client.
            else:
                self._list_clients(child, order)
