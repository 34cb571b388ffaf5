"""The executor side (port of `src/exec/` and `src/launcher/executor.cpp`).

`mesos.exec.driver`: `ExecutorProcess` (`executor(N)`) and its facade `MesosExecutorDriver`,
which `mesos.native` exports. `mesos.exec.command_executor`: the command executor
(`mesos-executor`, or `python -m mesos.exec.command_executor`), which runs a task's
`CommandInfo` as a child process group.
"""

from mesos.exec.driver import (
    ExecutorEnvironment,
    ExecutorProcess,
    MesosExecutorDriver,
    ShutdownProcess,
)

__all__ = [
    "ExecutorEnvironment",
    "ExecutorProcess",
    "MesosExecutorDriver",
    "ShutdownProcess",
]
