"""A peer runtime in its own OS process, for the transport tests.

Prints `READY <upid> <http_port>`, then echoes every `StringValue` back to its sender with
the prefix `echo:`; a `StringValue` "link <upid>" makes it link to that upid and print
`EXITED <upid>` when the link breaks.
"""

from __future__ import annotations

import sys
import threading

from google.protobuf.wrappers_pb2 import StringValue

import libprocess
from libprocess import UPID, Process


class Echo(Process):
    def initialize(self) -> None:
        self.install(StringValue, self.string_value)

    def string_value(self, sender: UPID, message: StringValue) -> None:
        if message.value.startswith("link "):
            self.link(UPID(message.value[5:]))
        self.send(sender, StringValue(value="echo:" + message.value))

    def exited(self, upid: UPID) -> None:
        print(f"EXITED {upid}", flush=True)


def main() -> None:
    _, _, http_port = libprocess.initialize(ip="127.0.0.1")
    echo = Echo("echo")
    upid = libprocess.spawn(echo)
    print(f"READY {upid} {http_port}", flush=True)
    threading.Event().wait() if len(sys.argv) < 2 else libprocess.wait(echo)


if __name__ == "__main__":
    main()
