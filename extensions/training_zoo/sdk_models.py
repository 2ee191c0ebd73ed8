"""``tz.models`` for notebooks: the model registry in a few short functions.

Exports
-------
list, get, create, register, register_model, versions, version, load, download, files, promote
(alias set_stage), history, lineage, convert, evaluate, runs, wait, compare, delete
    Each takes a model reference ``[owner/]name[:N]`` (no ``:N``: the latest version; or an id
    ``mdl-…``) and talks to the service through :func:`training_zoo.client.default_client`.
save_torchscript(module, folder, *, example_input=None, ...) -> Path
    Write an ``nn.Module`` as a TorchScript model folder with its ``tz-model.json``.
compare_table(comparison) -> (headers, rows)
    The rows of a comparison, flat (what the CLI, the magic and the DataFrame show).
cache_folder(model_id, version, cache_dir=None) -> Path
    Where :func:`load` keeps a version's files.
SDK_NAMES, forward
    The names above that ``training_zoo.models`` forwards here.

    >>> import training_zoo as tz                                           # doctest: +SKIP
    >>> tz.models.register("shapes-cnn", "exports/model", format="onnx")["ref"]
    'alice/shapes-cnn:1'
    >>> tz.models.register("tiny", net, example_input=torch.zeros(1, 3, 16, 16))  # doctest: +SKIP
    >>> run = tz.models.convert("shapes-cnn:1", to="int8", wait=True)      # doctest: +SKIP
    >>> model = tz.models.load("shapes-cnn:2")                              # doctest: +SKIP
    >>> tz.models.compare(["shapes-cnn:1", "shapes-cnn:2"], dataset="shapes:V001")  # doctest: +SKIP

Why a module of its own: ``training_zoo.models`` is the service's package (registry, conversion
worker, and the job-side ``open_input``/``save``), imported inside training jobs. Like
:mod:`training_zoo.sdk_datasets`, the facade lives here and the package forwards the names it does
not define to it through its module ``__getattr__`` (:func:`forward`), so nothing of the SDK
(httpx) is imported inside a job unless it is used. torch is imported only by
:func:`save_torchscript` and by :func:`register` given a module, the runtime only by :func:`load`.

Here ``list`` is a public name of the facade; the code below uses ``builtins.list`` for the type.
"""

from __future__ import annotations

import builtins
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .client import (
    DESCRIPTOR_NAME,
    ModelRef,
    TransferProgress,
    _cache_root,
    default_client,
    facade_forward,
    parse_model_ref,
)

__all__ = [
    "SDK_NAMES",
    "cache_folder",
    "compare",
    "compare_table",
    "convert",
    "create",
    "delete",
    "download",
    "evaluate",
    "files",
    "forward",
    "get",
    "history",
    "lineage",
    "list",
    "load",
    "promote",
    "register",
    "register_model",
    "runs",
    "save_torchscript",
    "set_stage",
    "version",
    "versions",
    "wait",
]

#: The artifact file :func:`save_torchscript` writes.
TORCHSCRIPT_ARTIFACT = "model.pt"


def list(  # noqa: A001 - the facade's public name, as in tz.models.list()
    q: str | None = None,
    *,
    task: str | None = None,
    stage: str | None = None,
    owner: str | None = None,
    visibility: str | None = None,
) -> builtins.list[dict[str, Any]]:
    """Models you may read, optionally filtered by text, task, stage, owner or visibility."""
    return default_client().list_models(
        q, task=task, stage=stage, owner=owner, visibility=visibility
    )


def get(ref: ModelRef) -> dict[str, Any]:
    """One model (``name``, ``owner/name`` or ``mdl-…``)."""
    return default_client().get_model(ref)


def create(
    name: str,
    *,
    description: str = "",
    task: str | None = None,
    visibility: str = "private",
    team: str | None = None,
) -> dict[str, Any]:
    """Create an empty model; see :meth:`Client.create_model` (:func:`register` creates one
    when needed)."""
    return default_client().create_model(
        name, description=description, task=task, visibility=visibility, team=team
    )


