"""The explicit capture API: ``run``, ``step`` and ``deploy``.

::

    with threadline.run("train", stage="training", params={"C": 1.0}) as r:
        df = pd.read_parquet("features.parquet")
        r.read("features.parquet")
        model = LogisticRegression(C=1.0).fit(X, y)
        joblib.dump(model, "model.joblib")
        r.wrote("model.joblib", kind="model")

A run emits START when it begins and COMPLETE (or FAIL, with the error) when it ends.  The
COMPLETE event carries a deterministic execution id derived from the job, the code identity,
the parameters and the input and output versions, so running the same step again on the same
data adds no versions or edges — only another occurrence of the same execution.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, overload

import blake3

from threadline.capture import emitter, environment
from threadline.capture.boundary import capture_boundary, report
from threadline.capture.context import current_run
from threadline.capture.emitter import Emitter, get_emitter
from threadline.capture.failure import error_of
from threadline.capture.introspection import frame_schema
from threadline.capture.model_files import FORMATS, model_format
from threadline.capture.parameters import explicit_keys
from threadline.capture.project import Project, identify
from threadline.config import current as current_settings
from threadline.errors import InvalidIdentifier, NotFound, UsageError
from threadline.model import facets as f
from threadline.model.canonical import canonical_json
from threadline.model.ids import (
    ARTIFACT_KINDS,
    NODE_KINDS,
    NodeId,
    content_version,
    execution_version,
    file_dataset,
)
from threadline.model.producer import PRODUCER, SCHEMA_URL
from threadline.model.times import now_iso
from threadline.model.uuid7 import uuid7_text

P = ParamSpec("P")
R = TypeVar("R")

Ref = NodeId | str | os.PathLike[str] | object


def memory_namespace(namespace: str) -> str:
    """Namespace of datasets that live in memory rather than in a file or table."""
    return f"threadline://{namespace}"


def _looks_like_id(text: str) -> bool:
    kind, sep, rest = text.partition(":")
    return bool(sep) and kind in NODE_KINDS and "/" in rest


def _is_model(obj: object) -> bool:
    return callable(getattr(obj, "fit", None)) and (
        callable(getattr(obj, "predict", None)) or callable(getattr(obj, "transform", None))
    )


def _with_facets(body: dict[str, Any], facets: dict[str, Any]) -> dict[str, Any]:
    """``body`` with its ``facets`` when there are any (an empty object is left out)."""
    if facets:
        body["facets"] = facets
    return body


#: The threads building a START (``RunRecorder.start_in_background``): :func:`flush` waits.
_starting: set[threading.Thread] = set()
_starting_lock = threading.Lock()


class RunRecorder:
    """Records what one run read and wrote; use through :func:`run`."""

    def __init__(
        self,
        job: str,
        *,
        stage: str | None = None,
        namespace: str | None = None,
        reason: str | None = None,
        params: Mapping[str, Any] | None = None,
        owners: list[str] | None = None,
        strict: bool | None = None,
        emitter: Emitter | None = None,
        project: Project | None = None,
        process: environment.ProcessFacts | None = None,
    ) -> None:
        if not job or not isinstance(job, str):
            raise UsageError("a run needs a job name (a non-empty string)")
        # Resolving the settings reads the whole environment (~0.1 ms): a captured operation
        # gives what its session resolved already.
        settings = current_settings() if project is None or strict is None else None
        #: The process the run is of, when it is not this one (a script run built from the
        #: process's report, :mod:`threadline.capture.script_run`).
        self.process = process
        self.script = environment.entry_script(process)
        found = project or identify(settings or current_settings(), self.script)
        #: The project this run belongs to; its namespace names the job and in-memory data.
        self.project = found.named(namespace) if namespace else found
        self.namespace = self.project.namespace
        self.job = job
        self.stage = stage
        if stage is not None:
            f.stage(stage)  # validates early, with the list of stages in the message
        self.reason = reason
        self.params: dict[str, Any] = dict(params or {})
        #: Which of ``params`` were set explicitly, when they are every effective parameter.
        self.explicit = explicit_keys(params or {})
        self.owners = owners
        self.strict = strict if strict is not None else (settings or current_settings()).strict
        self.run_id = uuid7_text()
        #: The ``inputs`` and ``outputs`` of the run's events, by node.
        self.inputs: dict[NodeId, dict[str, Any]] = {}
        self.outputs: dict[NodeId, dict[str, Any]] = {}
        self.metrics: dict[str, float] = {}
        self._emitter = emitter
        self._parent: RunRecorder | None = None
        self._token: Any = None
        self._started = ""
        self._start_thread: threading.Thread | None = None

    # --- recording --------------------------------------------------------------------------

    def read(
        self,
        ref: Ref,
        *,
        kind: str | None = None,
        name: str | None = None,
        facets: Mapping[str, Any] | None = None,
    ) -> NodeId:
        """Record an input: a path, a printable id, a frame/array/model, or a ``NodeId``."""
        node, dataset = self._describe(ref, kind, name, facets, role="input")
        self.inputs[node] = dataset
        return node

    def wrote(
        self,
        ref: Ref,
        *,
        kind: str | None = None,
        name: str | None = None,
        facets: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> NodeId:
        """Record an output; ``metrics`` become its ``threadline_quality`` facet."""
        extra = dict(facets or {})
        if metrics:
            extra["threadline_quality"] = f.quality({k: float(v) for k, v in metrics.items()})
        node, dataset = self._describe(ref, kind, name, extra, role="output")
        self.outputs[node] = dataset
        return node

    def param(self, **values: Any) -> None:
        self.params.update(values)

    def _describe(
        self,
        ref: Ref,
        kind: str | None,
        name: str | None,
        facets: Mapping[str, Any] | None,
        *,
        role: str,
    ) -> tuple[NodeId, dict[str, Any]]:
        if kind is not None and kind not in ARTIFACT_KINDS:
            raise UsageError(
                f"unknown artifact kind {kind!r}; expected one of {', '.join(ARTIFACT_KINDS)}"
            )
        extra: dict[str, Any] = dict(facets or {})
        if isinstance(ref, NodeId):
            node = ref if kind is None else NodeId(kind, ref.namespace, ref.name, ref.version)
        elif isinstance(ref, str) and _looks_like_id(ref):
            parsed = NodeId.parse(ref)
            node = NodeId(kind or parsed.kind, parsed.namespace, parsed.name, parsed.version)
        elif isinstance(ref, (str, os.PathLike)):
            # the fingerprint modules load with the first record, not at capture's start
            from threadline.fingerprint import fingerprint_path

            path = Path(os.fspath(ref))
            if not path.exists():
                raise NotFound(f"cannot record {role} {str(path)!r}: no such file or directory")
            node = file_dataset(path, kind or "dataset").with_version(fingerprint_path(path))
            if name is not None:
                raise UsageError("name= is only for in-memory objects; a file is named by its path")
        else:
            # the fingerprint modules load with the first record, not at capture's start
            from threadline.fingerprint import fingerprint_object

            version = fingerprint_object(ref)
            if version is None:
                raise UsageError(
                    f"cannot fingerprint an object of type {type(ref).__module__}.{type(ref).__qualname__}; "
                    "pass a path, a frame, an array or a fitted model"
                )
            inferred = kind or ("model" if _is_model(ref) else "dataset")
            label = (
                name or f"{self.job}/{role}{len(self.inputs if role == 'input' else self.outputs)}"
            )
            node = NodeId(inferred, memory_namespace(self.namespace), label, version)
            schema = frame_schema(ref)
            if schema:
                extra.setdefault("schema", f.schema(schema))
        dataset_facets: dict[str, Any] = {"threadline_artifact": f.artifact(node.kind)}
        if node.version:
            dataset_facets["version"] = f.version(node.version)
        dataset_facets.update(extra)
        return node, _with_facets({"namespace": node.namespace, "name": node.name}, dataset_facets)

    # --- events -------------------------------------------------------------------------------

    def _run_facets(self) -> dict[str, Any]:
        process = self.process
        facets: dict[str, Any] = {
            "processing_engine": f.processing_engine(process.python if process else None),
            "threadline_context": f.context(
                {**environment.context(self.script, process), "project": self.project.to_dict()}
            ),
        }
        if self.params:
            facets["threadline_parameters"] = f.parameters(_jsonable(self.params), self.explicit)
        if self.reason:
            facets["threadline_reason"] = f.reason(self.reason)
        if self._parent is not None:
            facets["parent"] = f.parent(
                self._parent.run_id, self._parent.namespace, self._parent.job
            )
        return facets

    def _job(self) -> dict[str, Any]:
        facets: dict[str, Any] = {}
        if self.stage:
            facets["threadline_stage"] = f.stage(self.stage)
        if self.owners:
            facets["ownership"] = f.ownership(self.owners, job=True)
        git = environment.git_state(environment.code_folder(self.script, self._cwd()))
        if git.commit:
            relative = None
            if self.script and git.root:
                relative = os.path.relpath(self.script, git.root)
            facets["sourceCodeLocation"] = f.source_code_location(
                git.remote, relative, git.commit, git.branch
            )
        return _with_facets({"namespace": self.namespace, "name": self.job}, facets)

    def execution_id(self) -> tuple[str, dict[str, Any]]:
        parts = {
            "job": f"{self.namespace}/{self.job}",
            "code": environment.code_identity(self.script, self._cwd()),
            "parameters": _jsonable(self.params),
            "inputs": sorted(str(node) for node in self.inputs),
            "outputs": sorted(str(node) for node in self.outputs),
        }
        return execution_version(parts), parts

    def _cwd(self) -> str | None:
        return self.process.cwd if self.process is not None else None

    def _event(
        self,
        event_type: str,
        run_facets: dict[str, Any],
        *,
        data: bool,
        time: str | None = None,
    ) -> dict[str, Any]:
        # Built as the JSON object it becomes (as msgspec's omit_defaults structs of
        # model.events would give it): a captured process need not load msgspec.
        event: dict[str, Any] = {
            "eventTime": time or now_iso(),
            "run": _with_facets({"runId": self.run_id}, run_facets),
            "job": self._job(),
            "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
            "eventType": event_type,
        }
        if data and self.inputs:
            event["inputs"] = list(self.inputs.values())
        if data and self.outputs:
            event["outputs"] = list(self.outputs.values())
        return event

    def _emit(self, event: dict[str, Any]) -> None:
        emitter = self._emitter or get_emitter()
        emitter.emit(event, strict=self.strict)

    # --- context manager ----------------------------------------------------------------------

    def start_event(self, time: str | None = None) -> dict[str, Any]:
        """The run's START (at ``time``, by default now)."""
        self._started = time or now_iso()
        return self._event("START", self._run_facets(), data=False, time=self._started)

    def end_event(
        self,
        error: tuple[str, str] | None,
        time: str | None = None,
    ) -> dict[str, Any]:
        """The run's COMPLETE, or its FAIL when ``error`` (message, stack trace) is given."""
        facets = self._run_facets()
        if error is None:
            execution, parts = self.execution_id()
            facets["threadline_execution"] = f.execution(execution, parts)
            return self._event("COMPLETE", facets, data=True, time=time)
        message, stack = error
        facets["errorMessage"] = {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
            "message": message,
            "programmingLanguage": "python",
            "stackTrace": stack[-8000:],
        }
        return self._event("FAIL", facets, data=True, time=time)

    # --- context manager ----------------------------------------------------------------------

    #: Build and emit START on a thread, and let the end wait for it: set for the script run,
    #: whose context facet asks git about the repository (tens of milliseconds there) while
    #: the script goes on.
    start_in_background = False

    def __enter__(self) -> RunRecorder:
        self._parent = current_run.get()
        self._token = current_run.set(self)
        self._started = self._started or now_iso()
        if self.start_in_background:
            self._start_thread = threading.Thread(
                target=self._emit_start, daemon=True, name="threadline-start"
            )
            with _starting_lock:
                _starting.add(self._start_thread)
            self._start_thread.start()
        else:
            self._emit_start()
        return self

    def _emit_start(self) -> None:
        try:
            with capture_boundary("run.start"):
                self._emit(self.start_event(self._started))
        finally:
            with _starting_lock:
                _starting.discard(threading.current_thread())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        current_run.reset(self._token)
        if self._start_thread is not None:
            self._start_thread.join()  # START first, as a run's events are read
        with capture_boundary("run.complete"):
            self._emit(self.end_event(None if exc is None else error_of(exc_type, exc, tb)))


