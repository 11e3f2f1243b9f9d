"""The Responses door's ``TurnState`` over the worker's database and the router's secret."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from burncloud.config import Settings
from burncloud.crypto import SecretBox
from burncloud.db.base import Database
from burncloud.gateway.relay.auth import Caller
from burncloud.services import response_store
from burncloud.services.clock import now

JSON = dict[str, Any]
# What a converted channel's reasoning is sealed for: a sealed token opens for nothing else.
REASONING = b"burncloud.responses.reasoning.v1"


class Worker(Protocol):
    """What the turns need of the worker (``Runtime`` is one), read once it has started."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def secret_box(self) -> SecretBox: ...


class StoredTurns:
    """Turns kept in the ``responses`` table, reasoning sealed with the router's secret."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def seal(self, data: bytes) -> str:
        return self._worker.secret_box.seal(data, REASONING)

    def unseal(self, token: str) -> bytes | None:
        return self._worker.secret_box.unseal(token, REASONING)

    async def find(self, response_id: str, caller: Caller) -> response_store.StoredResponse | None:
        return await response_store.find(self._worker.db, response_id, caller.user.id)

    async def remember(self, response_id: str, caller: Caller, channel_id: int) -> None:
        await response_store.remember_passthrough(
            self._worker.db,
            response_id,
            caller.user.id,
            caller.token.id,
            channel_id,
            now(),
            self._worker.settings.response_retention_days,
        )

    async def save(
        self, response: JSON, items: Sequence[JSON], caller: Caller, channel_id: int
    ) -> None:
        await response_store.save_converted(
            self._worker.db,
            str(response["id"]),
            caller.user.id,
            caller.token.id,
            channel_id,
            items,
            response,
            now(),
            self._worker.settings.response_retention_days,
        )
