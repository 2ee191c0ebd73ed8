"""REST handlers of datasets (thin: parse, call :class:`TzDatasetManager`, answer)."""

from __future__ import annotations

import posixpath

from ..service.base import TzAPIHandler
from .manager import TzDatasetManager

READ, WRITE = "custom:tz:datasets:read", "custom:tz:datasets:write"
DATASET_ID = r"(?P<dataset_id>ds-[0-9a-f]{12})"
VERSION = r"(?P<version>V[0-9]{3,9})"
# Served with their own type so <img> shows them; everything else is an attachment download.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"})


class DatasetsBase(TzAPIHandler):
    @property
    def datasets(self) -> TzDatasetManager:
        return self.settings["tz_datasets"]

    def optional_bool(self, name: str) -> bool | None:
        if self.get_query_argument(name, None) in (None, ""):
            return None
        return self.bool_argument(name)

    def version_argument(self) -> str | None:
        return self.get_query_argument("version", None) or None

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()


class DatasetListHandler(DatasetsBase):
    required_scopes = {"GET": READ, "POST": WRITE}

    async def get(self) -> None:
        """Datasets the caller may read, filtered by ``q``, ``type``, ``owner``, ``visibility``."""
        offset, limit = self.pagination()
        items, total = await self.datasets.list(
            self.identity,
            q=self.get_query_argument("q", ""),
            type=self.get_query_argument("type", None) or None,
            owner=self.get_query_argument("owner", None) or None,
            visibility=self.get_query_argument("visibility", None) or None,
            offset=offset,
            limit=limit,
        )
        self.write_page(items, total, offset, limit)

    async def post(self) -> None:
        """Create a dataset; 201 with it and its ``Location``."""
        ds = await self.datasets.create(self.identity, self.get_json_body())
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{ds['id']}")
        self.write_json(ds, 201)


class ResolveHandler(DatasetsBase):
    required_scopes = {"GET": READ}

    async def get(self) -> None:
        """``?ref=[owner/]name[:Vnnn]`` → ``{"dataset", "version"}``."""
        ds, version = await self.datasets.resolve(self.identity, self.get_query_argument("ref", ""))
        self.write_json({"dataset": ds, "version": version})


class DatasetHandler(DatasetsBase):
    required_scopes = {"GET": READ, "PATCH": WRITE, "DELETE": WRITE}

    async def get(self, dataset_id: str) -> None:
        self.write_json(await self.datasets.get(self.identity, dataset_id))

    async def patch(self, dataset_id: str) -> None:
        body = self.get_json_body()
        self.write_json(await self.datasets.update(self.identity, dataset_id, body))

    async def delete(self, dataset_id: str) -> None:
        await self.datasets.delete(self.identity, dataset_id)
        self.no_content()


class FilesHandler(DatasetsBase):
    required_scopes = {"GET": READ, "POST": WRITE, "DELETE": WRITE}

    async def get(self, dataset_id: str) -> None:
        """A page of the draft's files (``q``, ``usage``, ``labeled`` filters)."""
        offset, limit = self.pagination()
        items, total = await self.datasets.files(
            self.identity,
            dataset_id,
            q=self.get_query_argument("q", ""),
            usage=self.get_query_argument("usage", None) or None,
            labeled=self.optional_bool("labeled"),
            offset=offset,
            limit=limit,
        )
        self.write_page(items, total, offset, limit)

    async def post(self, dataset_id: str) -> None:
        """Add files from the workspace or an S3 prefix in TZ's store."""
        result = await self.datasets.add_files(self.identity, dataset_id, self.get_json_body())
        self.write_json(result, 201)

    async def delete(self, dataset_id: str) -> None:
        await self.datasets.remove_files(self.identity, dataset_id, self.get_json_body())
        self.no_content()


class AnnotationsHandler(DatasetsBase):
    required_scopes = {"POST": WRITE}

    async def post(self, dataset_id: str) -> None:
        """Label one file; 409 ``StaleRevision`` with the current file when it changed."""
        body = self.get_json_body()
        self.write_json(await self.datasets.annotate(self.identity, dataset_id, body))


class ContentHandler(DatasetsBase):
    required_scopes = {"GET": READ}

    async def get(self, dataset_id: str) -> None:
        """A file's bytes (draft, or ``?version=``), streamed and checked against its sha256."""
        key = self.get_query_argument("key", "")
        entry, chunks = await self.datasets.open_file(
            self.identity, dataset_id, key, self.version_argument()
        )
        await self.send_file(
            posixpath.basename(key), entry["size"], chunks, inline_types=INLINE_TYPES
        )


class PreviewHandler(DatasetsBase):
    required_scopes = {"GET": READ}

    async def get(self, dataset_id: str) -> None:
        key = self.get_query_argument("key", "")
        self.write_json(
            await self.datasets.preview(self.identity, dataset_id, key, self.version_argument())
        )


