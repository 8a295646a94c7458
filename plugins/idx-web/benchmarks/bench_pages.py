"""How fast idx-web renders its heaviest pages: a project with 1,000 versions.

    python plugins/idx-web/benchmarks/bench_pages.py [--versions 1000] [--rounds 30] [--check]

Builds a throwaway server in a temp dir, writes the releases straight into its store
(two files each, as an upload would leave them), then times in-process requests with a
browser's Accept header. ``--check`` exits 1 when a median exceeds the 50 ms budget
(for a person or a benchmark job to run; the test suite asserts no timings).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import idx_web.plugin
import webtest
from idx_server.app import Core, build_core, initialize, make_app
from idx_server.model.distfiles import DistFile
from idx_server.model.users import Release
from idx_server.plugins import get_plugin_manager
from idx_server.services.indexes import IndexService
from idx_server.services.users import UserService
from idx_server.settings import Settings
from idx_server.testing import ROOT_PASSWORD, UNREACHABLE_UPSTREAM
from idx_web.search.indexer import PLUGIN_NAME, SearchIndexer

BUDGET_MS = 50.0
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
DESCRIPTION = (
    "# big\n\n" + "A paragraph of *Markdown* with `code` and a [link](https://example.org).\n\n" * 40
)


def populate(core: Core, versions: int) -> None:
    core.service(UserService).create("alice", {"password": "secret"})
    index = core.service(IndexService).create("alice", "dev", {})
    store = core.store
    with store.write() as tx:
        for n in range(versions):
            version = f"{n // 100}.{n % 100}.0"
            metadata = {
                "name": "big",
                "version": version,
                "summary": "A project with many versions",
                "description": DESCRIPTION,
                "description_content_type": "text/markdown",
                "requires_dist": ["attrs>=22", "packaging"],
                "classifiers": ["Programming Language :: Python :: 3"],
            }
            store.put_release(Release(index.id, "big", version, metadata, "2026-01-01T00:00:00Z", tx.serial))
            for filename in (f"big-{version}-py3-none-any.whl", f"big-{version}.tar.gz"):
                sha256 = hashlib.sha256(filename.encode()).hexdigest()
                store.put_file(
                    DistFile(
                        index_id=index.id,
                        project="big",
                        version=version,
                        filename=filename,
                        path_key=sha256,
                        sha256=sha256,
                        size=12345,
                        upload_time="2026-01-01T00:00:00Z",
                        uploader="alice",
                        yanked=n % 50 == 0,
                    )
                )
        store.touch_project(index.id, "big", "big", tx.serial)


def timed(app: webtest.TestApp, path: str, rounds: int) -> list[float]:
    app.get(path, headers=BROWSER)  # warm caches (templates, rendered README)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        app.get(path, headers=BROWSER)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--check", action="store_true", help=f"fail if a median exceeds {BUDGET_MS:.0f} ms")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            serverdir=Path(tmp) / "server", root_password=ROOT_PASSWORD, mirror_url=UNREACHABLE_UPSTREAM
        )
        core = build_core(
            settings, get_plugin_manager(load_entrypoints=False, extra_plugins=(idx_web.plugin,))
        )
        initialize(core)
        try:
            populate(core, args.versions)
            app = webtest.TestApp(make_app(core))
            last = f"{(args.versions - 1) // 100}.{(args.versions - 1) % 100}.0"
            pages = {
                f"project page ({args.versions} versions)": "/alice/dev/big",
                "release page": f"/alice/dev/big/{last}",
                "index page": "/alice/dev",
                "search": "/+search?q=big",
            }
            failed = False
            print(f"{'page':40} {'median':>9} {'p95':>9} {'max':>9}")
            for label, path in pages.items():
                samples = sorted(timed(app, path, args.rounds))
                median = statistics.median(samples)
                p95 = samples[int(len(samples) * 0.95) - 1]
                print(f"{label:40} {median:7.1f}ms {p95:7.1f}ms {samples[-1]:7.1f}ms")
                failed = failed or median > BUDGET_MS
        finally:
            indexer = core.pm.get_plugin(PLUGIN_NAME)
            if isinstance(indexer, SearchIndexer):
                indexer.close()
            core.close()
    if args.check and failed:
        print(f"a median exceeds the {BUDGET_MS:.0f} ms budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
