"""Real ZooKeeper fixtures for the harness tests (see `mesos.zookeeper.testing`)."""

# The ZooKeeper fixtures come from the `mesos.zookeeper.testing` plugin (see pyproject.toml).
