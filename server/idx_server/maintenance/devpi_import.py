"""``idx-server import --from-devpi DIR``: read a ``devpi-export`` dump into an import plan.

The dump (devpi-server's ``importexport.py``, dumpversion 1 or 2) is a directory with
``dataindex.json``::

    {"dumpversion": "2", "users": {name: {pwhash, email, title, ...}},
     "indexes": {"user/index": {"indexconfig": {...},
                                "projects": {project: {version: metadata}},
                                "files": [{"type": "releasefile" | "toxresult" | "doczip",
                                           "projectname", "version", "relpath",
                                           "entrymapping": {"hashes", "last_modified", ...},
                                           "log": [...], "for_entrypath": ...}]}}}

and the files at their ``relpath``. devpi hashes passwords with argon2 through passlib,
as idx does, so passwords carry over. Index settings map onto idx's keys; settings
idx does not have are left out and listed. Documentation zips are left out (idx does
not host documentation), and so are releases without files.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from idx_server.maintenance import MaintenanceError
from idx_server.maintenance.devpi_files import DevpiFiles
from idx_server.maintenance.plan import ImportPlan, PlannedIndex
from idx_server.model.errors import InvalidInput
from idx_server.model.indexes import MIRROR_IGNORED_KEYS, IndexType, IndexTypes, new_config
from idx_server.model.names import split_index_name, validate_user_name
from idx_server.model.users import User
from idx_server.services.clock import now_iso

DUMP_FILE = "dataindex.json"
DUMP_VERSIONS = ("1", "2")
USER_FIELDS = ("email", "title", "description")


def read_devpi_dump(dump: Path, types: IndexTypes, skip_types: Collection[str] = ()) -> ImportPlan:
    """The import plan for a devpi-export dump; refuses a damaged or inconsistent one."""
    data = _read_dataindex(dump)
    plan = ImportPlan()
    plan.users = [_user(name, config, plan) for name, config in sorted(_object(data, "users").items())]
    typed: dict[str, tuple[dict[str, Any], IndexType]] = {}
    for name, item in sorted(_object(data, "indexes").items()):
        index_type = _index_type(name, item, types, skip_types, plan)
        if index_type is not None:
            typed[name] = (item, index_type)
    files = DevpiFiles(dump, plan)
    # root/pypi is made on the server's first start if the dump has none (devpi-init --no-root-pypi).
    known = {*typed, "root/pypi"}
    for name, (item, index_type) in typed.items():
        planned = _index(name, item["indexconfig"], index_type, known, plan)
        plan.indexes.append(planned)
        files.add_index(planned, item, legacy=data["dumpversion"] == "1")
    files.finish()
    return plan


def _read_dataindex(dump: Path) -> dict[str, Any]:
    path = dump / DUMP_FILE
    if not path.is_file():
        raise MaintenanceError(f"{dump} has no {DUMP_FILE}: it is not a devpi-export dump")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MaintenanceError(f"{path} is not valid JSON ({exc}): the dump is damaged") from None
    if not isinstance(data, dict):
        raise MaintenanceError(f"{path} is not a devpi-export dump (not a JSON object)")
    version = str(data.get("dumpversion"))
    if version not in DUMP_VERSIONS:
        raise MaintenanceError(
            f"{path} has dumpversion {data.get('dumpversion')!r}; idx reads devpi dumps of "
            f"dumpversion {' and '.join(DUMP_VERSIONS)} (those devpi-server 6 imports)"
        )
    data["dumpversion"] = version
    return data


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise MaintenanceError(f"{DUMP_FILE}: '{key}' must be an object")
    return value


# -- users -------------------------------------------------------------------------------------
def _user(name: str, config: Any, plan: ImportPlan) -> User:
    try:
        validate_user_name(name)
    except InvalidInput as exc:
        raise MaintenanceError(f"devpi user {name!r} cannot be imported: {exc.message}") from None
    if not isinstance(config, dict):
        raise MaintenanceError(f"{DUMP_FILE}: user {name!r} must be an object")
    pwhash = str(config.get("pwhash") or "")
    if pwhash and (not pwhash.startswith("$argon2") or config.get("pwsalt")):
        plan.notes.append(
            f"user {name!r} has a password hash from an old devpi-server (not argon2): "
            f"{name} cannot log in until root sets a new password (idx user -m {name} password=...)"
        )
        pwhash = ""
    fields = {key: str(config[key]) for key in USER_FIELDS if isinstance(config.get(key), str)}
    created = str(config.get("created") or "1970-01-01T00:00:00Z")
    return User(
        name=name,
        pwhash=pwhash,
        custom_data=config.get("custom_data"),
        created=created,
        modified=str(config.get("modified") or created),
        **fields,
    )


# -- indexes -----------------------------------------------------------------------------------
def _index_type(
    name: str, item: Any, types: IndexTypes, skip_types: Collection[str], plan: ImportPlan
) -> IndexType | None:
    if not isinstance(item, dict) or not isinstance(item.get("indexconfig"), dict):
        raise MaintenanceError(f"{DUMP_FILE}: index {name!r} has no 'indexconfig'")
    type_name = str(item["indexconfig"].get("type", "stage"))
    if type_name in skip_types:
        note = f"index {name} (type {type_name}) left out, as asked"
        if note not in plan.notes:
            plan.notes.append(note)
        return None
    index_type = types.get(type_name)
    if index_type is None:
        raise MaintenanceError(
            f"devpi index {name} has the type {type_name!r}, which idx does not know: install an idx "
            f"plugin that provides it, or leave such indexes out with --skip-index-type {type_name}"
        )
    return index_type


def _index(
    name: str, devpi_config: dict[str, Any], index_type: IndexType, kept: set[str], plan: ImportPlan
) -> PlannedIndex:
    try:
        user, index = split_index_name(name)
    except InvalidInput as exc:
        raise MaintenanceError(f"devpi index {name!r} cannot be imported: {exc.message}") from None
    given = dict(devpi_config)
    given.pop("type", None)
    if "pypi_whitelist" in given:  # renamed in devpi-server 3.0
        whitelist = given.pop("pypi_whitelist")
        given.setdefault("mirror_whitelist", whitelist)
    dropped = []
    if "bases" in given and not index_type.is_mirror:
        bases = list(given["bases"] or [])
        given["bases"] = [base for base in bases if base in kept]
        dropped += [f"base {base} (not in the dump)" for base in bases if base not in kept]
    for key in sorted(given):
        if index_type.key(key) is None:
            value = given.pop(key)
            if not (index_type.is_mirror and key in MIRROR_IGNORED_KEYS) and value not in (
                None,
                "",
                [],
                False,
            ):
                dropped.append(f"{key}={value!r}")
    if dropped:
        plan.notes.append(f"index {name}: left out what idx has no setting for: {', '.join(dropped)}")
    try:
        config = new_config(index_type, user, given)
    except InvalidInput as exc:
        raise MaintenanceError(f"devpi index {name}: {exc.message}") from None
    return PlannedIndex(user, index, config, created=now_iso())  # devpi keeps no creation time
