"""MLflow: logged and registered model versions, loads, dataset inputs, and the run link.

* ``mlflow.start_run`` — every captured operation (and the script run) names the MLflow run
  id in its ``threadline_capture`` facet (``mlflowRunId``).
* ``mlflow.<flavor>.log_model`` — a ``registration`` run from the in-memory model to the logged
  model ``model:mlflow://HOST/<tracking path>/runs/<run id>/<name>`` (version: the model's
  content fingerprint); with ``registered_model_name`` also to the registered version.
* ``mlflow.register_model`` — the registered version ``…/models/<name>@mlflow:<version>``,
  downstream of the logged model it came from.
* ``mlflow.<flavor>.load_model`` — the loaded model is that logged or registered version, so
  predictions with it are ``scoring`` and trace back to it.
* ``mlflow.log_input`` — the dataset's source is recorded as a read.

Supported: MLflow 2.0 and newer.
"""

from __future__ import annotations

import os
import sys
import urllib.parse
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from threadline.capture.hooks import HookSpec
from threadline.capture.hooks._common import arg, version_tuple
from threadline.capture.hooks._patch import Patcher
from threadline.capture.tracking import Artifact
from threadline.model.ids import NodeId, local_host
from threadline.model.producer import PRODUCER

if TYPE_CHECKING:
    from threadline.capture.recorder import Capture

FLAVORS: Final = (
    "sklearn",
    "pyfunc",
    "xgboost",
    "lightgbm",
    "catboost",
    "statsmodels",
    "pytorch",
    "tensorflow",
    "keras",
    "transformers",
)

#: Logged models of this process, by model URI (``runs:/…`` and ``models:/m-…``).
_logged: dict[str, Artifact] = {}


def _supported() -> bool:
    import mlflow

    return version_tuple(getattr(mlflow, "__version__", "0")) >= (2, 0)


def tracking_location() -> tuple[str, str]:
    """(namespace, name prefix) of the tracking server or local store MLflow uses now."""
    import mlflow

    uri = mlflow.get_tracking_uri()
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme in ("http", "https", "databricks") and parsed.netloc:
        return f"mlflow://{parsed.netloc}", ""
    if parsed.scheme == "sqlite" and uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///") :]  # absolute when it starts with "/", else relative
    else:
        path = parsed.path or uri
    return f"mlflow://{local_host()}", os.path.abspath(path).strip("/") + "/"


def registered_node(name: str, version: object) -> NodeId:
    namespace, prefix = tracking_location()
    return NodeId("model", namespace, f"{prefix}models/{name}", f"mlflow:{version}")


def logged_node(run_id: str, name: str, version: str | None) -> NodeId:
    namespace, prefix = tracking_location()
    return NodeId("model", namespace, f"{prefix}runs/{run_id}/{name}", version)


