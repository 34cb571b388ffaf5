"""Command-line tools: `mesos-execute` (one task) and `mesos-local` (a local cluster)."""
