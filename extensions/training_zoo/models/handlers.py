"""REST handlers of the model registry (thin: parse, call the managers, answer)."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote

from ..service.base import TzAPIHandler
from .manager import TzModelManager
from .runner import TzModelRuns

READ, WRITE = "custom:tz:models:read", "custom:tz:models:write"
MODEL_ID = r"(?P<model_id>mdl-[0-9a-f]{12})"
NUMBER = r"(?P<number>[0-9]{1,9})"


class ModelsBase(TzAPIHandler):
    @property
    def models(self) -> TzModelManager:
        return self.settings["tz_models"]

    @property
    def runs(self) -> TzModelRuns:
        return self.settings["tz_model_runs"]

    def created(self, data: dict, location: str) -> None:
        self.set_header("Location", location)
        self.write_json(data, 201)

    def accepted(self, run: dict) -> None:
        """202 with the run and where to follow it."""
        api = self.request.path.split("/models/", 1)[0]
        self.set_header("Location", f"{api}/models/runs/{run['id']}")
        self.write_json(run, 202)

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()


class ModelListHandler(ModelsBase):
    required_scopes = {"GET": READ, "POST": WRITE}

    async def get(self) -> None:
        """Models the caller may read, filtered by ``q``, ``task``, ``stage``, ``owner``,
        ``visibility``."""
        offset, limit = self.pagination()
        items, total = await self.models.list(
            self.identity,
            q=self.get_query_argument("q", ""),
            task=self.get_query_argument("task", None) or None,
            stage=self.get_query_argument("stage", None) or None,
            owner=self.get_query_argument("owner", None) or None,
            visibility=self.get_query_argument("visibility", None) or None,
            offset=offset,
            limit=limit,
        )
        self.write_page(items, total, offset, limit)

    async def post(self) -> None:
        model = await self.models.create(self.identity, self.get_json_body())
        self.created(model, f"{self.request.path.rstrip('/')}/{model['id']}")


class ResolveHandler(ModelsBase):
    required_scopes = {"GET": READ}

    async def get(self) -> None:
        model, version = await self.models.resolve(
            self.identity, self.get_query_argument("ref", "")
        )
        self.write_json({"model": model, "version": version})


class RegisterHandler(ModelsBase):
    required_scopes = {"POST": WRITE}

    async def post(self) -> None:
        """Kubeflow-style registration: the caller's model ``name`` (created when missing)."""
        version = await self.models.register_by_name(self.identity, self.get_json_body())
        base = self.request.path.rsplit("/", 1)[0]
        self.created(version, f"{base}/{version['model_id']}/versions/{version['version']}")


class CompareHandler(ModelsBase):
    required_scopes = {"GET": READ}

    async def get(self) -> None:
        """Versions side by side (``versions=a:1,a:2``), as JSON or ``format=csv``."""
        refs = [r for r in self.get_query_argument("versions", "").split(",") if r.strip()]
        result = await self.models.compare(
            self.identity, [r.strip() for r in refs], self.get_query_argument("dataset", None)
        )
        if self.get_query_argument("format", "json") == "csv":
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", 'attachment; filename="model-comparison.csv"')
            self.finish(self.models.compare_csv(result))
            return
        self.write_json(result)


class ModelHandler(ModelsBase):
    required_scopes = {"GET": READ, "PATCH": WRITE, "DELETE": WRITE}

    async def get(self, model_id: str) -> None:
        self.write_json(await self.models.get(self.identity, model_id))

    async def patch(self, model_id: str) -> None:
        self.write_json(await self.models.update(self.identity, model_id, self.get_json_body()))

    async def delete(self, model_id: str) -> None:
        await self.models.delete(self.identity, model_id)
        self.no_content()


class VersionsHandler(ModelsBase):
    required_scopes = {"GET": READ, "POST": WRITE}

    async def get(self, model_id: str) -> None:
        offset, limit = self.pagination()
        items, total = await self.models.versions(
            self.identity, model_id, offset=offset, limit=limit
        )
        self.write_page(items, total, offset, limit)

    async def post(self, model_id: str) -> None:
        version = await self.models.register(self.identity, model_id, self.get_json_body())
        self.created(version, f"{self.request.path.rstrip('/')}/{version['version']}")