def run(
    job: str,
    *,
    stage: str | None = None,
    namespace: str | None = None,
    reason: str | None = None,
    params: Mapping[str, Any] | None = None,
    owners: list[str] | None = None,
    strict: bool | None = None,
) -> RunRecorder:
    """Record one run of ``job``; use as a context manager (see the module docstring)."""
    return RunRecorder(
        job,
        stage=stage,
        namespace=namespace,
        reason=reason,
        params=params,
        owners=owners,
        strict=strict,
    )


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or isinstance(value, (bool, int, float, str)):
            out[str(key)] = value
        elif isinstance(value, (list, tuple)) and all(
            v is None or isinstance(v, (bool, int, float, str)) for v in value
        ):
            out[str(key)] = list(value)
        elif isinstance(value, Mapping):
            out[str(key)] = _jsonable(value)
        else:
            out[str(key)] = repr(value)[:200]
    return out


# --- @step ---------------------------------------------------------------------------------

_SCALARS = (bool, int, float, str, type(None))


def _record_value(recorder: RunRecorder, value: Any, name: str, *, output: bool) -> bool:
    """Record ``value`` as data if it is data; True when it was."""
    # the fingerprint modules load with the first record, not at capture's start
    from threadline.fingerprint import fingerprint_object

    if isinstance(value, NodeId):
        (recorder.wrote if output else recorder.read)(value)
        return True
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str) and _looks_like_id(text):
            try:
                (recorder.wrote if output else recorder.read)(text)
                return True
            except InvalidIdentifier:
                return False
        if isinstance(text, str) and text and len(text) < 4096 and os.path.exists(text):
            (recorder.wrote if output else recorder.read)(text)
            return True
        return False
    if isinstance(value, _SCALARS):
        return False
    if fingerprint_object(value) is None:
        return False
    (recorder.wrote if output else recorder.read)(value, name=f"{recorder.job}/{name}")
    return True


