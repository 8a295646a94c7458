"""Read-protected indexes, API tokens, login throttling and security headers."""

from __future__ import annotations

import base64

import pytest
from idx_server.testing import basic_auth

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture
def protected(mapp):
    """alice/secret readable by alice and bob only; alice/public inherits from it."""
    mapp.login_root()
    mapp.create_user("alice", "pw-a")
    mapp.create_user("bob", "pw-b")
    mapp.create_user("eve", "pw-e")
    mapp.login("alice", "pw-a")
    mapp.create_index("secret", acl_read=["alice", "bob"])
    mapp.create_index("public", bases=["alice/secret"])
    mapp.upload("alice/secret", name="hidden-thing", version="1.0")
    return mapp


class TestReadProtection:
    def test_anonymous_gets_401_with_basic_challenge(self, protected):
        for path in (
            "/alice/secret/+simple/",
            "/alice/secret/+simple/hidden-thing/",
            "/alice/secret/hidden-thing",
        ):
            response = protected.app.get(path, headers=JSON, status=401)
            assert response.headers["WWW-Authenticate"].startswith("Basic")

    def test_listed_reader_may_read(self, protected):
        protected.app.get(
            "/alice/secret/+simple/hidden-thing/", headers={**JSON, **basic_auth("bob", "pw-b")}
        )

    def test_other_user_gets_403(self, protected):
        protected.app.get(
            "/alice/secret/+simple/hidden-thing/", headers={**JSON, **basic_auth("eve", "pw-e")}, status=403
        )

    def test_files_are_protected_too(self, protected):
        page = protected.app.get(
            "/alice/secret/+simple/hidden-thing/", headers={**JSON, **basic_auth("bob", "pw-b")}
        )
        href = page.json["files"][0]["url"].replace("../../", "/alice/secret/")
        protected.app.get(href, status=401)
        protected.app.get(href, headers=basic_auth("bob", "pw-b"))

    def test_an_index_inheriting_a_protected_one_is_protected(self, protected):
        # Without this, alice/public would show alice/secret's files to anyone, and the
        # dependency-confusion rule would reveal that alice/secret has the project.
        protected.app.get("/alice/public/+simple/hidden-thing/", headers=JSON, status=401)
        protected.app.get("/alice/public/+simple/anything-else/", headers=JSON, status=401)
        protected.app.get(
            "/alice/public/+simple/hidden-thing/", headers={**JSON, **basic_auth("bob", "pw-b")}
        )

    def test_listings_leave_out_unreadable_indexes(self, protected):
        users = protected.app.get("/", headers={"Accept": "application/json"}).json["result"]
        assert "secret" not in users["alice"]["indexes"]
        users = protected.app.get(
            "/", headers={"Accept": "application/json", **basic_auth("bob", "pw-b")}
        ).json
        assert "secret" in users["result"]["alice"]["indexes"]


