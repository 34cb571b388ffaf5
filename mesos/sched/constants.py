"""Constants of the scheduler driver (port of `src/sched/constants.hpp`), in seconds."""

from __future__ import annotations

__all__ = [
    "DEFAULT_REGISTRATION_BACKOFF_FACTOR",
    "MESOS_VERSION",
    "REGISTRATION_RETRY_INTERVAL_MAX",
]

# The bound of the first registration retry; it doubles with every retry after that.
DEFAULT_REGISTRATION_BACKOFF_FACTOR = 2.0

# The registration retry bound never grows beyond this.
REGISTRATION_RETRY_INTERVAL_MAX = 60.0

# The Mesos version this port speaks (logged at start, put in synthesized `MasterInfo`s).
MESOS_VERSION = "1.12.0"
