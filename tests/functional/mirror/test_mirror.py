"""root/pypi and other mirror indexes, in process, against a fake upstream."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import urljoin

import pytest
from idx_server.app import build_core, initialize, make_app
from idx_server.plugins import get_plugin_manager
from idx_server.services.clock import iso_from_timestamp

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def file_url(mapp, index, project, filename):
    page = mapp.simple_json(index, project).json
    entry = next(f for f in page["files"] if f["filename"] == filename)
    return urljoin(f"/{index}/+simple/{project}/", entry["url"]), entry


def fresh_app(idx_settings):
    """A second server on the same server directory (a restart)."""
    import webtest

    core = build_core(idx_settings, get_plugin_manager(load_entrypoints=False))
    initialize(core)
    return core, webtest.TestApp(make_app(core))


class TestUpstreamFacts:
    def test_json_upstream_facts_are_kept(self, mapp, upstream):
        upstream.add(
            "facts", "1.0", sdist=True, requires_python=">=3.9", upload_time="2023-05-06T07:08:09.123456Z"
        )
        upstream.file("facts-1.0.tar.gz").yanked = "broken build"
        page = mapp.simple_json("root/pypi", "facts").json
        wheel, sdist = page["files"]
        assert wheel["requires-python"] == ">=3.9"
        assert wheel["upload-time"] == "2023-05-06T07:08:09.123456Z"
        assert wheel["size"] == len(upstream.file(wheel["filename"]).dist.content)
        assert wheel["hashes"] == {"sha256": upstream.file(wheel["filename"]).dist.sha256}
        assert wheel["core-metadata"] == {
            "sha256": hashlib.sha256(upstream.file(wheel["filename"]).dist.metadata).hexdigest()
        }
        assert wheel["yanked"] is False
        assert sdist["yanked"] == "broken build"
        assert page["versions"] == ["1.0"]

    def test_html_only_upstream(self, mapp, upstream):
        upstream.formats = {"html"}
        upstream.add("htmlonly", "2.0", requires_python="<4,>=3.8")
        upstream.file("htmlonly-2.0-py3-none-any.whl").yanked = "oops"
        page = mapp.simple_json("root/pypi", "htmlonly").json
        (entry,) = page["files"]
        assert entry["requires-python"] == "<4,>=3.8"
        assert entry["yanked"] == "oops"
        assert entry["hashes"]["sha256"] == upstream.file(entry["filename"]).dist.sha256
        html = mapp.simple_html("root/pypi", "htmlonly").text
        assert 'data-requires-python="&lt;4,&gt;=3.8"' in html
        assert 'data-yanked="oops"' in html

    def test_project_status_passes_through(self, mapp, upstream):
        upstream.add("archived-thing")
        upstream.projects["archived-thing"].status = "archived"
        page = mapp.simple_json("root/pypi", "archived-thing").json
        assert page["project-status"] == {"status": "archived"}

    def test_unknown_project_is_404(self, mapp, upstream):
        mapp.simple_json("root/pypi", "does-not-exist", status=404)
        assert upstream.count("/simple/does-not-exist/") == 1


class TestPageCache:
    def test_page_is_fetched_once_while_fresh(self, mapp, upstream):
        upstream.add("cached")
        for _ in range(3):
            mapp.simple_json("root/pypi", "cached")
        assert upstream.count("/simple/cached/") == 1

    def test_expired_page_is_revalidated_with_etag(self, mapp, upstream):
        upstream.add("reval")
        mapp.login_root()
        mapp.modify_index("root/pypi", ["mirror_cache_expiry=0"])
        mapp.simple_json("root/pypi", "reval")
        mapp.simple_json("root/pypi", "reval")
        log = [headers for path, headers in upstream.request_log if path == "/simple/reval/"]
        assert len(log) == 2
        assert "If-None-Match" not in log[0]
        assert log[1]["If-None-Match"]

    def test_new_upstream_release_seen_after_expiry(self, mapp, upstream):
        upstream.add("grows", "1.0")
        mapp.login_root()
        mapp.modify_index("root/pypi", ["mirror_cache_expiry=0"])
        assert mapp.simple_json("root/pypi", "grows").json["versions"] == ["1.0"]
        upstream.add("grows", "1.1")
        assert mapp.simple_json("root/pypi", "grows").json["versions"] == ["1.0", "1.1"]

    def test_refresh_forces_revalidation(self, mapp, upstream):
        upstream.add("refreshme", "1.0")
        mapp.simple_json("root/pypi", "refreshme")
        upstream.add("refreshme", "2.0")
        assert mapp.simple_json("root/pypi", "refreshme").json["versions"] == ["1.0"]
        mapp.app.post("/root/pypi/+simple/refreshme/refresh", headers={"Accept": "application/json"})
        assert mapp.simple_json("root/pypi", "refreshme").json["versions"] == ["1.0", "2.0"]

    def test_cache_survives_restart(self, mapp, upstream, idx_settings):
        upstream.add("survivor")
        url, _entry = file_url(mapp, "root/pypi", "survivor", "survivor-1.0-py3-none-any.whl")
        mapp.app.get(url)
        upstream.reset_counts()
        core, app = fresh_app(idx_settings)
        try:
            app.get("/root/pypi/+simple/survivor/", headers=JSON)
            app.get(url)
        finally:
            core.close()
        assert upstream.count() == 0


class TestFiles:
    def test_file_fetched_once_then_served_from_cache(self, mapp, upstream):
        upstream.add("once")
        url, entry = file_url(mapp, "root/pypi", "once", "once-1.0-py3-none-any.whl")
        for _ in range(3):
            body = mapp.app.get(url).body
            assert hashlib.sha256(body).hexdigest() == entry["hashes"]["sha256"]
        assert upstream.file_requests("once-1.0-py3-none-any.whl") == 1

    @pytest.mark.parametrize("query", ["", "?via=view"])  # the fast path, then the view
    def test_first_downloads_go_to_waitress_uncopied(self, mapp, upstream, query):
        """Under waitress (its file wrapper in the environ), a first download's chunks are
        buffers waitress queues as they are (idx_server.filebody.streamed_body)."""
        from waitress.buffers import ReadOnlyFileBasedBuffer
        from webob import Request

        upstream.add("uncopied")
        url, entry = file_url(mapp, "root/pypi", "uncopied", "uncopied-1.0-py3-none-any.whl")
        request = Request.blank(url + query, environ={"wsgi.file_wrapper": ReadOnlyFileBasedBuffer})
        status, _headers, body = request.call_application(mapp.app.app)
        try:
            items = list(body)
        finally:
            body.close()
        assert status.startswith("200")
        assert items
        assert all(isinstance(item, ReadOnlyFileBasedBuffer) for item in items)
        content = b"".join(bytes(item.get()) for item in items)
        assert hashlib.sha256(content).hexdigest() == entry["hashes"]["sha256"]

    def test_corrupt_file_is_not_kept(self, mapp, upstream, idx_core, caplog):
        upstream.add("corrupt")
        upstream.file("corrupt-1.0-py3-none-any.whl").corrupt_with = b"x" * 2000
        url, _entry = file_url(mapp, "root/pypi", "corrupt", "corrupt-1.0-py3-none-any.whl")
        with pytest.raises(Exception, match=r"sha256|bytes"):
            mapp.app.get(url)
        assert "nothing was kept" in caplog.text
        blobs = [p for p in (idx_core.settings.serverdir / "+files").rglob("*") if p.is_file()]
        assert all(".tmp" not in p.parts for p in blobs)
        # The upstream is fixed: the next request fetches again and succeeds.
        upstream.file("corrupt-1.0-py3-none-any.whl").corrupt_with = None
        assert mapp.app.get(url).status_int == 200
        assert upstream.file_requests("corrupt-1.0-py3-none-any.whl") == 2

    def test_core_metadata_from_upstream(self, mapp, upstream):
        upstream.add("meta")
        url, entry = file_url(mapp, "root/pypi", "meta", "meta-1.0-py3-none-any.whl")
        data = mapp.app.get(url + ".metadata").body
        assert hashlib.sha256(data).hexdigest() == entry["core-metadata"]["sha256"]
        assert data == upstream.file("meta-1.0-py3-none-any.whl").dist.metadata

    def test_core_metadata_extracted_when_upstream_has_none(self, mapp, upstream):
        upstream.add("nometa", core_metadata=False)
        url, entry = file_url(mapp, "root/pypi", "nometa", "nometa-1.0-py3-none-any.whl")
        assert entry["core-metadata"] is False
        mapp.app.get(url + ".metadata", status=404)
        mapp.app.get(url)
        # The wheel is stored (and its METADATA extracted) just after the last byte went out.
        deadline = time.monotonic() + 10
        while entry["core-metadata"] is False and time.monotonic() < deadline:
            time.sleep(0.05)
            _url, entry = file_url(mapp, "root/pypi", "nometa", "nometa-1.0-py3-none-any.whl")
        data = mapp.app.get(url + ".metadata").body
        assert entry["core-metadata"] == {"sha256": hashlib.sha256(data).hexdigest()}
        assert data == upstream.file("nometa-1.0-py3-none-any.whl").dist.metadata

    def test_range_request_on_cached_file(self, mapp, upstream):
        upstream.add("ranged")
        url, _entry = file_url(mapp, "root/pypi", "ranged", "ranged-1.0-py3-none-any.whl")
        full = mapp.app.get(url).body
        part = mapp.app.get(url, headers={"Range": "bytes=10-19"}, status=206)
        assert part.body == full[10:20]


class TestOutage:
    def test_cached_project_served_when_upstream_down(self, mapp, upstream):
        upstream.add("resilient")
        url, _entry = file_url(mapp, "root/pypi", "resilient", "resilient-1.0-py3-none-any.whl")
        mapp.app.get(url)
        mapp.login_root()
        mapp.modify_index("root/pypi", ["mirror_cache_expiry=0"])
        upstream.stop()
        response = mapp.simple_json("root/pypi", "resilient")
        assert response.headers["X-Idx-Stale"] == "root/pypi"
        assert [f["filename"] for f in response.json["files"]] == ["resilient-1.0-py3-none-any.whl"]
        assert mapp.app.get(url).status_int == 200

    def test_unknown_project_when_upstream_down_is_503_quickly(self, mapp, upstream):
        upstream.stop()
        start = time.monotonic()
        response = mapp.simple_json("root/pypi", "never-seen", status=503)
        assert time.monotonic() - start < 5
        assert "cannot be reached" in response.json["message"]

    def test_upstream_5xx_for_unknown_project_is_502(self, mapp, upstream):
        upstream.fail_status = 500
        response = mapp.simple_json("root/pypi", "broken", status=502)
        assert "500" in response.json["message"]

    def test_upstream_5xx_serves_stale(self, mapp, upstream):
        upstream.add("flaky")
        mapp.simple_json("root/pypi", "flaky")
        mapp.login_root()
        mapp.modify_index("root/pypi", ["mirror_cache_expiry=0"])
        upstream.fail_status = 503
        response = mapp.simple_json("root/pypi", "flaky")
        assert response.headers["X-Idx-Stale"] == "root/pypi"


class _SlowUpstream:
    """What the tests of a slow upstream share: a stale timeout of 1 s, with retries."""

    @pytest.fixture
    def idx_settings_overrides(self, upstream):
        return {"mirror_url": upstream.url, "upstream_stale_timeout": 1, "upstream_retries": 2}

    @staticmethod
    def _mirror(idx_core):
        from idx_server.mirror.service import MirrorService

        return idx_core.service(MirrorService)

    @staticmethod
    def _expire(mapp):
        mapp.login_root()
        mapp.modify_index("root/pypi", ["mirror_cache_expiry=0"])

    def _cached_and_due(self, mapp, upstream, name):
        upstream.add(name, "1.0")
        mapp.simple_json("root/pypi", name)
        self._expire(mapp)
        mapp.logout()

    @staticmethod
    def _timed(mapp, project):
        start = time.monotonic()
        response = mapp.simple_json("root/pypi", project)
        return response, time.monotonic() - start

    @staticmethod
    def _wait_idle(mirror):
        deadline = time.monotonic() + 15
        while not mirror.flights_idle() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mirror.flights_idle()


class TestSlowUpstream(_SlowUpstream):
    """A cached page due for revalidation waits at most upstream_stale_timeout for
    upstream (1 s here), then is served as it is while the revalidation goes on in the
    background; meanwhile other pages of that mirror do not wait at all."""

    def test_the_cached_page_is_served_and_revalidated_behind_it(self, mapp, upstream, idx_core):
        upstream.add("slowpoke", "1.0")
        mapp.simple_json("root/pypi", "slowpoke")
        self._expire(mapp)
        upstream.add("slowpoke", "2.0")
        upstream.path_delays["/simple/slowpoke/"] = 3
        response, took = self._timed(mapp, "slowpoke")
        assert 0.9 < took < 2.5
        assert response.headers["X-Idx-Stale"] == "root/pypi"
        assert response.json["versions"] == ["1.0"]
        self._wait_idle(self._mirror(idx_core))  # the revalidation waited the 3 s out
        upstream.stop()  # what is served now is what the revalidation stored
        response, took = self._timed(mapp, "slowpoke")
        assert response.json["versions"] == ["1.0", "2.0"]
        assert took < 1

    def test_while_upstream_is_slow_other_pages_do_not_wait(self, mapp, upstream, idx_core):
        for name in ("first", "second"):
            upstream.add(name, "1.0")
            mapp.simple_json("root/pypi", name)
            upstream.path_delays[f"/simple/{name}/"] = 3
        self._expire(mapp)
        _response, took = self._timed(mapp, "first")
        assert 0.9 < took < 2.5
        response, took = self._timed(mapp, "second")
        assert took < 0.5
        assert response.headers["X-Idx-Stale"] == "root/pypi"
        self._wait_idle(self._mirror(idx_core))
        # Both were revalidated in the background; the answers ended the slow spell.
        assert upstream.count("/simple/second/") == 2
        upstream.path_delays.clear()
        response, took = self._timed(mapp, "second")
        assert "X-Idx-Stale" not in response.headers

    def test_a_page_never_fetched_waits_for_upstream(self, mapp, upstream):
        upstream.add("newcomer", "1.0")
        upstream.path_delays["/simple/newcomer/"] = 2
        response, took = self._timed(mapp, "newcomer")
        assert took >= 2
        assert response.json["versions"] == ["1.0"]

    def test_an_explicit_refresh_waits_for_upstream(self, mapp, upstream):
        upstream.add("forced", "1.0")
        mapp.simple_json("root/pypi", "forced")
        upstream.add("forced", "2.0")
        upstream.path_delays["/simple/forced/"] = 2
        start = time.monotonic()
        mapp.app.post("/root/pypi/+simple/forced/refresh", headers={"Accept": "application/json"})
        assert time.monotonic() - start >= 2
        assert mapp.simple_json("root/pypi", "forced").json["versions"] == ["1.0", "2.0"]

    def test_the_request_log_counts_the_wait_for_upstream(self, mapp, upstream, idx_core, monkeypatch):
        """A never-fetched page whose upstream answers late and fails: the fast path waits
        for it, then the views answer the error. The request's log line counts the wait
        (it said 1 ms for a request of 90 s)."""
        lines = []
        monkeypatch.setattr(idx_core.access_log, "record", lambda *line: lines.append(line))
        upstream.path_delays["/simple/newcomer/"] = 0.3
        upstream.fail_status = 503
        start = time.monotonic()
        response = mapp.app.get("/root/pypi/+simple/newcomer/", expect_errors=True)
        took = time.monotonic() - start
        assert response.status_int in (502, 503, 504), response
        assert upstream.count("/simple/newcomer/") == 3  # retried twice, and not asked again
        [(method, path, status, milliseconds)] = lines
        assert (method, path, status) == ("GET", "/root/pypi/+simple/newcomer/", response.status_int)
        assert took >= 0.9
        assert 0.9 * took <= milliseconds / 1000 <= took


class TestSlowUpstreamShapes(_SlowUpstream):
    """However upstream is slow (5xx answered late and retried, Retry-After, a body that
    trickles in), a cached page waits upstream_stale_timeout at most; what is not slow (a
    dropped connection, a refused one) is neither waited for nor counted as slow."""

    def test_slow_5xx_answers_retried(self, mapp, upstream):
        self._cached_and_due(mapp, upstream, "slow5xx")
        upstream.path_delays["/simple/slow5xx/"] = 0.9
        upstream.fail_status = 503
        response, took = self._timed(mapp, "slow5xx")
        assert response.headers["X-Idx-Stale"] == "root/pypi"
        assert took < 2

    def test_retry_after(self, mapp, upstream, monkeypatch):
        from fakes import upstream as fake_module

        self._cached_and_due(mapp, upstream, "retryafter")
        original = fake_module._Handler._send

        def send(self, status, body, content_type, headers=None):
            if status == 503:
                headers = {**(headers or {}), "Retry-After": "3"}
            original(self, status, body, content_type, headers)

        monkeypatch.setattr(fake_module._Handler, "_send", send)
        upstream.fail_status = 503
        response, took = self._timed(mapp, "retryafter")
        assert response.headers["X-Idx-Stale"] == "root/pypi"
        assert took < 2

    def test_a_trickling_body(self, mapp, upstream, monkeypatch):
        from fakes import upstream as fake_module

        self._cached_and_due(mapp, upstream, "trickle")
        upstream.add("trickle", "2.0")
        original = fake_module._Handler._send

        def send(self, status, body, content_type, headers=None):
            if status != 200 or b"trickle" not in body:
                original(self, status, body, content_type, headers)
                return
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:-10])
            self.wfile.flush()
            for byte in body[-10:]:
                time.sleep(0.3)
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

        monkeypatch.setattr(fake_module._Handler, "_send", send)
        upstream.send_etags = False
        response, took = self._timed(mapp, "trickle")
        assert response.headers["X-Idx-Stale"] == "root/pypi"
        assert took < 2

    def test_a_dropped_connection_is_retried_not_slow(self, mapp, upstream, idx_core, monkeypatch):
        import socket

        from fakes import upstream as fake_module

        self._cached_and_due(mapp, upstream, "dropped")
        upstream.add("dropped", "2.0")
        original = fake_module._Handler.do_GET
        drops = {"left": 1}

        def do_get(self):
            if self.path.startswith("/simple/dropped/") and drops["left"]:
                drops["left"] -= 1
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            original(self)

        monkeypatch.setattr(fake_module._Handler, "do_GET", do_get)
        response = mapp.simple_json("root/pypi", "dropped")
        assert "X-Idx-Stale" not in response.headers
        assert response.json["versions"] == ["1.0", "2.0"]
        assert not self._mirror(idx_core)._slow

    def test_a_refused_connection_is_an_outage_not_slowness(self, mapp, upstream, idx_core, caplog):
        self._cached_and_due(mapp, upstream, "down")
        upstream.stop()
        response, took = self._timed(mapp, "down")
        assert response.headers["X-Idx-Stale"] == "root/pypi"
        assert took < 1
        assert not self._mirror(idx_core)._slow
        assert "did not answer" not in caplog.text

    def test_an_explicit_refresh_behind_a_waiting_request_waits_for_upstream(self, mapp, upstream):
        import threading

        self._cached_and_due(mapp, upstream, "forcedfollow")
        upstream.add("forcedfollow", "2.0")
        upstream.path_delays["/simple/forcedfollow/"] = 2.5
        waiting = threading.Thread(target=lambda: mapp.simple_json("root/pypi", "forcedfollow"))
        waiting.start()
        time.sleep(0.3)
        start = time.monotonic()
        mapp.login_root()
        mapp.app.post(
            "/root/pypi/+simple/forcedfollow/refresh", headers={"Accept": "application/json", **mapp.headers}
        )
        took = time.monotonic() - start
        waiting.join()
        assert took >= 2
        upstream.path_delays.clear()
        assert mapp.simple_json("root/pypi", "forcedfollow").json["versions"] == ["1.0", "2.0"]


class TestDependencyConfusion:
    @pytest.fixture
    def dev(self, mapp, upstream):
        upstream.add("internal-tool", "99.0")
        upstream.add("public-lib", "1.0")
        mapp.create_and_login_user("alice")
        mapp.create_index("dev", bases=["root/pypi"])
        mapp.upload("alice/dev", name="internal-tool", version="1.0")
        return mapp

    def test_private_project_hides_mirror_and_is_not_asked_upstream(self, dev, upstream):
        page = dev.simple_json("alice/dev", "internal-tool").json
        assert page["versions"] == ["1.0"]
        assert upstream.count("/simple/internal-tool/") == 0

    def test_public_projects_still_come_through(self, dev, upstream):
        page = dev.simple_json("alice/dev", "public-lib").json
        assert page["versions"] == ["1.0"]

    def test_whitelist_merges_mirror(self, dev, upstream):
        dev.modify_index("alice/dev", ["mirror_whitelist+=internal-tool"])
        page = dev.simple_json("alice/dev", "internal-tool").json
        assert page["versions"] == ["1.0", "99.0"]

    def test_refresh_does_not_leak_private_name(self, dev, upstream):
        dev.app.post("/alice/dev/+simple/internal-tool/refresh", headers={"Accept": "application/json"})
        assert upstream.count("/simple/internal-tool/") == 0


class TestPolicies:
    def test_cool_down_hides_young_files(self, mapp, upstream):
        now = time.time()
        upstream.add("cooling", "1.0", upload_time=iso_from_timestamp(now - 30 * 86400))
        upstream.add("cooling", "1.1", upload_time=iso_from_timestamp(now - 86400))
        mapp.login_root()
        mapp.modify_index("root/pypi", ["mirror_min_age=7d"])
        page = mapp.simple_json("root/pypi", "cooling").json
        assert [f["filename"] for f in page["files"]] == ["cooling-1.0-py3-none-any.whl"]
        assert page["versions"] == ["1.0"]  # 1.1 is not named either

    def test_offline_lists_only_cached_files(self, mapp, upstream):
        upstream.add("offl", "1.0")
        upstream.add("offl", "2.0")
        url, _ = file_url(mapp, "root/pypi", "offl", "offl-1.0-py3-none-any.whl")
        mapp.app.get(url)
        mapp.login_root()
        mapp.modify_index("root/pypi", ["mirror_offline=True", "mirror_cache_expiry=0"])
        upstream.reset_counts()
        page = mapp.simple_json("root/pypi", "offl").json
        assert [f["filename"] for f in page["files"]] == ["offl-1.0-py3-none-any.whl"]
        assert page["versions"] == ["1.0"]
        mapp.simple_json("root/pypi", "other", status=404)
        assert upstream.count() == 0

    def test_eviction_keeps_the_cache_under_its_limit(self, mapp, upstream, idx_core):
        for name in ("ev-a", "ev-b", "ev-c"):
            upstream.add(name, code="X = '" + "y" * 5000 + "'\n")
        size = len(upstream.file("ev_a-1.0-py3-none-any.whl").dist.content)
        mapp.login_root()
        mapp.modify_index("root/pypi", [f"mirror_max_size={int(size * 2.5)}"])
        urls = {}
        for name in ("ev-a", "ev-b", "ev-c"):
            urls[name], _ = file_url(
                mapp, "root/pypi", name, f"{name.replace('-', '_')}-1.0-py3-none-any.whl"
            )
            mapp.app.get(urls[name])
            time.sleep(0.01)
        status = mapp.app.get("/+status", headers={"Accept": "application/json"}).json["result"]
        assert status["mirror-cache-size"] <= size * 2.5
        before = upstream.file_requests("ev_a-1.0-py3-none-any.whl")
        mapp.app.get(urls["ev-a"])
        assert upstream.file_requests("ev_a-1.0-py3-none-any.whl") == before + 1


class TestCredentials:
    def test_credentials_used_and_never_shown(self, mapp, upstream):
        upstream.require_auth = ("mirroruser", "s3cret")
        upstream.add("private-upstream")
        url = upstream.url.replace("http://", "http://mirroruser:s3cret@")
        mapp.login_root()
        mapp.modify_index("root/pypi", {"mirror_url": url})
        config = mapp.get_json("/root/pypi").json["result"]
        assert "s3cret" not in str(config)
        page = mapp.simple_json("root/pypi", "private-upstream")
        assert "s3cret" not in page.text
        file_path, _ = file_url(
            mapp, "root/pypi", "private-upstream", "private_upstream-1.0-py3-none-any.whl"
        )
        assert mapp.app.get(file_path).status_int == 200
        # Sending the shown (redacted) URL back keeps the real credentials.
        mapp.modify_index("root/pypi", {"mirror_url": config["mirror_url"], "mirror_cache_expiry": 0})
        assert mapp.simple_json("root/pypi", "private-upstream").status_int == 200


class TestProjectList:
    def test_root_listing_merges_upstream_list(self, mapp, upstream, idx_core):
        for name in ("Alpha", "beta", "Gamma_Ray"):
            upstream.add(name)
        mapp.app.get("/root/pypi/+simple/", headers=JSON)
        deadline = time.monotonic() + 10
        names = []
        while time.monotonic() < deadline:
            names = [p["name"] for p in mapp.app.get("/root/pypi/+simple/", headers=JSON).json["projects"]]
            if names:
                break
            time.sleep(0.05)
        assert names == ["Alpha", "beta", "Gamma_Ray"]
        html = mapp.app.get("/root/pypi/+simple/", headers={"Accept": "text/html"}).text
        assert '<a href="gamma-ray/">Gamma_Ray</a>' in html


class TestUncachedErrors:
    """Uncached files and metadata of a public mirror are fetched by the fast path; once
    upstream was asked, its failure is answered there, as the error view would, and
    upstream is not asked a second time by the view."""

    def test_file_missing_upstream_is_404_asked_once(self, mapp, upstream):
        upstream.add("gone")
        url, _entry = file_url(mapp, "root/pypi", "gone", "gone-1.0-py3-none-any.whl")
        upstream.fail_status = 404
        response = mapp.app.get(url, status=404)
        assert response.json["message"] == "upstream has no file gone-1.0-py3-none-any.whl (404)"
        assert "upstream has no file" in response.status  # pip prints only the reason
        assert upstream.file_requests("gone-1.0-py3-none-any.whl") == 1

    def test_metadata_missing_upstream_is_404_asked_once(self, mapp, upstream):
        upstream.add("nometa-up")
        url, _entry = file_url(mapp, "root/pypi", "nometa-up", "nometa_up-1.0-py3-none-any.whl")
        upstream.fail_status = 404
        response = mapp.app.get(url + ".metadata", headers={"Accept": "text/plain"}, status=404)
        assert response.content_type == "text/plain"
        assert response.text == "no core metadata is served for nometa_up-1.0-py3-none-any.whl\n"
        assert upstream.count("/files/nometa_up-1.0-py3-none-any.whl.metadata") == 1

    def test_file_with_upstream_down_is_503(self, mapp, upstream, caplog):
        upstream.add("offline")
        url, _entry = file_url(mapp, "root/pypi", "offline", "offline-1.0-py3-none-any.whl")
        upstream.stop()
        response = mapp.app.get(url, status=503)
        assert "cannot be reached" in response.json["message"]
        assert "X-Devpi-Serial" in response.headers  # devpi-client reads it on every answer
        assert f"GET {url}: " in caplog.text  # 5xx are logged, as by the error view

    def test_head_of_uncached_file_is_left_to_the_view(self, mapp, upstream):
        upstream.add("headonly")
        url, _entry = file_url(mapp, "root/pypi", "headonly", "headonly-1.0-py3-none-any.whl")
        response = mapp.app.head(url)
        assert response.status_int == 200
        assert "Content-Disposition" in response.headers


class TestMetadataStoredAfterTheAnswer:
    """Metadata fetched from upstream is answered from memory and stored afterwards (the
    blob, then the row pointing at it) on the store threads: a cold resolution asks for
    dozens at once and no longer waits for the disk."""

    @staticmethod
    def _mirror(idx_core):
        from idx_server.mirror.service import MirrorService

        return idx_core.service(MirrorService)

    def test_answered_before_it_is_stored(self, mapp, upstream, idx_core, monkeypatch):
        import threading

        import webtest

        upstream.add("early")
        url, entry = file_url(mapp, "root/pypi", "early", "early-1.0-py3-none-any.whl")
        expected = upstream.file("early-1.0-py3-none-any.whl").dist.metadata
        sha256 = entry["core-metadata"]["sha256"]
        mirror = self._mirror(idx_core)
        release = threading.Event()
        put_bytes = mirror.blobs.put_bytes

        def held(data):
            assert release.wait(10)
            return put_bytes(data)

        monkeypatch.setattr(mirror.blobs, "put_bytes", held)
        raw = webtest.TestApp(mapp.app.app)  # not waiting for the stores
        try:
            first = raw.get(url + ".metadata")
            assert first.body == expected
            assert first.content_type == "text/plain"
            assert not mirror.blobs.exists(sha256)
            # While it is being stored: the fast path and the view answer from memory.
            assert raw.get(url + ".metadata").body == expected
            assert raw.get(url + ".metadata", headers={"If-None-Match": f'"{sha256}"'}, status=304)
            head = raw.head(url + ".metadata")  # HEAD goes to the view
            assert head.headers["Content-Length"] == str(len(expected))
            assert upstream.count("/files/early-1.0-py3-none-any.whl.metadata") == 1
        finally:
            release.set()
        assert mirror.downloads.wait_stored(10)
        assert mirror.blobs.exists(sha256)
        assert mirror.pending_metadata(sha256) is None
        located = idx_core.store.find_file(
            [1], url.split("/")[4] + url.split("/")[5], "early-1.0-py3-none-any.whl"
        )
        assert located.core_metadata_sha256 == sha256
        assert mapp.app.get(url + ".metadata").body == expected
        assert upstream.count("/files/early-1.0-py3-none-any.whl.metadata") == 1

    def test_a_failed_store_is_logged_and_fetched_again(self, mapp, upstream, idx_core, monkeypatch, caplog):
        from idx_server.model.errors import InsufficientStorage

        upstream.add("unstored")
        url, entry = file_url(mapp, "root/pypi", "unstored", "unstored-1.0-py3-none-any.whl")
        expected = upstream.file("unstored-1.0-py3-none-any.whl").dist.metadata
        mirror = self._mirror(idx_core)

        def full(data):
            raise InsufficientStorage("the server's disk is full; ask its administrator to free space")

        monkeypatch.setattr(mirror.blobs, "put_bytes", full)
        assert mapp.app.get(url + ".metadata").body == expected  # served all the same
        assert (
            "metadata of unstored-1.0-py3-none-any.whl not stored: the server's disk is full" in caplog.text
        )
        assert mirror.pending_metadata(entry["core-metadata"]["sha256"]) is None
        monkeypatch.undo()
        assert mapp.app.get(url + ".metadata").body == expected
        assert upstream.count("/files/unstored-1.0-py3-none-any.whl.metadata") == 2
        assert mirror.blobs.exists(entry["core-metadata"]["sha256"])

    def test_a_store_failing_between_the_lookups_is_503(self, mapp, upstream, idx_core, monkeypatch):
        """The view found the metadata pending, and by the time it looked for the bytes the
        store had failed (disk full): neither in memory nor on disk. Try-again, not a 500."""
        from idx_server.services.files import FileService

        upstream.add("raced")
        url, entry = file_url(mapp, "root/pypi", "raced", "raced-1.0-py3-none-any.whl")
        sha256 = entry["core-metadata"]["sha256"]
        monkeypatch.setattr(FileService, "core_metadata_sha256", lambda self, location: sha256)
        response = mapp.app.head(url + ".metadata", status=503)  # HEAD: the view
        assert response.headers["Content-Type"].startswith("application/json")
        got = mapp.app.get(url + ".metadata", headers={"Authorization": "x"}, status=503).json
        assert got["message"] == "the metadata of raced-1.0-py3-none-any.whl could not be stored; try again"


class TestMetadataFetchedOnce:
    """Concurrent first requests for one file's metadata (a CI matrix resolving the same
    requirements at once) make one upstream request; the others wait for its answer."""

    @staticmethod
    def _together(app, url, count, status=200):
        import threading

        import webtest

        start = threading.Barrier(count)
        answers: list = [None] * count

        def ask(slot):
            start.wait(10)
            answers[slot] = webtest.TestApp(app).get(url, status=status)

        threads = [threading.Thread(target=ask, args=(slot,)) for slot in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        return answers

    def test_one_upstream_request_for_many_askers(self, mapp, upstream):
        upstream.add("crowd")
        url, _ = file_url(mapp, "root/pypi", "crowd", "crowd-1.0-py3-none-any.whl")
        path = "/files/crowd-1.0-py3-none-any.whl.metadata"
        expected = upstream.file("crowd-1.0-py3-none-any.whl").dist.metadata
        upstream.path_delays[path] = 0.5  # everyone asks while the first fetch runs
        answers = self._together(mapp.app.app, url + ".metadata", 6)
        assert [answer.body for answer in answers] == [expected] * 6
        assert upstream.count(path) == 1

    def test_waiters_find_it_stored_when_the_store_was_quick(self, mapp, upstream, idx_core, monkeypatch):
        from idx_server.mirror.service import MirrorService

        mirror = idx_core.service(MirrorService)

        def no_store_thread(store):
            raise RuntimeError("can't start new thread")

        # Stored before the first fetch ends: nothing is pending when the others look.
        monkeypatch.setattr(mirror.downloads, "store_later", no_store_thread)
        upstream.add("quick")
        url, _ = file_url(mapp, "root/pypi", "quick", "quick-1.0-py3-none-any.whl")
        path = "/files/quick-1.0-py3-none-any.whl.metadata"
        upstream.path_delays[path] = 0.5
        answers = self._together(mapp.app.app, url + ".metadata", 4)
        expected = upstream.file("quick-1.0-py3-none-any.whl").dist.metadata
        assert [answer.body for answer in answers] == [expected] * 4
        assert upstream.count(path) == 1

    def test_a_failed_fetch_is_not_repeated_by_the_waiters(self, mapp, upstream):
        upstream.add("gone")
        url, _ = file_url(mapp, "root/pypi", "gone", "gone-1.0-py3-none-any.whl")
        path = "/files/gone-1.0-py3-none-any.whl.metadata"
        upstream.path_delays[path] = 0.5
        upstream.fail_status = 404
        answers = self._together(mapp.app.app, url + ".metadata", 4, status="*")
        assert {answer.status_int for answer in answers} == {answers[0].status_int}
        assert answers[0].status_int == 404, answers[0].text
        assert upstream.count(path) == 1
