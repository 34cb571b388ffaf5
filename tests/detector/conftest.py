"""Fixtures for the contender and detector tests: a real ZooKeeper from
`mesos.zookeeper.testing` (one server per test run, a fresh chroot per test)."""

from __future__ import annotations

# The ZooKeeper fixtures come from the `mesos.zookeeper.testing` plugin (see pyproject.toml).