class VersionHandler(ModelsBase):
    required_scopes = {"GET": READ, "PATCH": WRITE, "DELETE": WRITE}

    async def get(self, model_id: str, number: str) -> None:
        self.write_json(await self.models.version(self.identity, model_id, number))

    async def patch(self, model_id: str, number: str) -> None:
        body = self.get_json_body()
        self.write_json(await self.models.update_version(self.identity, model_id, number, body))

    async def delete(self, model_id: str, number: str) -> None:
        await self.models.delete_version(self.identity, model_id, number)
        self.no_content()


class FilesHandler(ModelsBase):
    required_scopes = {"GET": READ}

    async def get(self, model_id: str, number: str) -> None:
        files = await self.models.files(self.identity, model_id, number)
        self.write_json({"items": files})


class FileHandler(ModelsBase):
    required_scopes = {"GET": READ}

    async def get(self, model_id: str, number: str, path: str) -> None:
        """A version's file, streamed as an attachment and checked against its sha256."""
        # Tornado hands path groups over still percent-encoded; file names are stored decoded.
        entry, chunks = await self.models.open_file(self.identity, model_id, number, unquote(path))
        name = posixpath.basename(entry["path"])
        await self.send_file(name, entry["size"], chunks, etag=entry["sha256"])


class VersionDownloadHandler(ModelsBase):
    required_scopes = {"GET": READ}

    async def get(self, model_id: str, number: str) -> None:
        """The version's files as one ZIP, made and checked as it streams."""
        await self.send_zip(*await self.models.open_version_zip(self.identity, model_id, number))


class StageHandler(ModelsBase):
    required_scopes = {"POST": WRITE}

    async def post(self, model_id: str, number: str) -> None:
        body = self.get_json_body()
        self.write_json(await self.models.set_stage(self.identity, model_id, number, body))


class HistoryHandler(ModelsBase):
    required_scopes = {"GET": READ}

    async def get(self, model_id: str) -> None:
        self.write_json({"items": await self.models.history(self.identity, model_id)})


class LineageHandler(ModelsBase):
    required_scopes = {"GET": READ}

    async def get(self, model_id: str, number: str) -> None:
        self.write_json(await self.models.lineage(self.identity, model_id, number))


class ConvertHandler(ModelsBase):
    required_scopes = {"POST": WRITE}

    async def post(self, model_id: str, number: str) -> None:
        run = await self.runs.convert(self.identity, model_id, number, self.get_json_body())
        self.accepted(run)


class EvaluateHandler(ModelsBase):
    required_scopes = {"POST": WRITE}

    async def post(self, model_id: str, number: str) -> None:
        run = await self.runs.evaluate(self.identity, model_id, number, self.get_json_body())
        self.accepted(run)


class RunsHandler(ModelsBase):
    required_scopes = {"GET": READ}

    async def get(self, model_id: str) -> None:
        offset, limit = self.pagination()
        kind = self.get_query_argument("kind", None) or None
        items, total = await self.runs.list(self.identity, model_id, kind, offset, limit)
        self.write_page(items, total, offset, limit)


class RunHandler(ModelsBase):
    required_scopes = {"GET": READ}

    async def get(self, run_id: str) -> None:
        self.write_json(await self.runs.get(self.identity, run_id))


def routes(api: str) -> list[tuple[str, type]]:
    model = rf"{api}/models/{MODEL_ID}"
    version = rf"{model}/versions/{NUMBER}"
    return [
        (rf"{api}/models", ModelListHandler),
        (rf"{api}/models/resolve", ResolveHandler),
        (rf"{api}/models/register", RegisterHandler),
        (rf"{api}/models/compare", CompareHandler),
        (rf"{api}/models/runs/(?P<run_id>run-[0-9a-f]{{12}})", RunHandler),
        (model, ModelHandler),
        (rf"{model}/versions", VersionsHandler),
        (rf"{model}/history", HistoryHandler),
        (rf"{model}/runs", RunsHandler),
        (version, VersionHandler),
        (rf"{version}/files", FilesHandler),
        (rf"{version}/files/(?P<path>.+)", FileHandler),
        (rf"{version}/download", VersionDownloadHandler),
        (rf"{version}/stage", StageHandler),
        (rf"{version}/lineage", LineageHandler),
        (rf"{version}/convert", ConvertHandler),
        (rf"{version}/evaluate", EvaluateHandler),
    ]
