"""``GET /{user}/{index}/+webhooks``: the index's recent deliveries (for those who may modify it)."""

from __future__ import annotations

from idx_server.model.principals import INDEX_MODIFY
from idx_server.resources import IndexResource
from idx_server.views.common import json_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from idx_webhooks.plugin import REGISTRY_KEY, WebhookService


@view_config(route_name="webhooks", request_method="GET", permission=INDEX_MODIFY)
def deliveries(request: Request) -> Response:
    context: IndexResource = request.context
    index = context.require_index()
    service: WebhookService = request.registry[REGISTRY_KEY]
    return json_response(request, "webhookdeliveries", {"deliveries": service.log.recent(index.full_name)})
