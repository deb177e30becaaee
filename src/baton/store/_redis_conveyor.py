"""Scripts sent back to back on one Redis connection, their replies read later, in order.

redis-py's client sends a command and waits for its reply before the caller goes on. A
bulk step that encodes its next chunk while Redis runs the previous one needs the two
halves apart; on one connection Redis runs commands in the order they were sent, so
chunks keep their order too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

_pack: Callable[[tuple[Any, ...]], bytes] | None
try:
    from hiredis import pack_command as _pack
except ImportError:  # pragma: no cover - the redis extra installs hiredis
    _pack = None


class ScriptConveyor:
    """Send scripts with :meth:`send`, collect their replies with :meth:`replies`.

    A reply that is an error of the script is returned as the exception, not raised, so
    that the caller still reads the replies behind it; a connection error is raised and
    leaves the connection closed.
    """

    def __init__(self, client: Redis, scripts: Mapping[str, AsyncScript]) -> None:
        self._client = client
        self._scripts = scripts
        self._conn: AbstractConnection | None = None
        self._sent: deque[tuple[str, Sequence[Any]]] = deque()

    async def __aenter__(self) -> ScriptConveyor:
        self._conn = await self._client.connection_pool.get_connection()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._sent or exc is not None:
            # Replies still on their way would be read by the connection's next user.
            await conn.disconnect()
        await self._client.connection_pool.release(conn)

    @property
    def _connection(self) -> AbstractConnection:
        if self._conn is None:
            raise RuntimeError("use the conveyor in 'async with'")
        return self._conn

    @property
    def in_flight(self) -> int:
        """Calls sent whose replies are not read yet."""
        return len(self._sent)

    async def load(self, *names: str) -> None:
        """Make sure Redis knows these scripts, so that a call sent behind another one
        cannot come back NOSCRIPT after later calls already ran."""
        for name in names:
            script = self._scripts[name]
            script.sha = await self._client.script_load(script.script)

    async def send(self, name: str, args: Sequence[Any]) -> None:
        """Send one script call; it is on the wire when this returns."""
        command = ("EVALSHA", self._scripts[name].sha, 0, *args)
        # redis-py's health check sends a PING and reads its reply: with replies of ours
        # still to come it would read one of them instead.
        check = not self._sent
        if _pack is not None:
            # hiredis packs in C, ten times faster than redis-py's asyncio connection,
            # which matters for bulk calls of thousands of arguments.
            await self._connection.send_packed_command(_pack(command), check_health=check)
        else:
            await self._connection.send_command(*command, check_health=check)
        self._sent.append((name, args))

    async def reply(self) -> Any:
        """The reply of the oldest call not read yet (a script error as the exception)."""
        self._sent.popleft()
        return await self._read()

    async def replies(self) -> list[Any]:
        """The replies of every call not read yet, in the order sent.

        A script Redis no longer knows (it restarted or was flushed) did not run: it is
        loaded and its call sent again, once. Use :meth:`load` first where calls must
        run in the order sent.
        """
        calls = list(self._sent)
        self._sent.clear()
        out = [await self._read() for _ in calls]
        missing = [i for i, reply in enumerate(out) if isinstance(reply, NoScriptError)]
        if missing:
            await self.load(*{calls[i][0] for i in missing})
            for i in missing:
                await self.send(*calls[i])
            self._sent.clear()
            for i in missing:
                out[i] = await self._read()
        return out

    async def _read(self) -> Any:
        try:
            return await self._connection.read_response()
        except ResponseError as exc:
            return exc
