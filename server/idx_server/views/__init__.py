"""Thin views: parse the request, call one service, return data."""
