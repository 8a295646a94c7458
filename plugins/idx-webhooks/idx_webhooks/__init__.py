"""idx-webhooks: POST a signed JSON event to an index's ``webhook_urls`` after uploads,
pushes, yanks and deletes, with bounded retries in the background."""

__version__ = "0.1.0"
