"""Benchmark: libprocess message throughput and round-trip latency between two OS processes,
beside raw pyzmq doing the same in the same run.

What is measured (each in a fresh child OS process as the receiver):
- one-way throughput of a ~200-byte `mesos.internal.StatusUpdateMessage`: a sender process
  sends N messages as fast as it can; the receiver's handler (which gets the parsed message)
  timestamps the first and the last. Raw pyzmq baselines: a DEALER -> ROUTER pair sending the
  same serialized envelope as one frame (our socket pattern with no runtime), and PUSH -> PULL
  (the fastest pyzmq pattern, for reference);
- round trip: one message to an echo process and back, repeated, mean and median; the raw
  baseline is DEALER -> ROUTER -> DEALER with the same bytes.

Run: `.venv/bin/python tools/bench/libprocess_throughput.py [--messages N] [--round-trips M]`.
Figures drift on shared machines: compare the ratios printed in one run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
import uuid

import zmq

from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2


def sample_message() -> messages_pb2.StatusUpdateMessage:
    message = messages_pb2.StatusUpdateMessage()
    update = message.update
    update.framework_id.value = "5b3c5e1e-0e1f-4d53-9d0b-6c0f8c3b1d2a-0000"
    update.slave_id.value = "5b3c5e1e-0e1f-4d53-9d0b-6c0f8c3b1d2a-S12"
    update.status.task_id.value = "task-000123"
    update.status.state = mesos_pb2.TASK_RUNNING
    update.status.source = mesos_pb2.TaskStatus.SOURCE_EXECUTOR
    update.status.uuid = uuid.uuid4().bytes
    update.status.timestamp = time.time()
    update.timestamp = time.time()
    update.uuid = uuid.uuid4().bytes
    message.pid = "slave(1)@127.0.0.1:5051"
    return message


# Child roles.


def child_raw(pattern: str, count: int) -> None:
    context = zmq.Context.instance()
    if pattern == "router":
        sock = context.socket(zmq.ROUTER)
    else:
        sock = context.socket(zmq.PULL)
    sock.setsockopt(zmq.RCVHWM, 0)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print(port, flush=True)
    recv = sock.recv_multipart if pattern == "router" else sock.recv
    recv()
    start = time.perf_counter()
    for _ in range(count - 1):
        recv()
    elapsed = time.perf_counter() - start
    print(f"{(count - 1) / elapsed:.0f}", flush=True)


def child_raw_echo(count: int) -> None:
    context = zmq.Context.instance()
    sock = context.socket(zmq.ROUTER)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print(port, flush=True)
    for _ in range(count):
        sock.send_multipart(sock.recv_multipart())


def child_libprocess(mode: str, count: int) -> None:
    import libprocess

    libprocess.initialize(ip="127.0.0.1")
    done = threading.Event()

    class Sink(libprocess.Process):
        def __init__(self) -> None:
            super().__init__("sink")
            self.received = 0
            self.start = 0.0
            self.rate = 0.0

        def initialize(self) -> None:
            self.install(messages_pb2.StatusUpdateMessage, self.update)

        def update(self, sender: libprocess.UPID, message: messages_pb2.StatusUpdateMessage):
            if mode == "echo":
                self.send(sender, message)
                return
            self.received += 1
            if self.received == 1:
                self.start = time.perf_counter()
            elif self.received == count:
                self.rate = (count - 1) / (time.perf_counter() - self.start)
                done.set()

    sink = Sink()
    libprocess.spawn(sink)
    print(sink.upid, flush=True)
    if mode == "echo":
        sys.stdin.readline()
        return
    done.wait()
    print(f"{sink.rate:.0f}", flush=True)


# Parent side.


def start_child(*args: str) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen([sys.executable, __file__, "--child", *args],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def envelope(body: bytes) -> bytes:
    return b"\0".join([b"sink", b"bench@127.0.0.1:1", b"mesos.internal.StatusUpdateMessage",
                       body])


def raw_throughput(pattern: str, count: int) -> float:
    child, port = start_child("raw", pattern, str(count))
    context = zmq.Context.instance()
    sock = context.socket(zmq.DEALER if pattern == "router" else zmq.PUSH)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.connect(f"tcp://127.0.0.1:{port}")
    frame = envelope(sample_message().SerializeToString())
    for _ in range(count):
        sock.send(frame)
    assert child.stdout is not None
    rate = float(child.stdout.readline())
    child.wait()
    sock.close(0)
    return rate


def libprocess_throughput(count: int) -> float:
    import libprocess

    child, sink = start_child("libprocess", "sink", str(count))

    class Source(libprocess.Process):
        def blast(self, to: str, n: int) -> None:
            message = sample_message()
            target = libprocess.UPID(to)
            for _ in range(n):
                self.send(target, message)

    source = Source()
    libprocess.spawn(source)
    libprocess.dispatch(source, source.blast, sink, count).get(600)
    assert child.stdout is not None
    rate = float(child.stdout.readline())
    child.wait()
    libprocess.terminate(source)
    return rate


def raw_round_trip(count: int) -> list[float]:
    child, port = start_child("raw-echo", str(count))
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(f"tcp://127.0.0.1:{port}")
    frame = envelope(sample_message().SerializeToString())
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        sock.send(frame)
        sock.recv()
        samples.append(time.perf_counter() - start)
    child.wait()
    sock.close(0)
    return samples[count // 10:]


def libprocess_round_trip(count: int) -> list[float]:
    import libprocess

    child, echo = start_child("libprocess", "echo", str(count))
    samples: list[float] = []
    finished = libprocess.Promise[None]()

    class Pinger(libprocess.Process):
        def initialize(self) -> None:
            self.install(messages_pb2.StatusUpdateMessage, self.pong)
            self.message = sample_message()
            self.target = libprocess.UPID(echo)

        def ping(self) -> None:
            self.start = time.perf_counter()
            self.send(self.target, self.message)

        def pong(self, sender: libprocess.UPID, message: object) -> None:
            samples.append(time.perf_counter() - self.start)
            if len(samples) == count:
                finished.set(None)
            else:
                self.ping()

    pinger = Pinger()
    libprocess.spawn(pinger)
    libprocess.dispatch(pinger, pinger.ping)
    finished.future.get(600)
    assert child.stdin is not None
    child.stdin.write("\n")
    child.stdin.flush()
    child.wait()
    libprocess.terminate(pinger)
    return samples[count // 10:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--round-trips", type=int, default=5_000)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        role = args.child[0]
        if role == "raw":
            child_raw(args.child[1], int(args.child[2]))
        elif role == "raw-echo":
            child_raw_echo(int(args.child[1]))
        else:
            child_libprocess(args.child[1], int(args.child[2]))
        return

    size = len(sample_message().SerializeToString())
    print(f"libprocess throughput: {args.messages} x StatusUpdateMessage ({size} bytes), "
          f"two OS processes, Python {sys.version.split()[0]}, pyzmq {zmq.__version__}")
    push = raw_throughput("push", args.messages)
    router = raw_throughput("router", args.messages)
    ours = libprocess_throughput(args.messages)
    print(f"  raw pyzmq PUSH -> PULL, 1 frame     {push:>10,.0f} msg/s")
    print(f"  raw pyzmq DEALER -> ROUTER, 1 frame {router:>10,.0f} msg/s")
    print(f"  libprocess send -> handler          {ours:>10,.0f} msg/s   "
          f"({ours / router:.0%} of DEALER->ROUTER, {ours / push:.0%} of PUSH->PULL)")
    raw_rt = raw_round_trip(args.round_trips)
    ours_rt = libprocess_round_trip(args.round_trips)
    print(f"round trip ({args.round_trips} pings, first 10% dropped as warm-up):")
    for label, samples in (("raw pyzmq DEALER/ROUTER", raw_rt), ("libprocess", ours_rt)):
        print(f"  {label:<24} mean {statistics.mean(samples) * 1e6:7.1f} us   "
              f"median {statistics.median(samples) * 1e6:7.1f} us   "
              f"p99 {sorted(samples)[int(len(samples) * 0.99)] * 1e6:7.1f} us")
    import libprocess

    libprocess.finalize()


if __name__ == "__main__":
    main()
