"""The DRF sorter: orders the clients of the allocator by weighted dominant share.

Port of `DRFSorter` (`src/master/allocator/mesos/sorter/drf/sorter.{hpp,cpp}`). The hierarchical
allocator keeps one sorter over role paths (`a`, `a/b`, ...) and one per role over framework ids,
and asks each for `sort()` once per agent in every allocation run. This module is a pure core: no
actors, no threads, no clock; it is touched only by the thread of the allocator that owns it.

The clients form a tree by their `/`-separated paths. A client is always a leaf; a client whose
path is also the prefix of another client (`a` beside `a/b`) is represented by a *virtual leaf*
named `.` under the internal node `a`, as in Mesos. Allocation made to a leaf counts towards every
ancestor, so at each level siblings are ranked by the share of their whole subtree.

Internally quantities are kept in fixed point (`dict[str, int]` of thousandths, see
`mesos.allocator.quantities.to_fixed`), which makes the arithmetic exact and cheap.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Iterable, Mapping
from operator import attrgetter

from mesos.allocator.quantities import ResourceQuantities, from_fixed, to_fixed

__all__ = ["DEFAULT_WEIGHT", "DRFSorter"]

DEFAULT_WEIGHT = 1.0

# The name of the virtual leaf that stands for a client whose path is also an internal node.
_VIRTUAL = "."

# Scalar quantities in thousandths (`to_fixed`).
_Fixed = dict[str, int]

# A node's rank among its siblings: Mesos's `compareDRF` orders by weighted dominant share, then
# by the number of allocations made to the node (fewer first), then by path.
_Key = tuple[float, int, str]


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
    ranking (active leaves and internal nodes, never inactive leaves). Whenever the sorter is not
    dirty, `ordered` is sorted by each child's `key` and `keys` holds those keys in the same
    order, so that a child is found and moved by bisection.
    """

    __slots__ = (
        "agents",
        "children",
        "client",
        "count",
        "internal_count",
        "key",
        "keys",
        "kind",
        "name",
        "order",
        "ordered",
        "parent",
        "path",
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
        # How many times an allocation was made to this subtree: the first tie breaker, which
        # spreads allocations evenly across clients of equal share.
        self.count = 0
        # The rank last computed; current for every node in an `ordered` list while the sorter
        # is not dirty. Never computed for the root.
        self.key: _Key = (0.0, 0, self.path)
        # Scalar quantities allocated to this subtree.
        self.totals: _Fixed = {}
        # Allocation per agent id, kept on leaves only (internal nodes need only `totals`).
        self.agents: dict[str, _Fixed] = {}
        self.children: dict[str, _Node] = {}
        self.ordered: list[_Node] = []
        self.keys: list[_Key] = []
        # How many children are internal nodes; with none, `ordered` lists only active leaves.
        self.internal_count = 0
        # The active clients of the subtree in DRF order, or `None` when it must be rebuilt.
        self.order: list[str] | None = None


_key_of = attrgetter("key")


def _add(target: _Fixed, delta: _Fixed) -> None:
    for name, value in delta.items():
        target[name] = target.get(name, 0) + value


def _subtract(target: _Fixed, delta: _Fixed) -> None:
    # Callers check containment first (or rely on an ancestor containing its descendants).
    for name, value in delta.items():
        left = target[name] - value
        if left:
            target[name] = left
        else:
            del target[name]


def _contains(have: _Fixed, want: _Fixed) -> bool:
    return all(value <= have.get(name, 0) for name, value in want.items())


class DRFSorter:
    """Weighted, hierarchical Dominant Resource Fairness sorter (port of `DRFSorter`).

    Owns the tree of clients (paths, weights, active or not), the scalar quantities allocated to
    each client per agent, and the total pool (the scalar quantities of every agent added with
    `add_slave`). It is pure: no thread, no clock, no I/O; the allocator that owns it is the only
    caller. Illegal calls fail loudly: an unknown client or agent raises `KeyError`; a duplicate,
    a malformed argument, or unallocating more than is allocated raises `ValueError`; a call
    that raises leaves the sorter unchanged.

    Shares are cached. Changing the pool, the weights or the set of clients marks the tree dirty
    and the next `sort()` recomputes every share (as Mesos does); `allocated`, `unallocated`,
    `update`, `activate` and `deactivate` recompute only the shares on the client's path to the
    root and move those nodes among their siblings by bisection. The order of the clients is
    cached per subtree, so a `sort()` with nothing changed costs one list copy, and one after
    an allocation rebuilds only the subtrees whose order changed.
    """

    def __init__(self, fairness_exclude_resource_names: Iterable[str] | None = None) -> None:
        self._root = _Node("", _INTERNAL, None, DEFAULT_WEIGHT)
        # Every leaf by client path (for a virtual leaf, the path of its parent).
        self._clients: dict[str, _Node] = {}
        # Weights by path; may name paths that are not in the tree (yet).
        self._weights: dict[str, float] = {}
        # The total pool: each agent's quantities, and their sum.
        self._agents: dict[str, _Fixed] = {}
        self._total: _Fixed = {}
        self._fairness_exclude: frozenset[str] = frozenset()
        # The positive totals of the resources that count for fairness, by name.
        self._fair_totals: _Fixed = {}
        # When true, shares and the order of every `ordered` list are stale: `sort()`
        # recomputes every share and resorts the whole tree.
        self._dirty = False
        if fairness_exclude_resource_names is not None:
            self.initialize(fairness_exclude_resource_names)

    def initialize(self, fairness_exclude_resource_names: Iterable[str] | None) -> None:
        """Excludes the named resources from the share computation (port of
        `DRFSorter::initialize`, fed by `--fair_sharing_excluded_resource_names`)."""
        self._fairness_exclude = frozenset(fairness_exclude_resource_names or ())
        self._update_fair_totals()
        self._dirty = True

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
        self._dirty = True

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
            _subtract(parent.totals, removed)
            if not current.children:
                del parent.children[current.name]
                if current.kind is not _INACTIVE_LEAF:
                    parent.ordered.remove(current)
                if current.kind is _INTERNAL:
                    parent.internal_count -= 1
            elif len(current.children) == 1 and _VIRTUAL in current.children:
                virtual = current.children.pop(_VIRTUAL)
                current.ordered.clear()
                current.keys.clear()
                current.order = None
                current.kind = virtual.kind
                current.agents = virtual.agents
                current.client = virtual.client
                parent.internal_count -= 1
                if current.kind is _INACTIVE_LEAF:
                    parent.ordered.remove(current)
                self._clients[current.path] = current
            current = parent

        self._dirty = True

    def activate(self, client_path: str) -> None:
        """Makes a client appear in `sort()`; a no-op when it is already active."""
        leaf = self._find(client_path)
        if leaf.kind is not _INACTIVE_LEAF:
            return
        leaf.kind = _ACTIVE_LEAF
        parent = leaf.parent
        assert parent is not None
        if self._dirty:
            parent.ordered.append(leaf)
        else:
            key = leaf.key = self._rank(leaf)
            index = bisect.bisect_right(parent.keys, key)
            parent.keys.insert(index, key)
            parent.ordered.insert(index, leaf)
        self._invalidate(parent)

    def deactivate(self, client_path: str) -> None:
        """Hides a client from `sort()`, keeping its allocation; a no-op when already inactive."""
        leaf = self._find(client_path)
        if leaf.kind is not _ACTIVE_LEAF:
            return
        leaf.kind = _INACTIVE_LEAF
        parent = leaf.parent
        assert parent is not None
        if self._dirty:
            parent.ordered.remove(leaf)
        else:
            index = self._index(leaf)
            del parent.keys[index]
            del parent.ordered[index]
        self._invalidate(parent)

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

        # Unlike Mesos (which only finds clients), also reach an internal node that is not a
        # client, e.g. `a` when only `a/b` is in the sorter.
        node: _Node | None = self._root
        for token in tokens:
            assert node is not None
            node = node.children.get(token)
            if node is None:
                break
        if node is not None:
            node.weight = float(weight)

        self._dirty = True

    def contains(self, client_path: str) -> bool:
        return client_path in self._clients

    def count(self) -> int:
        """The number of clients, active or not."""
        return len(self._clients)

    # Allocations.

    def allocated(self, client_path: str, agent_id: str, quantities: Mapping[str, float]) -> None:
        """Records that `quantities` on `agent_id` were allocated to the client."""
        allocation = to_fixed(quantities)
        leaf = self._find(client_path)

        if allocation:
            on_agent = leaf.agents.get(agent_id)
            if on_agent is None:
                leaf.agents[agent_id] = dict(allocation)
            else:
                _add(on_agent, allocation)

        node: _Node | None = leaf
        while node is not None:
            _add(node.totals, allocation)
            node.count += 1
            node = node.parent

        self._reposition_path(leaf)

    def unallocated(self, client_path: str, agent_id: str, quantities: Mapping[str, float]) -> None:
        """Records that `quantities` on `agent_id` went back from the client to the pool.

        Raises `ValueError` if the client does not hold that much on that agent.
        """
        released = to_fixed(quantities)
        leaf = self._find(client_path)
        on_agent = leaf.agents.get(agent_id, {})
        if not _contains(on_agent, released):
            raise ValueError(
                f"Cannot unallocate {from_fixed(released)} on agent {agent_id} from client "
                f"'{client_path}': it holds only {from_fixed(on_agent)} there"
            )
        if not released:
            return

        _subtract(on_agent, released)
        if not on_agent:
            del leaf.agents[agent_id]

        node: _Node | None = leaf
        while node is not None:
            _subtract(node.totals, released)
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
        old = to_fixed(old_quantities)
        new = to_fixed(new_quantities)
        leaf = self._find(client_path)
        on_agent = leaf.agents.get(agent_id, {})
        if not _contains(on_agent, old):
            raise ValueError(
                f"Cannot update {from_fixed(old)} on agent {agent_id} of client "
                f"'{client_path}': it holds only {from_fixed(on_agent)} there"
            )

        on_agent = dict(on_agent)
        _subtract(on_agent, old)
        _add(on_agent, new)
        if on_agent:
            leaf.agents[agent_id] = on_agent
        else:
            leaf.agents.pop(agent_id, None)

        node: _Node | None = leaf
        while node is not None:
            _subtract(node.totals, old)
            _add(node.totals, new)
            node = node.parent

        self._reposition_path(leaf)

    def allocation(self, client_path: str) -> dict[str, ResourceQuantities]:
        """The client's allocation by agent id (a copy)."""
        leaf = self._find(client_path)
        return {agent_id: from_fixed(held) for agent_id, held in leaf.agents.items()}

    def allocation_scalar_quantities(self, client_path: str | None = None) -> ResourceQuantities:
        """The client's allocation summed over agents, or with no client the sum over all
        clients (a copy)."""
        if client_path is None:
            return from_fixed(self._root.totals)
        return from_fixed(self._find(client_path).totals)

    # The total pool.

    def add_slave(self, agent_id: str, quantities: Mapping[str, float]) -> None:
        """Adds an agent's scalar quantities to the total pool (port of `addSlave`)."""
        if agent_id in self._agents:
            raise ValueError(f"Agent {agent_id} is already in the sorter")
        added = to_fixed(quantities)
        self._agents[agent_id] = added
        if added:
            _add(self._total, added)
            self._update_fair_totals()
            self._dirty = True

    def remove_slave(self, agent_id: str) -> None:
        """Takes an agent's scalar quantities out of the total pool (port of `removeSlave`)."""
        removed = self._agents.pop(agent_id, None)
        if removed is None:
            raise KeyError(f"Unknown agent {agent_id}")
        if removed:
            _subtract(self._total, removed)
            self._update_fair_totals()
            self._dirty = True

    def total_scalar_quantities(self) -> ResourceQuantities:
        """The sum of the quantities of every agent (a copy)."""
        return from_fixed(self._total)

    # Sorting.

    def sort(self) -> list[str]:
        """The active clients, in DRF order (a new list).

        Walks the tree from the root in pre-order, visiting the ranked children of each node
        from the lowest weighted dominant share to the highest, ties broken by fewer allocations
        then by path. Inactive clients and subtrees without an active client do not appear.
        """
        if self._dirty:
            self._sort_tree(self._root)
            self._dirty = False
        return list(self._build(self._root))

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
        if kind is _INTERNAL:
            parent.internal_count += 1
        return node

    def _make_internal(self, leaf: _Node) -> None:
        # The leaf's client moves to a new virtual leaf below it, with its allocation; the node
        # keeps its totals, count and weight and becomes an internal node.
        parent = leaf.parent
        assert parent is not None and leaf.client is not None
        virtual = self._new_node(_VIRTUAL, leaf.kind, leaf)
        virtual.client = leaf.client
        virtual.agents = leaf.agents
        virtual.totals = dict(leaf.totals)
        virtual.count = leaf.count
        self._clients[leaf.client] = virtual

        if leaf.kind is _INACTIVE_LEAF:
            parent.ordered.append(leaf)
        parent.internal_count += 1
        leaf.kind = _INTERNAL
        leaf.client = None
        leaf.agents = {}

    def _update_fair_totals(self) -> None:
        excluded = self._fairness_exclude
        self._fair_totals = {
            name: value for name, value in self._total.items() if value > 0 and name not in excluded
        }

    def _rank(self, node: _Node) -> _Key:
        # Port of `DRFSorter::calculateShare`: the largest fraction of any resource's total
        # held by the node, divided by the node's weight; then the tie breakers.
        share = 0.0
        totals = self._fair_totals
        for name, value in node.totals.items():
            total = totals.get(name)
            if total is not None:
                fraction = value / total
                if fraction > share:
                    share = fraction
        return (share / node.weight, node.count, node.path)

    def _sort_tree(self, node: _Node) -> None:
        for child in node.ordered:
            child.key = self._rank(child)
        node.ordered.sort(key=_key_of)
        node.keys = [child.key for child in node.ordered]
        node.order = None
        for child in node.ordered:
            if child.kind is _INTERNAL:
                self._sort_tree(child)

    @staticmethod
    def _index(node: _Node) -> int:
        # The position of a ranked node among its siblings, by bisection on its current key.
        assert node.parent is not None
        index = bisect.bisect_left(node.parent.keys, node.key)
        assert node.parent.ordered[index] is node, "sorter keys out of step with nodes"
        return index

    def _reposition_path(self, leaf: _Node) -> None:
        # The allocation of the leaf and of its ancestors changed. If the tree is sorted, move
        # each ranked node of the path to its new place among its siblings (the siblings'
        # shares did not change); if it is dirty, `sort()` will resort everything anyway.
        if self._dirty:
            return
        node = leaf
        while node.parent is not None:
            if node.kind is not _INACTIVE_LEAF:
                self._reposition(node)
            node = node.parent

    def _reposition(self, node: _Node) -> None:
        parent = node.parent
        assert parent is not None
        keys = parent.keys
        index = self._index(node)
        key = node.key = self._rank(node)
        if (index == 0 or keys[index - 1] < key) and (
            index + 1 == len(keys) or key < keys[index + 1]
        ):
            # Still in place (the usual case for all but the most contended clients).
            keys[index] = key
            return

        ordered = parent.ordered
        del keys[index]
        del ordered[index]
        new_index = bisect.bisect_right(keys, key)
        keys.insert(new_index, key)
        ordered.insert(new_index, node)

        # The order of the parent's subtree changed. When the parent ranks only leaves, its
        # cached order moves the same way; otherwise it is rebuilt on the next `sort()`.
        cached = parent.order
        if cached is not None and parent.internal_count == 0:
            cached.insert(new_index, cached.pop(index))
            self._invalidate(parent.parent)
        else:
            self._invalidate(parent)

    @staticmethod
    def _invalidate(node: _Node | None) -> None:
        while node is not None:
            node.order = None
            node = node.parent

    def _build(self, node: _Node) -> list[str]:
        order = node.order
        if order is None:
            if node.internal_count == 0:
                order = [child.client for child in node.ordered]  # type: ignore[misc]  # Leaves have a client.
            else:
                order = []
                for child in node.ordered:
                    if child.kind is _INTERNAL:
                        order.extend(self._build(child))
                    else:
                        order.append(child.client)  # type: ignore[arg-type]  # Leaves have one.
            node.order = order
        return order
