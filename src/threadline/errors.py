"""Every error threadline raises on purpose.

::

    ThreadlineError                      (http 500, exit 1)
     ├── UsageError                      (http 400, exit 2)  bad arguments or settings
     │    ├── InvalidIdentifier          (http 400, exit 2)  a node id that does not parse
     │    │    └── AmbiguousIdentifier   (http 400, exit 2)  an id or prefix naming several things
     │    └── InvalidEvent               (http 400, exit 2)  an event that breaks the model or schema
     ├── NotFound                        (http 404, exit 3)  unknown id, path or run
     ├── StoreError                      (http 503, exit 4)  the store cannot be used
     │    ├── StoreUnavailable           (http 503, exit 4)  cannot open or reach the store
     │    └── SchemaTooNew               (http 409, exit 4)  written by a newer threadline
     ├── IntegrityError                  (http 409, exit 5)  the log fails verification
     ├── CaptureError                    (http 500, exit 6)  capture itself failed
     │    └── Backpressure               (http 503, exit 6)  emitter queue full in non-blocking use
     ├── MissingDependency               (http 501, exit 1)  an optional extra is not installed
     └── PayloadTooLarge                 (http 413, exit 2)  a request body over the limit

Policy: each class says in its message what went wrong *and* what to do. Errors never carry
user data beyond what names the problem (a path, an id, a JSON path).  The CLI maps
``exit_code``; the server maps ``http_status`` to one canonical JSON body (``to_dict``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from typing import Any, ClassVar


class ThreadlineError(Exception):
    """Root of every error threadline raises on purpose."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    code: ClassVar[str] = "threadline_error"

    def __init__(self, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body


class UsageError(ThreadlineError):
    """Bad arguments or settings."""

    http_status = 400
    exit_code = 2
    code = "usage"


class InvalidIdentifier(UsageError):
    """A node identifier that does not parse."""

    code = "invalid_identifier"


class AmbiguousIdentifier(InvalidIdentifier):
    """An id or version prefix that names several things; ``detail["candidates"]`` lists them."""

    code = "ambiguous_identifier"


class InvalidEvent(UsageError):
    """An event that breaks the lineage model or the OpenLineage schema."""

    code = "invalid_event"


class PayloadTooLarge(UsageError):
    """A request body over the configured limit."""

    http_status = 413
    code = "payload_too_large"


class NotFound(ThreadlineError):
    """Unknown identifier, path or run."""

    http_status = 404
    exit_code = 3
    code = "not_found"


class StoreError(ThreadlineError):
    """The store cannot be used."""

    http_status = 503
    exit_code = 4
    code = "store"


class StoreUnavailable(StoreError):
    """The store cannot be opened or reached."""

    code = "store_unavailable"


class SchemaTooNew(StoreError):
    """The store was written by a newer threadline; upgrade threadline to read it."""

    http_status = 409
    code = "schema_too_new"


class IntegrityError(ThreadlineError):
    """The log fails verification: a record was edited, deleted or reordered."""

    http_status = 409
    exit_code = 5
    code = "integrity"


class CaptureError(ThreadlineError):
    """Capture itself failed (never raised into user code by hooks)."""

    exit_code = 6
    code = "capture"


class Backpressure(CaptureError):
    """The emitter queue is full and the caller asked not to wait."""

    http_status = 503
    code = "backpressure"


#: The extra that installs each optional library threadline imports (by top-level module name).
EXTRA_OF_MODULE: dict[str, str] = {
    "anyio": "server",
    "fastapi": "server",
    "jsonschema": "server",
    "jsonschema_rs": "server",
    "jwt": "server",
    "prov": "server",
    "pydantic": "server",
    "rdflib": "server",
    "referencing": "server",
    "starlette": "server",
    "swagger_ui_bundle": "server",
    "uvicorn": "server",
    "psycopg": "postgres",
    "nats": "nats",
    "numpy": "pandas",
    "pandas": "pandas",
    "pyarrow": "pandas",
    "polars": "polars",
    "joblib": "sklearn",
    "sklearn": "sklearn",
    "mlflow": "mlflow",
}


class MissingDependency(ThreadlineError):
    """An optional library is not installed; the message names the extra that installs it."""

    http_status = 501
    code = "missing_dependency"

    @classmethod
    def from_import(cls, exc: ModuleNotFoundError) -> MissingDependency | None:
        """The error for a failed import of a third-party module (``None`` for threadline's
        own modules: a missing one is a bug, not an installation to complete)."""
        module = (exc.name or "").split(".")[0]
        if not module or module == "threadline":
            return None
        extra = EXTRA_OF_MODULE.get(module)
        remedy = f"pip install 'threadline[{extra}]'" if extra else f"pip install {module}"
        return cls(f"this needs {module}, which is not installed: {remedy}")


__all__ = [
    "AmbiguousIdentifier",
    "Backpressure",
    "CaptureError",
    "IntegrityError",
    "InvalidEvent",
    "InvalidIdentifier",
    "MissingDependency",
    "NotFound",
    "PayloadTooLarge",
    "SchemaTooNew",
    "StoreError",
    "StoreUnavailable",
    "ThreadlineError",
    "UsageError",
]
