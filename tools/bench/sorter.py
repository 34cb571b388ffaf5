"""Micro benchmark of the DRF sorter (`mesos.allocator.sorter.DRFSorter`).

Usage: `.venv/bin/python tools/bench/sorter.py [--agents N] [--clients N ...] [--seed N]`

Adds 10,000 agents to the pool, then for 100 and 1,000 clients, in a flat tree (a framework
sorter) and in a two-level role tree (a role sorter, `r<k>/c<i>` with ten children per parent),
measures per call:

- `dirty sort`: `sort()` after the pool changed (every share recomputed, every level resorted;
  this is what every `sort()` would cost if the sorter did not keep its order);
- `clean sort`: `sort()` with nothing changed since the previous `sort()`;
- `allocated`: one `allocated()` call on a sorted tree (shares on the client's path recomputed,
  nodes moved among their siblings);
- `alloc+sort`: one `allocated()` followed by `sort()`, the inner step of an allocation run.

The last column is the ratio `dirty sort / alloc+sort`: what keeping the order incrementally
saves per allocation. Figures are medians over repeated batches, in microseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mesos.allocator.sorter import DRFSorter

AGENT_QUANTITIES = {"cpus": 16.0, "mem": 65536.0, "disk": 1048576.0, "ports": 1001.0}


def client_paths(count: int, shape: str) -> list[str]:
    if shape == "flat":
        return [f"framework-{i:05d}" for i in range(count)]
    return [f"r{i // 10:03d}/c{i:05d}" for i in range(count)]


def build(agents: int, clients: list[str], rng: random.Random) -> DRFSorter:
    sorter = DRFSorter()
    for a in range(agents):
        sorter.add_slave(f"agent-{a:05d}", AGENT_QUANTITIES)
    for client in clients:
        sorter.add(client)
        sorter.activate(client)
    # Give every client a different starting allocation so that shares differ.
    for client in clients:
        for _ in range(rng.randint(1, 5)):
            sorter.allocated(
                client,
                f"agent-{rng.randrange(agents):05d}",
                {"cpus": rng.randint(1, 8), "mem": rng.randint(1, 32) * 1024.0},
            )
    sorter.sort()
    return sorter


def per_call_us(run: Callable[[int], None], calls: int, batches: int = 7) -> float:
    """Median over `batches` of the time per call, in microseconds, of `run(calls)`."""
    samples = []
    for _ in range(batches):
        start = time.perf_counter()
        run(calls)
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def measure(agents: int, count: int, shape: str, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    clients = client_paths(count, shape)
    sorter = build(agents, clients, rng)
    calls = max(20, 20_000 // count)

    def dirty_sort(n: int) -> None:
        for _ in range(n):
            # Removing and re-adding an empty agent with one cpu dirties the whole tree.
            sorter.add_slave("bench-extra", {"cpus": 1.0})
            sorter.sort()
            sorter.remove_slave("bench-extra")
            sorter.sort()

    def clean_sort(n: int) -> None:
        for _ in range(n):
            sorter.sort()

    picks = [(rng.choice(clients), f"agent-{rng.randrange(agents):05d}") for _ in range(calls * 2)]
    small = {"cpus": 0.5, "mem": 512.0}

    def allocated(n: int) -> None:
        for client, agent in picks[:n]:
            sorter.allocated(client, agent, small)

    def alloc_and_sort(n: int) -> None:
        for client, agent in picks[:n]:
            sorter.allocated(client, agent, small)
            sorter.sort()

    sorter.sort()
    results = {
        # Each iteration of `dirty_sort` makes two dirty sorts (plus two cheap pool changes).
        "dirty sort": per_call_us(dirty_sort, calls) / 2,
        "clean sort": per_call_us(clean_sort, calls * 10),
        "allocated": per_call_us(allocated, calls * 2),
        "alloc+sort": per_call_us(alloc_and_sort, calls * 2),
    }
    return results


def time_add_slaves(agents: int) -> float:
    """Seconds to add `agents` agents to an empty sorter."""
    sorter = DRFSorter()
    start = time.perf_counter()
    for a in range(agents):
        sorter.add_slave(f"agent-{a:05d}", AGENT_QUANTITIES)
    elapsed = time.perf_counter() - start
    sorter.sort()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 1_000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    python = sys.version.split()[0]
    print(f"DRF sorter, {args.agents} agents, Python {python}; microseconds per call (median)")
    print(f"add_slave x{args.agents}: {time_add_slaves(args.agents) * 1e3:.1f} ms")
    header = (
        f"{'clients':>8} {'tree':>6} {'dirty sort':>11} {'clean sort':>11} "
        f"{'allocated':>10} {'alloc+sort':>11} {'dirty/(alloc+sort)':>19}"
    )
    print(header)
    print("-" * len(header))
    for count in args.clients:
        for shape in ("flat", "roles"):
            r = measure(args.agents, count, shape, args.seed)
            ratio = r["dirty sort"] / r["alloc+sort"]
            print(
                f"{count:>8} {shape:>6} {r['dirty sort']:>11.1f} {r['clean sort']:>11.1f} "
                f"{r['allocated']:>10.1f} {r['alloc+sort']:>11.1f} {ratio:>18.1f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
