"""The HTTP server of an OS process (aiohttp on its own event-loop thread).

Routing, as libprocess: `/<process-id>/<route>` goes to that process's `route()` handler, run
on the process's own thread (the server awaits the returned future, so a slow actor never
blocks the server); a path whose first segment names no process goes to the *delegate*
(`/state` on a master is `/master/state`). Built in: `/metrics` (Prometheus text),
`/metrics/snapshot` (JSON, Mesos names), `/version`. A libprocess message sent over HTTP
(`POST /<id>/<name>` with `Libprocess-From`) is delivered like one from the transport and
answered 202, or 404 for an unknown process, as libprocess does.

A route's `Response` whose body is a `Pipe` is streamed with chunked transfer encoding, each
write as its own chunk as soon as it is written (from any thread: the writer wakes the loop
up). The stream ends when the writer closes the pipe, when the client goes away (aiohttp
cancels the handler of a lost connection), or when the server stops; then the pipe's reader
is closed, which the writer learns through `pipe.reader_closed`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from libprocess import metrics
from libprocess.future import Future
from libprocess.http import Pipe, Request, Response
from libprocess.upid import UPID, UPIDError

if TYPE_CHECKING:
    from libprocess.runtime import Manager

__all__ = ["HttpServer"]

log = logging.getLogger("libprocess.http")

VERSION = "1.12.0"
ROUTE_TIMEOUT = 60.0
MAX_BODY = 64 * 1024 * 1024
# How long stopping the server waits for requests still being answered (streams are ended
# first, so only ordinary requests can be left).
SHUTDOWN_TIMEOUT = 2.0

class _AccessLog(AbstractAccessLogger):
    def log(self, request: Any, response: Any, time: float) -> None:
        if 400 <= response.status < 500:
            _bad_requests.inc()

    @property
    def enabled(self) -> bool:
        return True


_bad_requests = metrics.Counter("libprocess/http_bad_requests")
metrics.add(_bad_requests)


class _OncePerCause(logging.Filter):
    """Lets through the first log record of each kind of malformed request (aiohttp logs
    every one, with a traceback); the rest are only counted (`libprocess/http_bad_requests`).
    Anything else, such as a bug in a handler, is always logged."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        cause = type(error).__name__
        if cause in self._seen:
            return False
        self._seen.add(cause)
        record.msg = f"{record.msg} (further {cause} are only counted)"
        return True


# The server's own log (aiohttp's request handler), with malformed requests logged once each.
_server_log = logging.getLogger("libprocess.http.server")
_server_log.addFilter(_OncePerCause())


