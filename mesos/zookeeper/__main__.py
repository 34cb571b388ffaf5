"""`python -m mesos.zookeeper start [--ensemble]`: the command behind `tools/zk`."""

import sys

from mesos.zookeeper.server import main

sys.exit(main())