@overload
def step(fn: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def step(
    *, name: str | None = None, stage: str | None = None, reason: str | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    stage: str | None = None,
    reason: str | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Record each call of a function as a run, inferring inputs and outputs.

    Arguments that are existing paths, frames, arrays or fitted models are inputs; scalar
    arguments are parameters; the return value (or each item of a returned tuple) is an output.
    A step called inside another run becomes its child run (OpenLineage ``parent`` facet).
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        job_name = name or f"{func.__module__}.{func.__qualname__}".removeprefix("__main__.")
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            recorder = RunRecorder(job_name, stage=stage, reason=reason)
            with recorder:
                with capture_boundary("step.inputs"):
                    bound = signature.bind_partial(*args, **kwargs)
                    for pname, value in bound.arguments.items():
                        if not _record_value(recorder, value, pname, output=False) and isinstance(
                            value, _SCALARS
                        ):
                            recorder.params[pname] = value
                result = func(*args, **kwargs)
                with capture_boundary("step.outputs"):
                    items = result if isinstance(result, tuple) else (result,)
                    for index, item in enumerate(items):
                        _record_value(
                            recorder,
                            item,
                            "return" if len(items) == 1 else f"return{index}",
                            output=True,
                        )
                return result

        return wrapper

    return decorate(fn) if fn is not None else decorate


# --- deployments ---------------------------------------------------------------------------


def deploy(
    model: Ref,
    *,
    endpoint: str,
    environment: str = "production",
    reason: str | None = None,
    namespace: str | None = None,
) -> NodeId:
    """Record that ``model`` now serves at ``endpoint`` in ``environment``.

    Returns the deployment's id; scoring runs that ``read()`` it link their predictions to the
    deployment and, through it, to the model.  Deploying the same model to the same endpoint
    again is the same deployment version.
    """
    if not endpoint:
        raise UsageError("deploy needs an endpoint name")
    _check_deployable(model)
    with run(
        f"deploy/{environment}/{endpoint}", stage="deployment", reason=reason, namespace=namespace
    ) as recorder:
        model_node = recorder.read(model, kind="model")
        identity = {"model": str(model_node), "endpoint": endpoint, "environment": environment}
        version = content_version(blake3.blake3(canonical_json(identity)).hexdigest())
        deployment = NodeId(
            "deployment",
            memory_namespace(recorder.namespace),
            f"deployments/{environment}/{endpoint}",
            version,
        )
        recorder.wrote(
            deployment,
            facets={"threadline_deployment": f.deployment(endpoint, environment, now_iso(), None)},
        )
    return deployment


def _check_deployable(model: Ref) -> None:
    """Refuse what is not a model: an id of another kind, a file in no model format, an
    object that cannot predict (a deployment would relabel it as a model)."""
    if isinstance(model, NodeId) or (isinstance(model, str) and _looks_like_id(model)):
        node = model if isinstance(model, NodeId) else NodeId.parse(model)
        if node.kind != "model":
            raise UsageError(
                f"{model} is not a model (its kind is {node.kind}): deploy takes a model version"
            )
    elif isinstance(model, (str, os.PathLike)):
        path = Path(os.fspath(model))
        if path.exists() and model_format(path) is None:
            raise UsageError(
                f"{path} is not a saved model ({', '.join(FORMATS)}) nor a recorded model "
                "version: deploy a model file, or a recorded model by its id (model:…)"
            )
    elif not _is_model(model):
        raise UsageError(
            f"cannot deploy an object of type {type(model).__qualname__}: it is not a model"
        )


def current() -> RunRecorder | None:
    """The run recording in this context, if any."""
    return current_run.get()


def flush(timeout: float | None = 30.0, *, durable: bool = False) -> bool:
    """``threadline.flush()``: block until every event recorded so far is written (and
    fsynced if ``durable``); True at once when nothing was recorded."""
    with _starting_lock:
        starting = list(_starting)
    for thread in starting:  # a START being built on its thread counts as recorded
        thread.join(timeout)
    current_emitter = emitter.current_emitter()
    return True if current_emitter is None else current_emitter.flush(timeout, durable=durable)


__all__ = [
    "RunRecorder",
    "current",
    "deploy",
    "flush",
    "memory_namespace",
    "report",
    "run",
    "step",
]
