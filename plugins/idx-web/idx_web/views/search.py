"""``/+search?q=TEXT``: projects on the indexes the requester may read."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request

from idx_web.pages.listing import paginate
from idx_web.search.indexer import SearchIndexer
from idx_web.views.common import readable_indexes

RESULTS_PER_PAGE = 20
#: Deeper pages are not offered: refine the query instead.
MAX_RESULTS = 1000


def search_view(request: Request) -> dict[str, Any]:
    text = str(request.GET.get("q", "")).strip()
    indexer: SearchIndexer | None = request.registry.get("idx_web.search")
    if indexer is None:
        return {"q": text, "results": None, "pagination": None, "unavailable": True}
    requested = paginate(MAX_RESULTS, request.GET.get("page"), RESULTS_PER_PAGE)
    results = indexer.search(text, readable_indexes(request), RESULTS_PER_PAGE, requested.start)
    pagination = paginate(min(results.total, MAX_RESULTS), str(requested.page), RESULTS_PER_PAGE)
    return {"q": text, "results": results, "pagination": pagination, "unavailable": False}