def _install(capture: Capture, patcher: Patcher, mlflow: ModuleType) -> bool:
    if not _supported():
        return False

    def started(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        run_id = getattr(getattr(result, "info", None), "run_id", None)
        if isinstance(run_id, str):
            capture.context["mlflowRunId"] = run_id
            capture.links.setdefault("mlflowRunIds", [])
            if run_id not in capture.links["mlflowRunIds"]:
                capture.links["mlflowRunIds"].append(run_id)

    def registered(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        uri = str(arg(args, kwargs, 0, "model_uri"))
        name, version = getattr(result, "name", None), getattr(result, "version", None)
        if name is None or version is None:
            return
        source = _logged.get(uri)
        capture.registered(
            None,
            registered_node(str(name), version),
            hook="mlflow.register_model",
            sources={source} if source is not None else set(),
            facets={"threadline_mlflow": _facet(uri=uri, name=str(name), version=str(version))},
        )

    def logged_input(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        dataset = arg(args, kwargs, 0, "dataset")
        source = getattr(dataset, "source", None)
        uri = getattr(source, "uri", None) or getattr(source, "path", None)
        if isinstance(uri, str):
            capture.read(None, uri, hook="mlflow.log_input")

    def ended(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        capture.context.pop("mlflowRunId", None)

    patcher.function(mlflow, "start_run", "mlflow.start_run", started)
    fluent = sys.modules.get("mlflow.tracking.fluent")
    for owner in (mlflow, fluent):
        if owner is not None:
            # ``with mlflow.start_run():`` ends through the fluent module's own global.
            patcher.function(owner, "end_run", "mlflow.end_run", ended)
    patcher.function(mlflow, "register_model", "mlflow.register_model", registered)
    patcher.function(mlflow, "log_input", "mlflow.log_input", logged_input)
    return True


def _facet(**fields: str) -> dict[str, Any]:
    return {
        "_producer": PRODUCER,
        "_schemaURL": "https://threadline.dev/spec/facets/1-0-0/MlflowDatasetFacet.json",
        **fields,
    }


def _install_flavor(capture: Capture, patcher: Patcher, flavor: ModuleType) -> bool:
    if not _supported():
        return False
    short = flavor.__name__.rpartition(".")[2]

    def logged(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        from threadline.fingerprint import fingerprint_object

        model = arg(
            args,
            kwargs,
            0,
            "sk_model",
            "model",
            "python_model",
            "pytorch_model",
            "xgb_model",
            "lgb_model",
        )
        run_id = getattr(result, "run_id", None)
        name = kwargs.get("name") or kwargs.get("artifact_path") or arg(args, kwargs, 1, "name")
        uri = getattr(result, "model_uri", None)
        if not isinstance(run_id, str) or not isinstance(name, str):
            return
        version = fingerprint_object(model) if model is not None else None
        node = logged_node(run_id, name, version)
        facet = _facet(uri=str(uri), runId=run_id, flavor=short)
        artifact = capture.registered(
            model, node, hook=f"mlflow.{short}.log_model", facets={"threadline_mlflow": facet}
        )
        for key in {str(uri), f"runs:/{run_id}/{name}"}:
            _logged[key] = artifact
        model_id = getattr(result, "model_id", None)
        if model_id:
            _logged[f"models:/{model_id}"] = artifact
        registered_version = getattr(result, "registered_model_version", None)
        registered_name = kwargs.get("registered_model_name")
        if registered_name and registered_version is not None:
            capture.registered(
                None,
                registered_node(str(registered_name), registered_version),
                hook=f"mlflow.{short}.log_model",
                sources={artifact},
                facets={
                    "threadline_mlflow": _facet(
                        uri=str(uri), name=str(registered_name), version=str(registered_version)
                    )
                },
            )

    def loaded(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        uri = str(arg(args, kwargs, 0, "model_uri"))
        node = _node_of_uri(uri)
        if node is None:
            return
        known = _logged.get(uri)
        artifact = Artifact(
            node=known.node if known is not None and node.version is None else node,
            origin="loaded",
            label=node.name.rpartition("/")[2],
            owners=capture.labels.owners,
        )
        capture.seen.setdefault(artifact.node, artifact)
        capture.flow.track(result, {artifact}, exact=artifact)
        if capture.root is not None and artifact.node not in capture.root.inputs:
            capture.root.read(artifact.node)

    if hasattr(flavor, "log_model"):
        patcher.function(flavor, "log_model", f"mlflow.{short}.log_model", logged)
    if hasattr(flavor, "load_model"):
        patcher.function(flavor, "load_model", f"mlflow.{short}.load_model", loaded)
    return True


def _node_of_uri(uri: str) -> NodeId | None:
    if uri.startswith("models:/"):
        rest = uri[len("models:/") :].strip("/")
        name, _, version = rest.partition("/")
        if name.startswith("m-") and not version:
            known = _logged.get(uri)
            return known.node if known is not None else None
        if version.isdigit():
            return registered_node(name, version)
        if name:
            namespace, prefix = tracking_location()
            return NodeId("model", namespace, f"{prefix}models/{name}")
        return None
    if uri.startswith("runs:/"):
        rest = uri[len("runs:/") :].strip("/")
        run_id, _, name = rest.partition("/")
        known = _logged.get(uri)
        return known.node if known is not None else logged_node(run_id, name, None)
    return None


hook = HookSpec(
    name="mlflow",
    targets={
        "mlflow": _install,
        **{f"mlflow.{flavor}": _install_flavor for flavor in FLAVORS},
    },
    description="MLflow runs, logged/registered/loaded models and dataset inputs",
)
