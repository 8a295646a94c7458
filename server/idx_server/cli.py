"""``idx-server``: start the daemon (plain ``idx-server``) or run a maintenance command."""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from types import FrameType
from typing import Any

import pluggy

from idx_server import __version__
from idx_server.model.errors import IdxError
from idx_server.plugins import get_plugin_manager, plugin_versions
from idx_server.settings import CORE_SETTINGS, Setting, Settings, load_settings

log = logging.getLogger("idx")

#: Maintenance commands; anything else is the daemon.
COMMANDS: dict[str, str] = {
    "check": "idx_server.maintenance.check",
    "export": "idx_server.maintenance.export",
    "import": "idx_server.maintenance.importer",
}


def build_parser(settings: Sequence[Setting], pm: pluggy.PluginManager) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="idx-server",
        description="Run the idx package index server. Every option can also be set with an "
        "IDX_<NAME> environment variable or in a TOML file given with --config.",
        epilog=f"Maintenance commands: idx-server {{{','.join(COMMANDS)}}} --help (docs/operations.md).",
    )
    parser.add_argument("--version", action="store_true", help="print versions (with plugins) and exit")
    for setting in settings:
        kwargs: dict[str, Any] = {"dest": setting.name, "default": None, "help": setting.help}
        if setting.kind.name == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["metavar"] = setting.name.upper()
        parser.add_argument(setting.flag, **kwargs)
    pm.hook.idx_add_cli_arguments(parser=parser)
    return parser


