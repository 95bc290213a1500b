"""Signed checkpoints on a schedule, and ``GET /api/v1/checkpoint`` publishing the latest.

With a ``checkpoint_key`` configured, the server takes a Merkle checkpoint of its log every
``checkpoint_every_seconds`` (and once at start), but only when the log grew since the last
one, and signs it as a C2SP signed note under the store's origin (the name ``threadline
checkpoint`` uses by default, so notes from either verify the same way).  Taking one verifies
the whole log first (:meth:`~threadline.store.admin.LogAdmin.checkpoint`): a log that fails is
not signed, the failure is logged, and the last good note stays published.

``GET /api/v1/checkpoint`` answers the latest note as ``text/plain``, as transparency logs
publish theirs: clients keep it outside the store and later run ``threadline verify
--checkpoint`` or ``threadline verify-proof`` against it.  Without a key, or before the first
checkpoint, it is a 404 saying which.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import PlainTextResponse

from threadline.config import Settings
from threadline.errors import NotFound, ThreadlineError
from threadline.integrity.checkpoint import Checkpoint, sign_checkpoint
from threadline.integrity.signing import SigningKey
from threadline.store import schema as s
from threadline.store.admin import default_origin
from threadline.store.base import IntegrityAdmin, Store

log = logging.getLogger("threadline.server.checkpoints")


class CheckpointSigner:
    """Takes and signs checkpoints of one store; holds the latest signed note."""

    def __init__(self, store: Store, key: SigningKey, origin: str) -> None:
        self.store = store
        self.key = key
        self.origin = origin
        self.latest: str | None = None

    def refresh(self) -> str | None:
        """Checkpoint the log if it grew since the last checkpoint, sign the newest, and
        return its note (blocking: run it in a thread)."""
        if not isinstance(self.store, IntegrityAdmin):
            return None
        stored = self.store.checkpoints()
        last = stored[-1] if stored else None
        size = self.store.read(
            lambda conn: conn.execute(sa.select(sa.func.count()).select_from(s.events)).scalar()
        )
        taken = (
            self.store.checkpoint() if int(size or 0) > (last.tree_size if last else 0) else last
        )
        if taken is not None:
            checkpoint = Checkpoint(
                self.origin, taken.tree_size, taken.root, taken.created_us // 1000
            )
            self.latest = sign_checkpoint(checkpoint, self.key).to_text()
        return self.latest

    async def refresh_logged(self) -> None:
        try:
            await anyio.to_thread.run_sync(self.refresh)
        except ThreadlineError as exc:
            log.error("threadline server: no checkpoint signed: %s", exc)
        except Exception:
            # The schedule outlives a failed attempt (a store briefly unreachable, say): an
            # exception escaping here would end the task group and the server with it.
            log.exception("threadline server: taking a checkpoint failed")

    async def run(self, every: float) -> None:
        """Refresh now, then every ``every`` seconds, until cancelled."""
        while True:
            await self.refresh_logged()
            await anyio.sleep(every)


def signer_for(settings: Settings, store: Store) -> CheckpointSigner | None:
    """The signer the settings ask for, or None without ``checkpoint_key``."""
    if settings.checkpoint_key is None:
        return None
    path = Path(settings.checkpoint_key)
    if not path.is_absolute() and settings.source_dir:
        # A relative key path in threadline.toml names a file beside that file.
        beside = Path(settings.source_dir) / path
        path = beside if beside.exists() else path
    return CheckpointSigner(store, SigningKey.load(path), default_origin(store.url))


@asynccontextmanager
async def _schedule(app: FastAPI) -> AsyncIterator[None]:
    runtime: Any = app.state.runtime
    signer = signer_for(runtime.settings, runtime.store)
    app.state.checkpoints = signer
    if signer is None:
        yield
        return
    every = float(runtime.settings.checkpoint_every_seconds)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(signer.run, every if math.isfinite(every) else 300.0)
        try:
            yield
        finally:
            tasks.cancel_scope.cancel()


router = APIRouter(tags=["Integrity"], lifespan=_schedule)


@router.get(
    "/api/v1/checkpoint",
    response_class=PlainTextResponse,
    summary="The latest signed checkpoint of the log (C2SP signed note)",
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        404: {
            "description": "No checkpoint: the server has no key, or has taken none yet",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ThreadlineError"}}
            },
        },
    },
)
async def latest_checkpoint(request: Request) -> PlainTextResponse:
    """The latest Merkle checkpoint of the log, signed with the server's key, as a C2SP
    signed note (``text/plain``).  Keep it outside the server: ``threadline verify
    --checkpoint`` proves against it that the log still holds everything it covers."""
    signer: CheckpointSigner | None = getattr(request.app.state, "checkpoints", None)
    if signer is None:
        raise NotFound(
            "this server signs no checkpoints: set checkpoint_key (threadline keygen makes "
            "one) to have it take and publish them"
        )
    if signer.latest is None:
        raise NotFound(
            "no signed checkpoint yet: the log is empty or the first one is still being taken"
        )
    return PlainTextResponse(signer.latest, media_type="text/plain; charset=utf-8")


__all__ = ["CheckpointSigner", "router", "signer_for"]
