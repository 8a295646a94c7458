"""Use cases around users: create, modify, delete, list."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from idx_server.events import Event, EventDispatcher
from idx_server.model.errors import Conflict, Forbidden, InvalidInput, NotFound
from idx_server.model.names import validate_user_name
from idx_server.model.users import ROOT, User
from idx_server.passwords import hash_password
from idx_server.services.clock import now_iso
from idx_server.services.indexes import CONFIG_SERIAL
from idx_server.storage import BlobStore, MetaStore

USER_KEYS = frozenset({"password", "pwhash", "email", "title", "description", "custom_data"})
#: Keys GET shows that are not settable; a config sent back as shown may carry them.
SHOWN_USER_KEYS = frozenset({"username", "created", "modified", "indexes"})


class UserService:
    def __init__(self, store: MetaStore, blobs: BlobStore, events: EventDispatcher) -> None:
        self.store = store
        self.blobs = blobs
        self.events = events

    def get(self, name: str) -> User:
        user = self.store.get_user(name)
        if user is None:
            raise NotFound(f"user {name!r} does not exist")
        return user

    def find(self, name: str) -> User | None:
        return self.store.get_user(name)

    def all_users(self) -> list[User]:
        return self.store.list_users()

    def create(self, name: str, values: Mapping[str, Any]) -> User:
        validate_user_name(name)
        fields = _user_fields(values)
        if "password" not in values and "pwhash" not in values:
            raise InvalidInput(f"creating user {name!r} needs a password")
        now = now_iso()
        user = User(name=name, created=now, modified=now, **fields)
        with self.store.write() as tx:
            if self.store.get_user(name) is not None:
                raise Conflict(f"user {name!r} already exists")
            self.store.add_user(user)
            event = Event("user_created", tx.serial, now, user=name, payload={"user": name})
            tx.after_commit(lambda: self.events.emit(event))
        return user

    def modify(self, name: str, values: Mapping[str, Any]) -> User:
        fields = _user_fields(values)
        with self.store.write():
            user = self.get(name)
            updated = replace(user, modified=now_iso(), **fields)
            self.store.update_user(updated)
        return updated

    def set_password(self, name: str, password: str) -> None:
        self.modify(name, {"password": password})

    def delete(self, name: str) -> None:
        if name == ROOT:
            raise Forbidden("the root user cannot be deleted")
        with self.store.write() as tx:
            self.get(name)
            indexes = self.store.list_indexes(name)
            stable = [ix.full_name for ix in indexes if not ix.config.volatile and not ix.is_mirror]
            if stable:
                raise Forbidden(
                    f"user {name!r} owns non-volatile indexes ({', '.join(stable)}); "
                    "make them volatile or delete them first"
                )
            owned = {ix.full_name for ix in indexes}
            dependents = sorted(
                f"{ix.full_name} (base {base})"
                for ix in self.store.list_indexes()
                if ix.full_name not in owned
                for base in ix.config.bases
                if base in owned
            )
            if dependents:
                raise Conflict(
                    f"user {name!r} owns indexes that others inherit from: {', '.join(dependents)}; "
                    "remove them from those bases first"
                )
            orphans: list[str] = []
            for index in indexes:
                orphans += self.store.delete_index(index.id)
            self.store.delete_user(name)
            self.store.set_meta(CONFIG_SERIAL, str(tx.serial))
            now = now_iso()
            events = [Event("index_deleted", tx.serial, now, index=ix.full_name, user=name) for ix in indexes]
            tx.after_commit(lambda: self._drop_unused_blobs(orphans))
            for event in events:
                tx.after_commit(partial(self.events.emit, event))

    def _drop_unused_blobs(self, shas: list[str]) -> None:
        for sha in shas:
            if not self.store.blob_in_use(sha):
                self.blobs.delete(sha)

    def ensure_root(self, password: str | None) -> str | None:
        """Create ``root`` on a fresh server. Returns a generated password, if one was made."""
        if self.store.get_user(ROOT) is not None:
            return None
        generated = None
        if not password:
            password = generated = secrets.token_urlsafe(18)
        self.create(ROOT, {"password": password})
        return generated


def _user_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    values = {key: value for key, value in values.items() if key not in SHOWN_USER_KEYS}
    unknown = set(values) - USER_KEYS
    if unknown:
        raise InvalidInput(
            f"unknown user field{'s' if len(unknown) > 1 else ''} {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(USER_KEYS))}"
        )
    fields: dict[str, Any] = {}
    for key, value in values.items():
        if key == "password":
            if not isinstance(value, str) or not value:
                raise InvalidInput("password: expected a non-empty string")
            fields["pwhash"] = hash_password(value)
        elif key == "pwhash":
            if not isinstance(value, str) or not value.startswith("$argon2"):
                raise InvalidInput("pwhash: expected an argon2 hash ($argon2...)")
            fields["pwhash"] = value
        elif key == "custom_data":
            fields[key] = value
        else:
            if not isinstance(value, str):
                raise InvalidInput(f"{key}: expected a string")
            fields[key] = value
    return fields