def version_text(pm: pluggy.PluginManager) -> str:
    lines = [f"idx-server {__version__}"]
    for name, version in sorted(plugin_versions(pm).items()):
        lines.append(f"  plugin {name} {version}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:
        module = __import__(COMMANDS[args[0]], fromlist=["main"])
        return int(module.main(args[1:]))
    pm = get_plugin_manager()
    extra = [s for found in pm.hook.idx_add_settings() for s in found or []]
    parser = build_parser([*CORE_SETTINGS, *extra], pm)
    options = parser.parse_args(args)
    if options.version:
        print(version_text(pm))
        return 0
    known = {setting.name for setting in (*CORE_SETTINGS, *extra)}
    given = {key: value for key, value in vars(options).items() if key in known and value is not None}
    # What plugins added with idx_add_cli_arguments: settings.get(dest), as given.
    cli_only = {key: value for key, value in vars(options).items() if key not in known | {"version"}}
    try:
        settings = load_settings(given, extra_settings=extra)
    except IdxError as exc:
        parser.error(exc.message)
    if cli_only:
        settings = replace(settings, extra={**settings.extra, **cli_only})
    return serve(settings, pm, options)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def serve(settings: Settings, pm: pluggy.PluginManager, options: argparse.Namespace | None = None) -> int:
    from idx_server.app import build_core, initialize, make_app
    from idx_server.housekeeping import Housekeeping, limit_malloc_arenas, pin_to_one_cpu, schedule_as_batch
    from idx_server.mirror.upstream import redact_url
    from idx_server.services.files import FileService
    from idx_server.services.upload_form import MAX_FIELDS_SIZE

    configure_logging(settings.log_level)
    limit_malloc_arenas()
    cpu = pin_to_one_cpu() if settings.pin_cpu else None
    # The threads started from here to the server's creation (waitress's request threads,
    # the stores' and the mirror's) inherit SCHED_BATCH; this, the main thread, gets the
    # normal policy back before it starts serving.
    batch = settings.batch_threads and schedule_as_batch(True)
    try:
        try:
            core = build_core(settings, pm)
        except IdxError as exc:
            print(f"idx-server: {exc.message}", file=sys.stderr)
            return 1
        try:
            # root's generated password is shown as soon as it is stored (once, ever):
            # whatever fails after it, it is not lost.
            initialize(core, on_root_password=_show_root_password)
            core.store.open_connections(settings.threads)
            app = make_app(core)
            server = _create_server(
                app,
                host=settings.host,
                port=settings.port,
                threads=settings.threads,
                connection_limit=settings.connection_limit,
                # No more than the upload form accepts (the file plus its other fields):
                # waitress buffers a body whole before idx sees it, so only this limit
                # cuts one off early.
                max_request_body_size=settings.max_upload_size + MAX_FIELDS_SIZE + 1,
            )
        except (IdxError, CannotListen) as exc:
            core.close()
            print(f"idx-server: {exc.message}", file=sys.stderr)
            return 1
        except BaseException:
            core.close()
            raise
    finally:
        if batch:
            schedule_as_batch(False)
    port = getattr(server, "effective_port", settings.port)
    host = getattr(server, "effective_host", settings.host)
    print(
        f"idx-server {__version__} listening on http://{_url_host(host)}:{port}/ "
        f"(serverdir {settings.serverdir}, root/pypi mirrors {redact_url(_pypi_url(core))})",
        flush=True,
    )
    if cpu is not None:
        logging.getLogger("idx.server").info(
            "threads run on CPU %d (pin_cpu; --no-pin-cpu turns it off)", cpu
        )
    if batch:
        logging.getLogger("idx.server").info(
            "request threads run under SCHED_BATCH (batch_threads; --no-batch-threads turns it off)"
        )

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    housekeeping = Housekeeping([core.service(FileService).flush_access])
    housekeeping.start()
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        housekeeping.stop()
        server.close()
        core.close()
        log.info("idx-server stopped")
    return 0


class CannotListen(Exception):
    """The server's socket could not be bound; the message says which address and why."""

    @property
    def message(self) -> str:  # as IdxError's, so a failed start prints either alike
        return str(self)


def _show_root_password(password: str) -> None:
    print(f"Created user 'root' with password: {password}", flush=True)
    print("(shown only this once; change it with 'idx user -m root password=...')", flush=True)


def _create_server(app: Any, host: str, port: int, **options: Any) -> Any:
    """waitress's server on ``host:port``, or :class:`CannotListen` with a message a
    person can act on (waitress raises a bare OSError or ValueError)."""
    import waitress.server

    address = f"{_url_host(host)}:{port}"
    try:
        return waitress.server.create_server(
            app,
            host=host,
            port=port,
            channel_timeout=300,
            ident="idx-server",
            expose_tracebacks=False,
            # X-Forwarded-For reaches idx, which believes it only from trusted_proxies.
            clear_untrusted_proxy_headers=False,
            **options,
        )
    except ValueError as exc:
        # waitress's words when getaddrinfo found no address for host and port.
        if "Invalid host/port" not in str(exc):
            raise
        raise CannotListen(
            f"cannot listen on {address}: the host name does not resolve; check the host "
            "setting (--host, IDX_HOST)"
        ) from exc
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = (
                "the address is already in use (another idx-server, or another program, "
                "listens there); stop it or pick another port (--port, IDX_PORT)"
            )
        elif exc.errno == errno.EADDRNOTAVAIL:
            reason = (
                "no network interface of this machine has that address; check the host "
                "setting (--host, IDX_HOST: 127.0.0.1 for this machine only, 0.0.0.0 for "
                "every interface)"
            )
        elif exc.errno == errno.EACCES and port < 1024:
            reason = (
                "permission denied: ports below 1024 need privileges; pick a port of 1024 "
                "or more (--port, IDX_PORT), or run behind a reverse proxy"
            )
        else:
            reason = exc.strerror or str(exc)
        raise CannotListen(f"cannot listen on {address}: {reason}") from exc


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _pypi_url(core: Any) -> str:
    from idx_server.services.indexes import IndexService

    pypi = core.service(IndexService).find("root", "pypi")
    return str(pypi.config.get("mirror_url")) if pypi else "(none)"


if __name__ == "__main__":
    sys.exit(main())