class HttpServer:
    """See the module docstring. Runs its own asyncio loop thread."""

    def __init__(self, manager: Manager, ip: str, port: int) -> None:
        self._manager = manager
        self._ip = ip
        self._requested_port = port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        # The streaming handlers under way (touched on the loop thread only).
        self._streams: set[asyncio.Task[Any]] = set()

    def start(self) -> int:
        started = threading.Event()
        error: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._start())
            except BaseException as e:
                error.append(e)
                started.set()
                return
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="libprocess-http", daemon=True)
        self._thread.start()
        started.wait(30)
        if error:
            raise error[0]
        return self.port

    async def _start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # `handler_cancellation`: a handler whose client went away is cancelled, which is how
        # a stream learns that its reader is gone.
        self._runner = web.AppRunner(app, access_log_class=_AccessLog, handle_signals=False,
                                     logger=_server_log, handler_cancellation=True,
                                     shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._ip, self._requested_port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._runner is None:
            return

        async def shutdown() -> None:
            assert self._runner is not None
            # Open streams never end by themselves: end them, so no handler is left waiting.
            for task in list(self._streams):
                task.cancel()
            await self._runner.cleanup()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        except Exception:
            log.debug("HTTP server shutdown", exc_info=True)
        self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
            if not self._thread.is_alive():
                self._loop.close()

    async def _handle(self, http: web.Request) -> web.StreamResponse:
        path = http.path
        if path == "/metrics/snapshot":
            values = await self._await(metrics.snapshot(_timeout(http)))
            return web.json_response(values)
        if path in ("/metrics", "/metrics/"):
            values = await self._await(metrics.snapshot(_timeout(http)))
            return web.Response(body=metrics.prometheus_text(values),
                                content_type="text/plain", charset="utf-8")
        if path == "/version":
            return web.json_response({"version": VERSION, "build_user": "mesos-python"})
        segments = path.split("/", 2)
        process_id = unquote(segments[1]) if len(segments) > 1 else ""
        rest = "/" + segments[2] if len(segments) > 2 else "/"
        sender = http.headers.get("Libprocess-From")
        agent = http.headers.get("User-Agent", "")
        if http.method == "POST" and (sender or agent.startswith("libprocess/")):
            return await self._message(http, process_id, rest[1:], sender or agent[11:])
        body = await http.read()
        request = Request(http.method, path, http.query, http.headers, body,
                          http.remote or "")
        future = self._manager.http_request(process_id, rest, request)
        if future is None and self._manager.delegate is not None:
            future = self._manager.http_request(self._manager.delegate, path, request)
        if future is None:
            return web.Response(status=404, text=f"No process for {path}\n")
        try:
            response = await asyncio.wait_for(self._await(future), ROUTE_TIMEOUT)
        except TimeoutError:
            future.on_ready(_abandon)
            return web.Response(status=503, text="The process did not answer in time\n")
        except asyncio.CancelledError:
            # The client went away before the answer: a stream it would have read is over.
            future.on_ready(_abandon)
            raise
        except Exception as e:
            return web.Response(status=500, text=f"{e}\n")
        if not isinstance(response, Response):
            return web.Response(status=500, text="Route returned no Response\n")
        if response.pipe is not None:
            return await self._stream(http, response, response.pipe)
        return web.Response(status=response.status, body=response.body,
                            headers={"Content-Type": response.content_type,
                                     **response.headers})

    async def _stream(self, http: web.Request, response: Response,
                      pipe: Pipe) -> web.StreamResponse:
        """Sends `pipe` chunked until the writer closes it or the client goes away; the
        pipe's reader is closed in every case."""
        loop = asyncio.get_running_loop()
        written = asyncio.Event()

        def wakeup() -> None:
            # On the writer's thread; the loop may already be closed at shutdown.
            try:
                loop.call_soon_threadsafe(written.set)
            except RuntimeError:
                pass

        task = asyncio.current_task()
        assert task is not None
        self._streams.add(task)
        stream = web.StreamResponse(status=response.status,
                                    headers={"Content-Type": response.content_type,
                                             **response.headers})
        if http.version >= (1, 1):
            stream.enable_chunked_encoding()
        else:
            # HTTP/1.0 has no chunks: the body runs until the connection closes.
            stream.force_close()
        pipe.attach(wakeup)
        try:
            await stream.prepare(http)
            while True:
                # Cleared before taking, so a write after `take` wakes the loop up again.
                written.clear()
                chunks, closed = pipe.take()
                for chunk in chunks:
                    await stream.write(chunk)
                if closed:
                    await stream.write_eof()
                    break
                if not chunks:
                    await written.wait()
        except ConnectionError:
            log.debug("Client of %s went away while streaming", http.path)
        finally:
            self._streams.discard(task)
            pipe.close_reader()
        return stream

    async def _message(self, http: web.Request, process_id: str, name: str,
                       sender_text: str) -> web.Response:
        try:
            sender = UPID(sender_text)
        except UPIDError:
            self._manager.drop("bad_sender", f"HTTP message with sender {sender_text!r}")
            return web.Response(status=400, text="Bad Libprocess-From\n")
        if not name:
            self._manager.drop("unknown_message", "HTTP message without a name", sender)
            return web.Response(status=400, text="Missing message name\n")
        body = await http.read()
        if len(body) > self._manager.max_message_size:
            self._manager.drop("oversized", f"{name} of {len(body)} bytes", sender)
            return web.Response(status=413)
        if self._manager.lookup(process_id) is None:
            self._manager.drop("unknown_process", f"{name} to {process_id!r}", sender)
            return web.Response(status=404)
        self._manager.deliver(sender, UPID(process_id, self._manager.ip, self._manager.port),
                              name, body)
        return web.Response(status=202)

    async def _await(self, future: Future[Any]) -> Any:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()

        def done(f: Future[Any]) -> None:
            def settle() -> None:
                if waiter.done():
                    return
                if f.is_ready():
                    waiter.set_result(f.value)
                elif f.is_failed():
                    waiter.set_exception(RuntimeError(f.failure))
                else:
                    waiter.set_exception(RuntimeError("discarded"))

            try:
                loop.call_soon_threadsafe(settle)
            except RuntimeError:
                pass  # The server stopped (its loop is closed): nobody waits any more.

        future.on_any(done)
        return await waiter


def _abandon(response: Any) -> None:
    """A route's answer that no client will read: its stream, if any, is over."""
    if isinstance(response, Response) and response.pipe is not None:
        response.pipe.close_reader()


# Mesos's duration units, as `/metrics/snapshot?timeout=` accepts them (`5secs`, `100ms`).
_DURATION_UNITS = (("weeks", 604800.0), ("days", 86400.0), ("hrs", 3600.0), ("mins", 60.0),
                   ("secs", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9), ("s", 1.0))


def _timeout(http: web.Request) -> float:
    """The snapshot's `timeout` query parameter in seconds: 5 s when absent or unparsable;
    never negative, NaN or infinite (the metrics module bounds it further)."""
    text = http.query.get("timeout", "").strip()
    if not text:
        return 5.0
    scale = 1.0
    for unit, factor in _DURATION_UNITS:
        if text.endswith(unit):
            text, scale = text[: -len(unit)], factor
            break
    try:
        seconds = float(text) * scale
    except ValueError:
        return 5.0
    if seconds != seconds:  # NaN.
        return 5.0
    return min(max(seconds, 0.0), ROUTE_TIMEOUT)
