"""`mesos.interface.mesos_pb2`: another name for `mesos.protos.mesos.mesos_pb2`.

`import mesos.interface.mesos_pb2` must give the same module object as the generated one, not a
copy: a second module would be harmless for the descriptors (they live in one pool) but would
confuse `is` checks and monkeypatching in tests. So this module replaces itself in `sys.modules`;
the import system hands back whatever `sys.modules` holds once the module has run.
"""

import sys

from mesos.protos.mesos import mesos_pb2 as _generated
from mesos.protos.mesos.mesos_pb2 import *  # noqa: F403  (lets type checkers see the names)

sys.modules[__name__] = _generated
