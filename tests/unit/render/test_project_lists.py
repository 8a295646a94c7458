"""Project lists rendered in pieces: the same bytes as whole, written to disk without the
whole list in memory, and served from memory when the disk fails."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from idx_server.render import simple as render
from idx_server.services.simple import ListFiles

NAMES = [f"Project_{n:05d}" for n in range(2_345)]


@pytest.mark.parametrize("batch", [1, 7, 1_000, 10_000])
def test_pieces_join_to_a_valid_json_list(batch: int) -> None:
    body = b"".join(render.index_json_chunks(NAMES, batch=batch))
    assert body == render.index_json(NAMES)
    data = json.loads(body)
    assert [p["name"] for p in data["projects"]] == NAMES
    assert data["meta"]["api-version"] == render.API_VERSION


def test_an_empty_list_is_valid() -> None:
    assert json.loads(render.index_json([]))["projects"] == []
    assert b"<a " not in render.index_html([], "t")


def test_html_pieces_link_normalized_names() -> None:
    body = b"".join(render.index_html_chunks(NAMES[:3], "Simple <index>", batch=2)).decode()
    assert '<a href="project-00000/">Project_00000</a>' in body
    assert "<title>Simple &lt;index&gt;</title>" in body
    assert body.endswith("</body>\n</html>\n")


def test_a_list_goes_to_disk_with_its_gzip(tmp_path: Path) -> None:
    files = ListFiles(tmp_path / "lists")
    page = files.render(("list", 1, render.JSON_TYPE), (1,), render.JSON_TYPE, lambda: iter(NAMES), "t")
    assert page.path is not None
    assert page.gzipped_path is not None
    assert page.path.read_bytes() == render.index_json(NAMES)
    assert gzip.decompress(page.gzipped_path.read_bytes()) == page.path.read_bytes()
    assert not list((tmp_path / "lists").glob("*.tmp"))


def test_a_failing_disk_serves_the_list_from_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "lists"
    blocker.write_text("a file where the directory should be")
    page = ListFiles(blocker).render(("list", 1, "text/html"), (1,), "text/html", lambda: iter(NAMES), "t")
    assert page.path is None
    assert page.body == render.index_html(NAMES, "t")
