"""``idx-server check``: verify the whole store, and with ``--repair`` fix what can be fixed.

What is checked: every file row that claims cached bytes has its blob (with
``--checksums``, bytes that hash to its sha256), every core-metadata and test-result
blob exists, no blob is unreferenced, no temp file is left over, and the rows agree
with each other (releases with files, projects with releases, no rows of deleted
indexes). Only reads unless ``--repair`` is given, so it can run next to a live
server; blobs and temp files younger than ``--grace`` seconds are then left alone,
since an upload or a mirror download may be about to commit them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from idx_server.maintenance import (
    MaintenanceError,
    add_storage_arguments,
    has_server_data,
    human_size,
    is_sha256,
    load_maintenance_settings,
    open_storage,
    repairs,
    run_command,
)
from idx_server.maintenance.store_scan import BlobUse, StoreScan, scan_store
from idx_server.storage import BlobStore, MetaStore

#: Default for --grace: blobs and temp files younger than this may belong to work in progress.
DEFAULT_GRACE_SECONDS = 600.0

#: Every kind of problem check reports (each is documented in docs/operations.md).
PROBLEM_KINDS = frozenset(
    {
        "missing-file",
        "missing-toxresult",
        "missing-mirror-file",
        "missing-core-metadata",
        "corrupt-blob",
        "orphan-blob",
        "temp-file",
        "stray-file",
        "empty-release",
        "file-without-release",
        "release-without-project",
        "project-without-releases",
        "rows-without-index",
        "toxresult-without-file",
        "index-without-owner",
        "unknown-base",
    }
)


@dataclass
class Problem:
    """One thing wrong with the store."""

    kind: str
    #: What it is about: ``user/index filename``, a blob's sha256, a temp file's name.
    subject: str
    message: str
    #: What ``--repair`` does about it; "" when it cannot.
    remedy: str = ""
    #: The bytes are gone and no repair can bring them back.
    data_loss: bool = False
    repaired: bool = False
    fix: Callable[[], bool] | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "message": self.message,
            "remedy": self.remedy,
            "data_loss": self.data_loss,
            "repaired": self.repaired,
        }


@dataclass
class CheckReport:
    counts: dict[str, int] = field(default_factory=dict)
    checksums: bool = False
    problems: list[Problem] = field(default_factory=list)
    #: Blobs and temp files left alone because they are younger than the grace period.
    in_flight: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> list[Problem]:
        return [p for p in self.problems if not p.repaired]

    @property
    def ok(self) -> bool:
        return not self.remaining

    def add(self, problem: Problem) -> None:
        assert problem.kind in PROBLEM_KINDS, problem.kind
        self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts,
            "checksums": self.checksums,
            "problems": [p.as_dict() for p in self.problems],
            "in_flight": self.in_flight,
        }


def check_store(
    store: MetaStore,
    blobs: BlobStore,
    checksums: bool = False,
    grace: float = DEFAULT_GRACE_SECONDS,
    now: float | None = None,
) -> CheckReport:
    """Find every problem of the store (nothing is changed)."""
    now = time.time() if now is None else now
    report = CheckReport(checksums=checksums)
    _check_temp_files(report, blobs, now - grace)
    scan = scan_store(store, blobs)
    report.counts = scan.counts()
    _check_references(report, scan, store, blobs, checksums)
    _check_unreferenced(report, scan, store, blobs, now - grace)
    _check_rows(report, scan, store, blobs)
    report.counts["blobs_hashed"] = scan.hashed
    return report


def repair(report: CheckReport) -> None:
    """Apply the fix of every problem that has one (each re-checks before it changes anything)."""
    for problem in report.problems:
        if problem.fix is not None and not problem.repaired:
            problem.repaired = problem.fix()


# -- the checks --------------------------------------------------------------------------------
def _check_temp_files(report: CheckReport, blobs: BlobStore, cutoff: float) -> None:
    for temp in blobs.temp_files():
        if temp.modified > cutoff:
            report.in_flight.append(f"temp file {temp.name}")
            continue
        report.add(
            Problem(
                "temp-file",
                temp.name,
                f"temp file {temp.name} ({human_size(temp.size)}) was left by an interrupted "
                "upload or download",
                remedy="remove it",
                fix=repairs.remove_temp(blobs, temp.name),
            )
        )


def _check_references(
    report: CheckReport, scan: StoreScan, store: MetaStore, blobs: BlobStore, checksums: bool
) -> None:
    for sha256, uses in sorted(scan.uses.items()):
        if sha256 not in scan.present:
            if blobs.exists(sha256) or not store.blob_in_use(sha256):
                continue  # written, or its rows deleted, since the snapshot
            missing = repairs.still_missing(blobs, sha256)
            for use in uses:
                report.add(_missing(use, store, blobs, missing))
            continue
        try:
            damage = _damage(scan, blobs, sha256, uses, checksums)
        except FileNotFoundError:
            continue  # deleted (with its rows) since the snapshot
        if damage:
            report.add(_damaged(sha256, uses, damage, store, blobs))


def _damage(scan: StoreScan, blobs: BlobStore, sha256: str, uses: list[BlobUse], checksums: bool) -> str:
    size = blobs.size(sha256)
    for use in uses:
        if use.file is not None and use.kind == "file" and use.file.size not in (None, size):
            return f"it has {size} bytes, the file's row says {use.file.size}"
    if checksums:
        actual = scan.hash_blob(blobs, sha256)
        if actual != sha256:
            return f"its bytes hash to {actual}"
    return ""


def _missing(use: BlobUse, store: MetaStore, blobs: BlobStore, missing: Callable[[], bool]) -> Problem:
    sha = use.sha256
    if use.kind == "toxresult":
        return Problem(
            "missing-toxresult",
            use.subject,
            f"{use.subject}: a test result's bytes (sha256 {sha}) are missing: DATA LOSS; "
            "restore the server directory from a backup to get it back",
            data_loss=True,
        )
    file = use.file
    assert file is not None
    if use.kind == "core-metadata":
        return Problem(
            "missing-core-metadata",
            use.subject,
            f"{use.subject}: its core metadata (sha256 {sha}) is missing",
            remedy="extract it again from the file (or drop it: a mirror fetches it again on demand)",
            fix=repairs.restore_core_metadata(store, blobs, file, missing),
        )
    if file.url:
        return Problem(
            "missing-mirror-file",
            use.subject,
            f"{use.subject}: the cached copy (sha256 {sha}) is missing",
            remedy="mark it not cached; the mirror fetches it again when it is asked for",
            fix=repairs.uncache(store, file, missing),
        )
    return Problem(
        "missing-file",
        use.subject,
        f"{use.subject}: its bytes (sha256 {sha}) are missing: DATA LOSS; downloads of it fail. "
        "Restore it from a backup (idx-server export/import) or upload it again",
        data_loss=True,
    )


def _damaged(sha256: str, uses: list[BlobUse], damage: str, store: MetaStore, blobs: BlobStore) -> Problem:
    subjects = ", ".join(use.subject for use in uses)
    private = [u for u in uses if u.kind == "toxresult" or (u.kind == "file" and u.file and not u.file.url)]
    if private:
        return Problem(
            "corrupt-blob",
            sha256,
            f"blob {sha256} ({subjects}) is damaged: {damage}: DATA LOSS; restore it from a backup "
            "or upload the file again",
            data_loss=True,
        )
    return Problem(
        "corrupt-blob",
        sha256,
        f"blob {sha256} ({subjects}) is damaged: {damage}",
        remedy="delete it; mirror files are fetched again and core metadata extracted again on demand",
        fix=repairs.drop_damaged(store, blobs, sha256, uses),
    )


def _check_unreferenced(
    report: CheckReport, scan: StoreScan, store: MetaStore, blobs: BlobStore, cutoff: float
) -> None:
    for name in sorted(scan.present - set(scan.uses)):
        if not is_sha256(name):
            report.add(
                Problem(
                    "stray-file",
                    name,
                    f"the blob store holds {name!r}, which is not named by a sha256; move it away by hand",
                )
            )
            continue
        try:
            modified, size = blobs.modified(name), blobs.size(name)
        except FileNotFoundError:
            continue  # deleted since the scan
        if modified > cutoff:
            report.in_flight.append(f"blob {name}")
            continue
        if store.blob_in_use(name):
            continue  # its row was committed since the snapshot
        report.add(
            Problem(
                "orphan-blob",
                name,
                f"blob {name} ({human_size(size)}) is not referenced by any row",
                remedy="delete it",
                fix=repairs.drop_orphan(store, blobs, name, cutoff),
            )
        )


def _check_rows(report: CheckReport, scan: StoreScan, store: MetaStore, blobs: BlobStore) -> None:
    for found in scan.row_problems():
        report.add(
            Problem(
                found.kind,
                found.subject,
                found.message,
                remedy=found.remedy,
                fix=repairs.row_fix(store, blobs, found),
            )
        )


# -- the command -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="idx-server check",
        description="Verify a server directory: rows against blobs, leftovers, consistency. "
        "Read-only unless --repair is given; safe to run while the server runs.",
    )
    add_storage_arguments(parser, "The server directory to check.")
    parser.add_argument("--checksums", action="store_true", help="Also hash every referenced blob.")
    parser.add_argument(
        "--repair",
        action="store_true",
        help="Remove orphan blobs and temp files, mark mirror files whose blob is missing as not "
        "cached, and fix inconsistent rows. Lost private files can only be reported.",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        metavar="SECONDS",
        help="Leave blobs and temp files younger than this alone: a running server may be about "
        f"to commit them (default {DEFAULT_GRACE_SECONDS:.0f}; use 0 when the server is stopped).",
    )
    parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
    return parser


def main(argv: Sequence[str]) -> int:
    options = build_parser().parse_args(list(argv))
    return run_command("check", lambda: _run(options))


def _run(options: argparse.Namespace) -> int:
    from idx_server.plugins import get_plugin_manager

    pm = get_plugin_manager()
    settings = load_maintenance_settings(options, pm)
    if not has_server_data(settings.serverdir):
        raise MaintenanceError(f"{settings.serverdir} holds no idx server data")
    with open_storage(settings, pm) as opened:
        if opened.store.get_meta("uuid") is None and not opened.store.list_users():
            raise MaintenanceError(f"{settings.serverdir} holds no idx server data (was it ever started?)")
        report = check_store(opened.store, opened.blobs, options.checksums, options.grace)
        if options.repair:
            repair(report)
    if options.json:
        json.dump({"serverdir": str(settings.serverdir), **report.as_dict()}, sys.stdout, indent=2)
        print()
    else:
        print_report(report, str(settings.serverdir), options.repair)
    return 0 if report.ok else 1


def print_report(report: CheckReport, serverdir: str, repaired: bool) -> None:
    counts = report.counts
    print(f"idx-server check {serverdir}")
    print(
        f"  {counts.get('indexes', 0)} indexes, {counts.get('files', 0)} files, "
        f"{counts.get('toxresults', 0)} test results, {counts.get('blobs', 0)} blobs"
        + (f", {counts.get('blobs_hashed', 0)} blobs hashed" if report.checksums else "")
    )
    for problem in report.problems:
        label = "REPAIRED" if problem.repaired else "PROBLEM "
        print(f"{label} [{problem.kind}] {problem.message}")
        if not problem.repaired and problem.remedy:
            print(
                f"         {'--repair did not manage to' if repaired else '--repair would'} {problem.remedy}"
            )
    if report.in_flight:
        print(
            f"note: {len(report.in_flight)} blobs or temp files are younger than the grace period and "
            "may belong to uploads or downloads in progress; they were left alone"
        )
    remaining = report.remaining
    lost = [p for p in remaining if p.data_loss]
    if not remaining:
        fixed = len(report.problems)
        print(f"OK: {'all ' + str(fixed) + ' problems repaired' if fixed else 'no problems found'}")
        return
    fixable = [p for p in remaining if p.fix is not None]
    summary = f"{len(remaining)} problems"
    if lost:
        summary += f", {len(lost)} with DATA LOSS (only a backup or a new upload can fix those)"
    if fixable and not repaired:
        summary += f"; {len(fixable)} can be fixed with --repair"
    print(summary)
