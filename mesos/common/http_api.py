"""What the v1 HTTP APIs (`/api/v1/scheduler` on the master, `/api/v1/executor` on the agent)
share: media types and `Accept` negotiation, decoding a `Call` body, RecordIO, v0 <-> v1
conversion of wire-compatible messages, and the streamed subscription connection with its
heartbeats (ports of `src/common/recordio.hpp`, libprocess's `Request::acceptsMediaType`,
`StreamingHttpConnection` and `ResponseHeartbeater` of `src/common/http.hpp`, and the
generic part of `src/internal/{evolve,devolve}.cpp`).

`StreamingHttpConnection` is subclassed once per API: the subclass names its v1 `Event` class
and says how to `evolve` what the component would send a PID peer (a scheduler driver, an
executor driver) into such an event.

Threads: the pure functions run anywhere; a connection is used on the thread of the process
that owns it (its heartbeats are `delay`ed onto that process), except that its `closed`
future completes on the HTTP server's loop thread when the client goes away: the owner
defers its callback.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, ClassVar, TypeVar

from google.protobuf.message import DecodeError, Message

from libprocess import BadRequest, Future, Pipe, Process, Request, Response, delay
from libprocess.clock import Timer
from mesos.common.json_model import parse_mesos_json, to_mesos_json

__all__ = [
    "APPLICATION_JSON",
    "APPLICATION_PROTOBUF",
    "StreamingHttpConnection",
    "accepts_media_type",
    "convert",
    "decode_call",
    "media_type",
    "method_not_allowed",
    "negotiate_stream_type",
    "recordio_encode",
    "same_wire",
    "serialize",
]

log = logging.getLogger(__name__)

APPLICATION_JSON = "application/json"
APPLICATION_PROTOBUF = "application/x-protobuf"

_M = TypeVar("_M", bound=Message)


# -- pure helpers ----------------------------------------------------------------------------


def recordio_encode(record: bytes) -> bytes:
    """One RecordIO record: the record's length in decimal, a newline, the record."""
    return b"%d\n" % len(record) + record


def same_wire(message: Any, target: Any) -> None:
    """Merges `message` into `target`, a message of another version whose field numbers are
    the same (v0 <-> v1: `slave_id` and `agent_id` share a number)."""
    target.MergeFromString(message.SerializePartialToString())


def convert(message: Any, cls: type[_M]) -> _M:
    """`message` read as a `cls` through its bytes (Mesos's `evolve`/`devolve` of
    wire-compatible messages)."""
    return cls.FromString(message.SerializePartialToString())


def media_type(header: str) -> str:
    """`type/subtype` of a Content-Type or Accept entry, without parameters."""
    return header.split(";", 1)[0].strip().lower()


def accepts_media_type(accept: str | None, wanted: str) -> bool:
    """Whether an `Accept` header allows `wanted` (port of libprocess's
    `Request::acceptsMediaType`): no header accepts everything; otherwise the most specific
    entry that matches (`type/subtype`, then `type/*`, then `*/*`) decides, and a `q` of 0
    refuses."""
    if accept is None:
        return True
    main = wanted.split("/", 1)[0]
    qualities: dict[str, float] = {}
    for entry in accept.split(","):
        name = media_type(entry)
        if not name:
            continue
        quality = 1.0
        for parameter in entry.split(";")[1:]:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        qualities[name] = quality
    for candidate in (wanted, f"{main}/*", "*/*"):
        if candidate in qualities:
            return qualities[candidate] > 0
    return False


def serialize(message: Any, content_type: str) -> bytes:
    """`message` in the stream's encoding: protobuf bytes, or Mesos's JSON."""
    if content_type == APPLICATION_PROTOBUF:
        return bytes(message.SerializePartialToString())
    return json.dumps(to_mesos_json(message), separators=(",", ":")).encode()


def method_not_allowed(method: str) -> Response:
    """libprocess's `MethodNotAllowed({"POST"}, method)`."""
    return Response(405, f"Expecting one of {{ 'POST' }}, but received '{method}'\n",
                    headers={"Allow": "POST"})


