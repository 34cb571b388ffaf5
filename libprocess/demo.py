"""`python -m libprocess.demo`: the runtime's demo, two OS processes exchanging messages.

The parent starts a child OS process, links to it, sends it `--count` pings (protobuf
`StringValue`s) one every `--interval` seconds, prints each pong with its round-trip time,
prints both processes' metrics URLs, then stops the child and checks that the link reported
its exit. Runs on the main thread of the parent; the processes run on their actor threads.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from google.protobuf.wrappers_pb2 import StringValue

import libprocess
from libprocess import UPID, Process, Promise


class Ponger(Process):
    """The child's process: answers every ping with a pong."""

    def __init__(self) -> None:
        super().__init__("ponger")

    def initialize(self) -> None:
        self.install(StringValue, self.ping, "value")

    def ping(self, sender: UPID, value: str) -> None:
        self.send(sender, StringValue(value="pong" + value.removeprefix("ping")))


class Pinger(Process):
    """The parent's process: sends pings and resolves a promise per pong and on `exited`."""

    def __init__(self) -> None:
        super().__init__("pinger")
        self.pong: Promise[str] = Promise()
        self.gone: Promise[UPID] = Promise()

    def initialize(self) -> None:
        self.install(StringValue, self.on_pong, "value")

    def ping(self, to: UPID, n: int) -> None:
        self.pong = Promise()
        self.send(to, StringValue(value=f"ping {n}"))

    def on_pong(self, sender: UPID, value: str) -> None:
        self.pong.set(value)

    def exited(self, upid: UPID) -> None:
        self.gone.set(upid)


def child() -> None:
    _, _, http_port = libprocess.initialize()
    ponger = Ponger()
    upid = libprocess.spawn(ponger)
    print(upid, http_port, flush=True)
    sys.stdin.read()  # Until the parent closes our stdin (or dies).


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="libprocess demo: two OS processes")
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child()
        return 0

    ip, _, http_port = libprocess.initialize()
    pinger = Pinger()
    libprocess.spawn(pinger)
    peer = subprocess.Popen([sys.executable, "-m", "libprocess.demo", "--child"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert peer.stdout is not None and peer.stdin is not None
    first = peer.stdout.readline().split()
    if len(first) != 2:
        print("demo: the child process did not start", file=sys.stderr)
        return 1
    ponger, child_http = UPID(first[0]), int(first[1])
    print(f"parent {pinger.upid}: metrics at http://{ip}:{http_port}/metrics/snapshot")
    print(f"child  {ponger}: metrics at http://{ip}:{child_http}/metrics/snapshot")
    libprocess.dispatch(pinger, pinger.link, ponger).get(5)
    for n in range(1, args.count + 1):
        start = time.perf_counter()
        libprocess.dispatch(pinger, pinger.ping, ponger, n).get(5)
        reply = pinger.pong.future.get(5)
        print(f"{reply} from {ponger} in {(time.perf_counter() - start) * 1e6:.0f} us")
        time.sleep(args.interval)
    peer.stdin.close()
    peer.wait(10)
    gone = pinger.gone.future.get(5)
    print(f"the link reported exited({gone}) after the child stopped")
    libprocess.finalize()
    return 0


if __name__ == "__main__":
    sys.exit(main())