class ThumbnailHandler(DatasetsBase):
    required_scopes = {"GET": READ}

    async def get(self, dataset_id: str) -> None:
        """A JPEG whose longest side is ``size`` (32..512, default 256) pixels."""
        key = self.get_query_argument("key", "")
        size = self.int_argument("size", 256, 32, 512) or 256
        data = await self.datasets.thumbnail(
            self.identity, dataset_id, key, self.version_argument(), size
        )
        self.set_header("Content-Type", "image/jpeg")
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish(data)


class PublishHandler(DatasetsBase):
    required_scopes = {"POST": WRITE}

    async def post(self, dataset_id: str) -> None:
        """Freeze the draft into the next version; 201 with the version."""
        body = self.get_json_body(required=False)
        version = await self.datasets.publish(self.identity, dataset_id, body)
        self.set_header("Location", f"{self.request.path.rsplit('/', 1)[0]}/versions/"
                        f"{version['version']}")  # fmt: skip
        self.write_json(version, 201)


class VersionsHandler(DatasetsBase):
    required_scopes = {"GET": READ}

    async def get(self, dataset_id: str) -> None:
        self.write_json({"items": await self.datasets.versions(self.identity, dataset_id)})


class VersionHandler(DatasetsBase):
    required_scopes = {"GET": READ}

    async def get(self, dataset_id: str, version: str) -> None:
        self.write_json(await self.datasets.version(self.identity, dataset_id, version))


class ManifestHandler(DatasetsBase):
    required_scopes = {"GET": READ}

    async def get(self, dataset_id: str, version: str) -> None:
        data = await self.datasets.manifest(self.identity, dataset_id, version)
        self.set_header("Content-Type", "application/jsonl")
        self.set_header("Content-Disposition", f"attachment; filename={version}.jsonl")
        self.finish(data)


class VersionDownloadHandler(DatasetsBase):
    required_scopes = {"GET": READ}

    async def get(self, dataset_id: str, version: str) -> None:
        """The version as one ZIP (files, manifest, version.json), made and checked as it
        streams."""
        await self.send_zip(
            *await self.datasets.open_version_zip(self.identity, dataset_id, version)
        )


class VersionFilesHandler(DatasetsBase):
    required_scopes = {"GET": READ}

    async def get(self, dataset_id: str, version: str) -> None:
        offset, limit = self.pagination()
        items, total = await self.datasets.version_files(
            self.identity, dataset_id, version, q=self.get_query_argument("q", ""),
            offset=offset, limit=limit,
        )  # fmt: skip
        self.write_page(items, total, offset, limit)


class DiffHandler(DatasetsBase):
    required_scopes = {"GET": READ}

    async def get(self, dataset_id: str, version: str) -> None:
        """What changed since ``?against=`` (default: the previous version)."""
        against = self.get_query_argument("against", None) or None
        self.write_json(await self.datasets.diff(self.identity, dataset_id, version, against))


class ImportHandler(DatasetsBase):
    required_scopes = {"POST": WRITE}

    async def post(self, dataset_id: str) -> None:
        body = self.get_json_body()
        self.write_json(await self.datasets.import_annotations(self.identity, dataset_id, body))


class ExportHandler(DatasetsBase):
    # Writes into the workspace: a read-only token must not.
    required_scopes = {"POST": WRITE}

    async def post(self, dataset_id: str) -> None:
        """Write annotations (and, for imagenet, files) into the workspace; 201 with the item."""
        body = self.get_json_body()
        self.write_json(await self.datasets.export(self.identity, dataset_id, body), 201)


def routes(api: str) -> list[tuple[str, type]]:
    ds = rf"{api}/datasets/{DATASET_ID}"
    return [
        (rf"{api}/datasets", DatasetListHandler),
        (rf"{api}/datasets/resolve", ResolveHandler),
        (ds, DatasetHandler),
        (rf"{ds}/files", FilesHandler),
        (rf"{ds}/files/annotations", AnnotationsHandler),
        (rf"{ds}/files/content", ContentHandler),
        (rf"{ds}/files/preview", PreviewHandler),
        (rf"{ds}/files/thumbnail", ThumbnailHandler),
        (rf"{ds}/publish", PublishHandler),
        (rf"{ds}/versions", VersionsHandler),
        (rf"{ds}/versions/{VERSION}", VersionHandler),
        (rf"{ds}/versions/{VERSION}/manifest", ManifestHandler),
        (rf"{ds}/versions/{VERSION}/download", VersionDownloadHandler),
        (rf"{ds}/versions/{VERSION}/files", VersionFilesHandler),
        (rf"{ds}/versions/{VERSION}/diff", DiffHandler),
        (rf"{ds}/import", ImportHandler),
        (rf"{ds}/export", ExportHandler),
    ]
