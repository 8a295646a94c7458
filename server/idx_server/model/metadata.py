"""Core metadata: parsing (with ``packaging.metadata``) and devpi's JSON shape of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packaging.metadata import InvalidMetadata, Metadata, RawMetadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from idx_server.model.errors import InvalidUpload

#: Metadata versions validated strictly; newer ones are accepted leniently.
KNOWN_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5")

#: Fields whose errors refuse an upload: installers and resolvers depend on them.
ESSENTIAL_FIELDS = frozenset({"metadata_version", "name", "version", "requires_python", "requires_dist"})

# RawMetadata key -> devpi's JSON key, where they differ.
_DEVPI_KEYS = {
    "platforms": "platform",
    "supported_platforms": "supported_platform",
    "provides_extra": "provides_extras",
    "license_files": "license_file",
}

#: devpi's metadata keys, which its clients expect (all present, "" or [] when unset).
DEVPI_STRING_KEYS = (
    "name",
    "version",
    "metadata_version",
    "summary",
    "home_page",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "license",
    "description",
    "keywords",
    "download_url",
    "requires_python",
    "description_content_type",
    "license_expression",
)
DEVPI_LIST_KEYS = (
    "platform",
    "classifiers",
    "supported_platform",
    "provides",
    "requires",
    "obsoletes",
    "provides_dist",
    "requires_dist",
    "obsoletes_dist",
    "project_urls",
    "requires_external",
    "provides_extras",
    "dynamic",
    "license_file",
    "import_names",
    "import_namespaces",
)


@dataclass(frozen=True)
class ParsedMetadata:
    """Metadata read from a distribution, in devpi's shape, with non-fatal problems."""

    fields: dict[str, Any]
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return str(self.fields["name"])

    @property
    def version(self) -> str:
        return str(self.fields["version"])

    @property
    def requires_python(self) -> str:
        return str(self.fields.get("requires_python") or "")


def parse_core_metadata(data: bytes, source: str) -> ParsedMetadata:
    """Parse METADATA / PKG-INFO bytes; raise :class:`InvalidUpload` if installers could
    not rely on them. ``source`` names the file in messages."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUpload(f"{source} is not valid UTF-8") from None
    raw, _unparsed = parse_email(text)
    for key in ("metadata_version", "name", "version"):
        if not raw.get(key):
            header = key.replace("_", "-").title()
            raise InvalidUpload(f"{source} has no {header} field")
    warnings: list[str] = []
    if raw["metadata_version"] in KNOWN_METADATA_VERSIONS:
        warnings = _validate(raw, source)
    else:
        _check_essentials(raw, source)
    return ParsedMetadata(devpi_fields(raw), tuple(warnings))


def _validate(raw: RawMetadata, source: str) -> list[str]:
    try:
        Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        fatal: list[str] = []
        warnings: list[str] = []
        for exc in _flatten(group):
            field = getattr(exc, "field", "")
            key = field.lower().replace("-", "_")
            message = f"{source}: {exc}"
            (fatal if key in ESSENTIAL_FIELDS else warnings).append(message)
        if fatal:
            raise InvalidUpload("Invalid metadata: " + "; ".join(fatal)) from None
        return warnings
    return []


def _flatten(group: BaseException) -> list[BaseException]:
    if isinstance(group, ExceptionGroup):
        return [leaf for exc in group.exceptions for leaf in _flatten(exc)]
    return [group]


def _check_essentials(raw: RawMetadata, source: str) -> None:
    """For metadata versions newer than we know: only what installers must rely on."""
    try:
        canonicalize_name(raw["name"], validate=True)
        Version(raw["version"])
        if raw.get("requires_python"):
            SpecifierSet(raw["requires_python"])
        for requirement in raw.get("requires_dist", []):
            Requirement(requirement)
    except (ValueError, InvalidVersion, InvalidSpecifier, InvalidRequirement, InvalidMetadata) as exc:
        raise InvalidUpload(f"Invalid metadata in {source}: {exc}") from None


def devpi_fields(raw: RawMetadata | dict[str, Any]) -> dict[str, Any]:
    """``RawMetadata`` in devpi's JSON shape (all keys present)."""
    fields: dict[str, Any] = dict.fromkeys(DEVPI_STRING_KEYS, "")
    fields.update({key: [] for key in DEVPI_LIST_KEYS})
    for key, value in dict(raw).items():
        devpi_key = _DEVPI_KEYS.get(key, key)
        if key == "keywords":
            fields["keywords"] = ",".join(value) if isinstance(value, list) else str(value)
        elif key == "project_urls" and isinstance(value, dict):
            fields["project_urls"] = [f"{label}, {url}" for label, url in value.items()]
        elif devpi_key in fields:
            fields[devpi_key] = value
    return fields


def form_fields_to_raw(form: dict[str, list[str]]) -> dict[str, Any]:
    """Metadata from an upload form's fields (the legacy API's names), for files that
    carry none of their own (e.g. legacy .zip sdists without PKG-INFO)."""
    raw: dict[str, Any] = {}
    for key in DEVPI_STRING_KEYS:
        values = [v for v in form.get(key, []) if v and v != "UNKNOWN"]
        if values:
            raw[key] = values[0]
    plural = {"classifiers": "classifiers", "platform": "platforms", "requires_dist": "requires_dist"}
    for key, raw_key in plural.items():
        values = [v for v in form.get(key, []) if v and v != "UNKNOWN"]
        if values:
            raw[raw_key] = values
    return raw
