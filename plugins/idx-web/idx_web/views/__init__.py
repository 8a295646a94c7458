"""Thin views: parse the request, build one page model, hand it to a template."""