class TestTokens:
    @pytest.fixture
    def alice(self, mapp):
        mapp.create_and_login_user("alice", "pw-a")
        mapp.create_index("dev")
        mapp.create_index("other")
        return mapp

    def create(self, mapp, status=201, **body):
        return mapp.app.post_json("/+tokens", body, headers=mapp.headers, status=status)

    def test_token_as_basic_password(self, alice):
        secret = self.create(alice, scope="upload", index="alice/dev").json["result"]["token"]
        alice.logout()
        for user in ("__token__", "alice"):
            alice.headers = basic_auth(user, secret)
            alice.upload("alice/dev", name=f"pkg-{user.strip('_')}", version="1.0")

    def test_scopes_and_index_limits(self, alice):
        read = self.create(alice, scope="read").json["result"]["token"]
        upload_dev = self.create(alice, scope="upload", index="alice/dev").json["result"]["token"]
        alice.logout()
        alice.headers = basic_auth("__token__", read)
        alice.upload("alice/dev", name="pkg", version="1.0", status=403)
        alice.headers = basic_auth("__token__", upload_dev)
        alice.upload("alice/other", name="pkg", version="1.0", status=403)
        alice.app.patch_json("/alice/dev", ["title=x"], headers=alice.headers, status=403)

    def test_revocation_takes_effect_at_once(self, alice):
        result = self.create(alice).json["result"]
        listed = alice.app.get("/+tokens", headers=alice.headers).json["result"]
        assert result["id"] in [t["id"] for t in listed]
        assert "token" not in listed[0]
        alice.app.delete(f"/+tokens/{result['id']}", headers=alice.headers)
        alice.headers = basic_auth("__token__", result["token"])
        alice.upload("alice/dev", name="pkg", version="1.0", status=401)

    def test_expired_token_is_refused(self, alice, idx_core):
        secret = self.create(alice, expires="1s").json["result"]["token"]
        alice.headers = basic_auth("__token__", secret)
        alice.get_json("/+tokens")
        import time

        time.sleep(1.2)
        alice.app.get("/+tokens", headers=alice.headers, status=401)

    def test_logout_revokes_login_token(self, mapp):
        mapp.create_and_login_user("carol", "pw")
        mapp.app.get("/+tokens", headers=mapp.headers)
        mapp.app.post("/+logout", headers=mapp.headers)
        mapp.app.get("/+tokens", headers=mapp.headers, status=401)

    def test_tokens_are_stored_hashed(self, alice, idx_core):
        secret = self.create(alice).json["result"]["token"]
        raw = (idx_core.settings.serverdir / "idx.sqlite").read_bytes()
        assert secret.encode() not in raw


class TestThrottling:
    def test_repeated_failures_are_throttled(self, mapp):
        mapp.login_root()
        mapp.create_user("dave", "right")
        for _ in range(10):
            mapp.app.post_json("/+login", {"user": "dave", "password": "wrong"}, status=401)
        response = mapp.app.post_json("/+login", {"user": "dave", "password": "right"}, status=429)
        assert "too many failed logins" in response.json["message"]
        headers = {"Authorization": "Basic " + base64.b64encode(b"dave:right").decode()}
        mapp.app.get("/+tokens", headers=headers, status=429)


class TestThrottlingBehindAProxy:
    """With trusted_proxies, failures count against the client X-Forwarded-For names,
    not the proxy every client shares; from anyone else that header is not believed."""

    @pytest.fixture
    def idx_settings_overrides(self):
        return {"trusted_proxies": ("10.0.0.0/24",)}

    @staticmethod
    def _fail(mapp, user, forwarded_for, peer="10.0.0.5", status=401):
        return mapp.app.post_json(
            "/+login",
            {"user": user, "password": "wrong"},
            headers={"X-Forwarded-For": forwarded_for},
            extra_environ={"REMOTE_ADDR": peer},
            status=status,
        )

    def test_each_client_behind_the_proxy_has_its_own_count(self, mapp):
        for n in range(10):  # ten users, so that only the address limit can apply
            self._fail(mapp, f"user{n}", "203.0.113.7")
        response = self._fail(mapp, "user0", "203.0.113.7", status=429)
        assert "too many failed logins" in response.json["message"]
        self._fail(mapp, "someone", "203.0.113.8")  # another client: not throttled
        # The client cannot hide behind a made-up address in front of its own.
        self._fail(mapp, "user0", "198.51.100.1, 203.0.113.7", status=429)

    def test_an_untrusted_peer_is_counted_itself(self, mapp):
        for n in range(10):
            self._fail(mapp, f"user{n}", f"203.0.113.{n}", peer="192.0.2.9")
        self._fail(mapp, "someone", "203.0.113.99", peer="192.0.2.9", status=429)


def test_html_responses_carry_security_headers(mapp):
    mapp.create_and_login_user("alice")
    mapp.create_index("dev")
    mapp.upload("alice/dev", name="pkg", version="1.0")
    response = mapp.app.get("/alice/dev/+simple/pkg/", headers={"Accept": "text/html"})
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
