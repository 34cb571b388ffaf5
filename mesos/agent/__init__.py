"""The agent (port of `src/slave/`): the `slave(1)` process, the task status update manager,
checkpointing and recovery, the POSIX containerizer, garbage collection and endpoints."""