def decode_call(request: Request, cls: type[_M], *, strict: bool = False) -> _M | Response:
    """The body of a v1 API request as a `cls` (JSON or protobuf, by `Content-Type`), or the
    answer Mesos gives a request it cannot read: 400 without a `Content-Type` or with a body
    that does not parse, 415 for another media type. With `strict`, a protobuf body missing
    required fields does not parse (as C++'s `ParseFromString`, for calls whose message has
    required fields); JSON always checks them."""
    content_type = request.header("Content-Type")
    if content_type is None:
        return BadRequest("Expecting 'Content-Type' to be present")
    kind = media_type(content_type)
    if kind == APPLICATION_PROTOBUF:
        call = cls()
        try:
            call.ParseFromString(request.body)
        except DecodeError:
            return BadRequest("Failed to parse body into Call protobuf")
        if strict and not call.IsInitialized():
            return BadRequest("Failed to parse body into Call protobuf")
        return call
    if kind == APPLICATION_JSON:
        try:
            value = json.loads(request.body)
        except ValueError as e:
            return BadRequest(f"Failed to parse body into JSON: {e}")
        try:
            return parse_mesos_json(value, cls)
        except ValueError as e:
            return BadRequest(f"Failed to convert JSON into Call protobuf: {e}")
    return Response(415, f"Expecting 'Content-Type' of {APPLICATION_JSON} or "
                         f"{APPLICATION_PROTOBUF}\n")


def negotiate_stream_type(request: Request) -> str | Response:
    """The encoding of a subscription stream: JSON unless only protobuf is acceptable (an
    absent `Accept` accepts anything); 406 if neither is."""
    accept = request.header("Accept")
    if accepts_media_type(accept, APPLICATION_JSON):
        return APPLICATION_JSON
    if accepts_media_type(accept, APPLICATION_PROTOBUF):
        return APPLICATION_PROTOBUF
    return Response(406, f"Expecting 'Accept' to allow '{APPLICATION_PROTOBUF}' or"
                         f" '{APPLICATION_JSON}'\n")


# -- a subscription stream -------------------------------------------------------------------


class StreamingHttpConnection:
    """A subscription stream (Mesos's `StreamingHttpConnection` with its
    `ResponseHeartbeater`); used on its owner's thread.

    Subclasses set `event_class` (the v1 `Event`, which has a HEARTBEAT type), the heartbeat
    `heartbeat_interval` and `first_heartbeat` (the wait before the first one), and
    implement `evolve`. `stream_id` identifies the stream (`Mesos-Stream-Id` for schedulers);
    `closed` is ready when the stream is over (the client went away, or it was closed and
    all was sent). Two connections are the same only if they are the same object.
    """

    event_class: ClassVar[Any]
    heartbeat_interval: ClassVar[float]
    first_heartbeat: ClassVar[float] = 0.0

    def __init__(self, pipe: Pipe, content_type: str, stream_id: str | None = None) -> None:
        self.pipe = pipe
        self.content_type = content_type
        self.stream_id = stream_id or str(uuid.uuid4())
        self._heartbeat: Timer | None = None

    def __repr__(self) -> str:
        return f"<HTTP stream {self.stream_id}>"

    def evolve(self, message: Any) -> Any:
        """What the owner would send a PID peer, as a v1 event."""
        raise NotImplementedError

    @property
    def closed(self) -> Future[None]:
        return self.pipe.reader_closed

    def send(self, message: Any) -> bool:
        """Writes `message` (an internal message, evolved, or an `event_class` event) as one
        RecordIO record; False if the stream is over."""
        event = message if isinstance(message, self.event_class) else self.evolve(message)
        try:
            record = recordio_encode(serialize(event, self.content_type))
        except Exception:
            # Whatever the event holds, the sender's books must not stop half-updated.
            log.exception("Dropping an event that cannot be encoded for %s", self)
            return True
        return self.pipe.write(record)

    def close(self) -> bool:
        """Ends the stream (after what was sent) and its heartbeats; False if it was over."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        return self.pipe.close()

    def start_heartbeat(self, process: Process, interval: float | None = None,
                        first: float | None = None) -> None:
        """Sends HEARTBEAT after `first` s (now, for 0) and then every `interval` s of clock
        time, on `process`'s thread, until the stream is over (port of
        `ResponseHeartbeater`). Both default to the class's."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        interval = self.heartbeat_interval if interval is None else interval
        first = self.first_heartbeat if first is None else first
        if first > 0:
            self._heartbeat = delay(first, process, self._beat, process, interval)
        else:
            self._beat(process, interval)

    def _beat(self, process: Process, interval: float) -> None:
        if self.pipe.is_closed():
            self._heartbeat = None
            return
        log.debug("Sending heartbeat on %s", self)
        self.send(self.event_class(type=self.event_class.HEARTBEAT))
        self._heartbeat = delay(interval, process, self._beat, process, interval)
