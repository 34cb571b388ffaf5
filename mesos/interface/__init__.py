"""The `mesos.interface` drop-in: what Python frameworks written for Apache Mesos import.

Old frameworks write `from mesos.interface import mesos_pb2` (and `import mesos.interface`
for the `Scheduler` and `Executor` base classes, which come later). Here `mesos_pb2` is the
very module object `mesos.protos.mesos.mesos_pb2`, so messages built through either name are
the same classes.
"""

from mesos.protos.mesos import mesos_pb2

__all__ = ["mesos_pb2"]
