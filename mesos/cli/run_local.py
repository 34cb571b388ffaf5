"""The README's main job (`tools/run-local`): a local cluster running a sample framework.

Starts `mesos-local` (a master and `--agents` agents as OS processes, on free ports unless
`--port` is given), runs the sample framework `mesos.examples.test_framework` (written only
against `mesos.interface` / `mesos.native`) launching `--tasks` command tasks, prints their
states and the URLs of `/master/state` and `/metrics`, then stops the cluster, or keeps it
running until Ctrl-C with `--keep-running`. Exits 0 when every task finished.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading

from mesos.cli.local import LocalCluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=2, help="agents to start (2)")
    parser.add_argument("--tasks", type=int, default=5, help="tasks to launch (5)")
    parser.add_argument("--port", type=int, default=0,
                        help="the master's HTTP port (default: a free port)")
    parser.add_argument("--work-dir", default=None, help="state and logs (default: a "
                        "temporary directory, removed at exit)")
    parser.add_argument("--ha", action="store_true",
                        help="ZooKeeper and three masters (agents and the framework follow "
                             "the leader through zk://)")
    parser.add_argument("--keep-running", action="store_true",
                        help="leave the cluster up after the framework until Ctrl-C")
    args = parser.parse_args(argv)

    cluster = LocalCluster(args.agents, port=args.port, work_dir=args.work_dir, ha=args.ha)
    try:
        print(f"Starting a master and {args.agents} agents ...", flush=True)
        cluster.start()
        print(cluster.describe(), flush=True)
        print(f"\nRunning the sample framework with {args.tasks} tasks:", flush=True)
        framework = subprocess.run([sys.executable, "-m", "mesos.examples.test_framework",
                                    cluster.master_url, "--tasks", str(args.tasks)],
                                   timeout=300)
        print(f"\nSee the cluster: http://{cluster.master}/master/state and "
              f"http://{cluster.master}/metrics", flush=True)
        if args.keep_running:
            print("The cluster keeps running; Ctrl-C stops it.", flush=True)
            stop = threading.Event()
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            stop.wait()
        return framework.returncode
    except (RuntimeError, TimeoutError, subprocess.TimeoutExpired) as e:
        print(f"run-local: {e}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