def register(
    name: str | None = None,
    files_or_object: Any = None,
    *,
    job: str | None = None,
    path: str = "model",
    format: str | None = None,
    example_input: Any = None,
    task: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
    team: str | None = None,
    version_name: str | None = None,
    progress: Callable[[TransferProgress], None] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Register a new version of a model (the model is created on its first version).

    From a notebook, ``files_or_object`` is one of:

    - a local file or folder (a folder with a ``tz-model.json`` is described by it, and gives
      the name when ``name`` is omitted); it is uploaded to your workspace first, resumably, and
      the staging copy is removed afterwards;
    - a workspace folder ``user:<name>/<path>`` / ``team:<group>/<path>``;
    - a ``torch.nn.Module``: saved as TorchScript (traced with ``example_input`` when given,
      else scripted) with a ``tz-model.json`` whose signature comes from ``example_input``.

    From a finished job, give ``job`` (and ``path``, the folder under the job's output, default
    ``model``) instead.

    Parameters
    ----------
    name : str, optional
        The model's name; required unless a ``tz-model.json`` (the folder's, or the job's) names
        it.
    files_or_object : str, os.PathLike or torch.nn.Module, optional
        What to register (see above).
    job : str, optional
        A finished job's id.
    path : str
        The folder under the job's output (with ``job``).
    format : str, optional
        ``pytorch-state-dict``, ``torchscript``, ``onnx``, ``tensorflow-savedmodel`` or
        ``custom``; needed for files without a ``tz-model.json`` (``.onnx`` files are
        recognised).
    example_input : torch.Tensor or tuple, optional
        For a module: traced with it, and the signature (batch dimension dynamic) taken from it.
    task, description, visibility, team, version_name : str, optional
        Model and version fields.
    progress : callable, optional
        Upload progress, as for :meth:`Client.ws_upload`.
    **fields
        Further version fields overriding the ``tz-model.json`` (``metrics``, ``parameters``,
        ``tags``, ``labels``, ``card``, ``artifact``, ``signature``, ``preprocess``...).

    Returns
    -------
    dict
        The new Version (``ref`` is ``owner/name:N``).

    Raises
    ------
    ValueError
        Both or neither of ``files_or_object`` and ``job``; no name anywhere for local files;
        files without a format.
    TypeError
        ``files_or_object`` is neither a path nor a ``torch.nn.Module``.
    FileNotFoundError
        A local path that does not exist.
    TzClientError
        The service refused (its message names the field, e.g. ``signature.inputs[0].dtype``).
    """
    if (job is None) == (files_or_object is None):
        raise ValueError(
            "pass what to register: files (a path) or a torch.nn.Module, or job= for a "
            "finished job's output (not both)"
        )
    options = {
        "format": format,
        "task": task,
        "description": description,
        "visibility": visibility,
        "team": team,
        "version": version_name,
        "progress": progress,
        **fields,
    }
    options = {k: v for k, v in options.items() if v is not None}
    client = default_client()
    if job is not None:
        return client.register_model(name, source={"job": job, "path": path}, **options)
    if isinstance(files_or_object, str | os.PathLike):
        # A local folder's tz-model.json may name the model; for a workspace or job source
        # the service reads it.
        local = Path(files_or_object).expanduser()
        return client.register_model(name or _descriptor_name(local), files_or_object, **options)
    if not _is_torch_module(files_or_object):
        raise TypeError(
            "files_or_object: expected a path (file or folder) or a torch.nn.Module, got "
            f"{type(files_or_object).__name__}"
        )
    if name is None:
        raise ValueError("name: give the model's name to register a module")
    if format not in (None, "torchscript"):
        raise ValueError(f"format: a module is saved as torchscript, not {format!r}")
    options.pop("format", None)
    descriptor = {k: options.pop(k) for k in ("task", "description") if k in options}
    with tempfile.TemporaryDirectory(prefix="tz-model-") as tmp:
        folder = save_torchscript(
            files_or_object, Path(tmp) / name, example_input=example_input, name=name,
            **descriptor,
        )  # fmt: skip
        return client.register_model(name, folder, **options, **descriptor)


def _descriptor_name(local: Path) -> str | None:
    """The ``name`` of a local folder's ``tz-model.json``, if it has one."""
    descriptor = local / DESCRIPTOR_NAME
    if not descriptor.is_file():
        return None
    try:
        name = json.loads(descriptor.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return None  # the service reports what is wrong with the file
    return name if isinstance(name, str) else None


def _is_torch_module(obj: Any) -> bool:
    # torch is only imported when the object could be one of its modules: a path or a dict
    # never pays for the import.
    if "torch" not in sys.modules and not type(obj).__module__.startswith("torch"):
        return False
    import torch

    return isinstance(obj, torch.nn.Module)


def register_model(
    name: str | None, uri: str | os.PathLike[str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Kubeflow Model Registry's ``register_model``; see :meth:`Client.register_model`."""
    return default_client().register_model(name, uri, **kwargs)


def versions(ref: ModelRef) -> builtins.list[dict[str, Any]]:
    """A model's versions, newest first."""
    return default_client().list_model_versions(ref)


def version(ref: ModelRef, number: int | None = None) -> dict[str, Any]:
    """One version (``name:3``, or ``number=``; default the latest)."""
    return default_client().get_model_version(ref, number)


def files(ref: ModelRef) -> builtins.list[dict[str, Any]]:
    """A version's files: ``{"path", "size", "sha256"}``."""
    return default_client().model_files(ref)


def cache_folder(
    model_id: str, number: int, cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Where :func:`load` keeps a version: ``<cache>/<model_id>/<version>``.

    The cache is ``cache_dir``, else ``$TZ_MODEL_CACHE``, else
    ``~/.cache/training-zoo/models``.
    """
    root = _cache_root(cache_dir, "TZ_MODEL_CACHE", "models")
    if not model_id or "/" in model_id or "\\" in model_id or model_id in (".", ".."):
        raise ValueError(f"model_id: refusing {model_id!r} as a folder name")
    return root / model_id / str(int(number))


def download(
    ref: ModelRef,
    dest: str | os.PathLike[str] | None = None,
    *,
    progress: Callable[[TransferProgress], None] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Download a version's files (sha256-checked) into ``dest``, default the local cache.

    Without ``dest`` the files go to :func:`cache_folder` (what :func:`load` reads), and files
    already there with the right sha256 are not fetched again.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    client = default_client()
    model_id, number = client._model_version(ref)
    target = Path(dest) if dest is not None else cache_folder(model_id, number, cache_dir)
    return client.download_model(
        {"model_id": model_id, "version": number}, target, progress=progress
    )


def load(ref: ModelRef, *, cache_dir: str | os.PathLike[str] | None = None) -> Any:
    """A version as a live object: a ``torch.nn.Module``, a TorchScript module or an
    onnxruntime session, after its format.

    The files are downloaded into the cache first (only those missing or changed), then opened
    with :func:`training_zoo.models.runtime.load`.

    Parameters
    ----------
    ref : str or dict
        ``[owner/]name[:N]`` (no ``:N``: the latest version).
    cache_dir : str or os.PathLike, optional
        See :func:`cache_folder`.

    Returns
    -------
    object
        The runtime's native model (``Loaded.native``).

    Raises
    ------
    TzClientError
        No such model or version, or a download failed its sha256 check.
    """
    folder = download(ref, cache_dir=cache_dir)
    # Imported here: the runtime pulls in torch or onnxruntime.
    from .models.runtime import load as load_folder

    return load_folder(folder).native


def promote(ref: ModelRef, stage: str = "production", comment: str | None = None) -> dict[str, Any]:
    """Move a version (``name:N``; default the latest) to ``stage`` (default production)."""
    return default_client().set_model_stage(ref, stage, comment)


set_stage = promote


def history(ref: ModelRef) -> builtins.list[dict[str, Any]]:
    """A model's stage moves, oldest first as the service lists them."""
    return default_client().model_history(ref)


def lineage(ref: ModelRef) -> dict[str, Any]:
    """A version's lineage graph: ``{"nodes", "edges"}``."""
    return default_client().model_lineage(ref)


def convert(
    ref: ModelRef, to: str, *, wait: bool = False, timeout: float | None = None, **opts: Any
) -> dict[str, Any]:
    """Convert a version (``onnx``, ``torchscript``, ``int8``, ``fp16``) in a tracked job.

    Parameters
    ----------
    ref : str or dict
        The source version.
    to : str
        The target.
    wait : bool
        Block until the run has finished; raise if it failed.
    timeout : float, optional
        Seconds to wait at most (with ``wait``).
    **opts
        ``opset``, ``tolerance_abs``, ``tolerance_rel``, ``samples``, ``dataset``, ``split``
        (see :meth:`Client.convert_model`).

    Returns
    -------
    dict
        The Run (finished with ``wait``: ``result_version`` is the new version).

    Raises
    ------
    TzClientError
        The service refused, or (with ``wait``) the run failed, e.g. out of parity tolerance.
    TimeoutError
        ``timeout`` passed first.
    """
    client = default_client()
    run = client.convert_model(ref, to, **opts)
    return client.wait_for_model_run(run, timeout) if wait else run


def evaluate(
    ref: ModelRef,
    dataset: str,
    *,
    wait: bool = False,
    timeout: float | None = None,
    **opts: Any,
) -> dict[str, Any]:
    """Evaluate a version on a dataset version in a tracked job (metrics and speed).

    ``opts`` are those of :meth:`Client.evaluate_model` (``split``, ``task``, ``batch_size``,
    ``target``, ``script``...). With ``wait``, blocks until the run has finished (raising if it
    failed) and returns it with its ``metrics`` and ``speed``.

    Raises
    ------
    TzClientError
        The service refused, or (with ``wait``) the run failed.
    TimeoutError
        ``timeout`` passed first.
    """
    client = default_client()
    run = client.evaluate_model(ref, dataset, **opts)
    return client.wait_for_model_run(run, timeout) if wait else run


def runs(ref: ModelRef, kind: str | None = None) -> builtins.list[dict[str, Any]]:
    """A model's conversion and evaluation runs, newest first (``kind``: convert/evaluate)."""
    return default_client().list_model_runs(ref, kind)


def wait(
    run: str | Mapping[str, Any], timeout: float | None = None, *, raise_on_failure: bool = True
) -> dict[str, Any]:
    """Wait for a run (its id or dict) to finish; see :meth:`Client.wait_for_model_run`."""
    return default_client().wait_for_model_run(run, timeout, raise_on_failure=raise_on_failure)


def compare(refs: str | Iterable[ModelRef], dataset: str | None = None) -> Any:
    """Versions side by side: metrics, latency, size, and deltas against the first.

    Returns
    -------
    pandas.DataFrame or dict
        A DataFrame with the columns of :func:`compare_table` (one row per version) when pandas
        is installed, else the service's comparison dict.
    """
    result = default_client().compare_models(refs, dataset)
    try:
        import pandas as pd
    except ImportError:
        return result
    headers, rows = compare_table(result)
    return pd.DataFrame(rows, columns=headers)


def delete(ref: ModelRef) -> None:
    """Delete one version (``name:N``) or, without ``:N``, the whole model with its versions."""
    client = default_client()
    if isinstance(ref, str) and parse_model_ref(ref)[2] is not None:
        client.delete_model_version(ref)
    elif isinstance(ref, Mapping) and "model_id" in ref:
        client.delete_model_version(ref)
    else:
        client.delete_model(ref)


# -- pure helpers ------------------------------------------------------------------------------

#: Columns of a comparison before its metric columns, and after them.
COMPARE_LEADING: tuple[str, ...] = ("ref", "format", "runtime", "size_bytes", "dataset")
COMPARE_TRAILING: tuple[str, ...] = ("accuracy_delta", "latency_ratio", "size_ratio")


def compare_table(comparison: Mapping[str, Any]) -> tuple[builtins.list[str], builtins.list]:
    """Flatten a comparison (:meth:`Client.compare_models`) into a header and rows.

    Parameters
    ----------
    comparison : dict
        ``{"columns", "rows": [{"ref", "format", "runtime", "size_bytes", "metrics", "speed",
        "accuracy_delta", "latency_ratio", "size_ratio"...}]}``.

    Returns
    -------
    (list of str, list of list)
        Headers (those of the service's CSV): ``ref, format, runtime, size_bytes, dataset``, the
        comparison's ``columns`` (each read
        from the row's ``metrics``, else its ``speed``), then the deltas. Rows hold the values as
        they came (numbers stay numbers; missing ones are None).
    """
    columns = [
        str(c)
        for c in comparison.get("columns") or []
        if c not in COMPARE_LEADING and c not in COMPARE_TRAILING
    ]
    headers = [*COMPARE_LEADING, *columns, *COMPARE_TRAILING]
    rows = []
    for row in comparison.get("rows") or []:
        metrics = row.get("metrics") or {}
        speed = row.get("speed") or {}
        values = [row.get(c) for c in COMPARE_LEADING]
        if values[2] is None:
            values[2] = speed.get("runtime")
        values += [metrics[c] if c in metrics else speed.get(c) for c in columns]
        values += [row.get(c) for c in COMPARE_TRAILING]
        rows.append(values)
    return headers, rows


def format_value(value: Any) -> str:
    """A comparison value as table text: floats to 4 significant digits, None empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping | builtins.list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def save_torchscript(
    module: Any,
    folder: str | os.PathLike[str],
    *,
    example_input: Any = None,
    name: str | None = None,
    **descriptor: Any,
) -> Path:
    """Write ``module`` as a TorchScript model folder: ``model.pt`` and its ``tz-model.json``.

    With ``example_input`` the module is traced (scripted instead when the trace would not
    generalise, see :func:`training_zoo.models.conversion.to_torchscript`) and the signature is
    taken from the example and the module's output on it, the first dimension dynamic (-1).
    Without it the module is scripted and the descriptor has no signature.

    Parameters
    ----------
    module : torch.nn.Module
        The model (put back in its training mode afterwards).
    folder : str or os.PathLike
        Where to write (created).
    example_input : torch.Tensor or tuple of torch.Tensor, optional
        A batch the model takes.
    name : str, optional
        The ``name`` in the descriptor.
    **descriptor
        Further descriptor fields (``task``, ``description``, ``labels``, ``metrics``...).

    Returns
    -------
    pathlib.Path
        ``folder``.

    Raises
    ------
    training_zoo.models.descriptor.DescriptorError
        A ``ValueError`` whose message starts with the field's path: an input or output that
        is no tensor or has a dtype a signature cannot name (``signature.inputs[0].dtype``),
        or an invalid descriptor field (``task``, ``labels``...).
    RuntimeError
        Scripting failed (give ``example_input`` to trace instead).
    """
    import torch

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    artifact = out / TORCHSCRIPT_ARTIFACT
    # The signature and the look through DDP / torch.compile wrappers are the same as for
    # tz.models.save in a job.
    from .models.descriptor import _signature_of, _unwrap, validate

    module = _unwrap(module)
    signature = None
    if example_input is not None:
        from .models.conversion import to_torchscript

        signature = _signature_of(module, example_input)
        to_torchscript(module, example_input, artifact)
    else:
        was_training = module.training
        module.eval()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                torch.jit.script(module).save(str(artifact))
        except (OSError, RuntimeError) as exc:
            # Scripting compiles the class's source, which an interactive prompt may not have.
            raise RuntimeError(
                f"cannot script {type(module).__name__} ({exc}); pass example_input= to trace "
                "it instead"
            ) from exc
        finally:
            module.train(was_training)
    data: dict[str, Any] = {
        "format": "torchscript",
        "framework": "pytorch",
        # "2.13.0+cpu" -> "2.13.0": the build variant says nothing about the file format.
        "framework_version": torch.__version__.split("+", 1)[0],
        "artifact": TORCHSCRIPT_ARTIFACT,
    }
    if name is not None:
        data["name"] = name
    if signature is not None:
        data["signature"] = signature
    data.update({k: v for k, v in descriptor.items() if v is not None})
    validate(data)  # what the service would refuse after the upload, refused now
    (out / DESCRIPTOR_NAME).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return out


#: Names ``training_zoo.models`` forwards here: the facade's functions.
SDK_NAMES: frozenset[str] = frozenset(__all__) - {"SDK_NAMES", "forward"}

#: The facade function of a name in :data:`SDK_NAMES`, else ``AttributeError``.
forward = facade_forward("training_zoo.models", SDK_NAMES, globals())
