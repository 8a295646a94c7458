"""nginx configurations: serving the upstream tree (the physical limit for pages and
files), and in front of idx with ``X-Accel-Redirect`` (the documented deployment where
nginx sends cached files straight from ``serverdir/+files/``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from procs import Service, ServiceFailed

COMMON = """\
worker_processes {workers};
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 1024; }}

http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    default_type application/octet-stream;
{server}
}}
"""

#: The tree has ``index.html`` and ``index.json`` per page; PEP 691 picks by Accept.
STATIC_SERVER = """\
    types {{
        text/html html;
        application/vnd.pypi.simple.v1+json json;
    }}
    map $http_accept $simple_index {{
        default index.html;
        "~application/vnd\\.pypi\\.simple\\.v1\\+json" index.json;
    }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{
            index $simple_index;
            add_header Vary Accept;
        }}
    }}
"""

IDX_FRONT = """\
    upstream idx {{
        server 127.0.0.1:{idx_port};
        keepalive 64;
    }}
    # nginx's cache of idx's answers to "may this file be sent from disk?"
    proxy_cache_path {prefix}/idx-checks levels=1:2 keys_zone=idx_checks:10m max_size=64m inactive=10m;
    map $idx_blob $idx_blob_path {{
        default /$idx_blob;
        "" /-;
        "-" /-;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Outside-Url http://$http_host;
        proxy_set_header X-Idx-File-Check "";
        proxy_request_buffering off;
        location / {{
            proxy_pass http://idx;
        }}
        # Files: idx says (once per 10 s per URL, from nginx's cache) whether anyone may
        # read the file and where it is; nginx then sends it from disk, else asks idx.
        location ~ "^/[^/]+/[^/]+/\\+f/" {{
            if ($request_method !~ ^(GET|HEAD)$) {{
                return 418;
            }}
            error_page 418 = @idx;
            auth_request /+idx-file-check;
            auth_request_set $idx_blob $upstream_http_x_idx_blob;
            root {blobs};
            try_files $idx_blob_path @idx;
            add_header Cache-Control "max-age=31536000, immutable";
        }}
        location = /+idx-file-check {{
            internal;
            proxy_pass http://idx$request_uri;
            proxy_pass_request_body off;
            # (a location's own proxy_set_header replaces the server's: all of them again)
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header Content-Length "";
            proxy_set_header X-Idx-File-Check $request_method;
            proxy_cache idx_checks;
            proxy_cache_key "$request_method $request_uri";
            proxy_cache_valid 200 10s;
            proxy_cache_lock on;
        }}
        location @idx {{
            proxy_pass http://idx;
        }}
        # idx answers a cached file with X-Accel-Redirect: /+blobs/ab/cd/abcd...
        location /+blobs/ {{
            internal;
            alias {blobs}/;
        }}
    }}
"""


def binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise ServiceFailed("nginx is not installed (apt-get install nginx)")
    return found


def _service(name: str, prefix: Path, server_block: str) -> Service:
    prefix.mkdir(parents=True, exist_ok=True)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    # As root, nginx's workers would run as nobody and could not read the files
    # (idx writes blobs 0600); run them as the invoking user instead.
    user = "user root;" if os.geteuid() == 0 else ""
    config = COMMON.format(workers=os.cpu_count() or 2, prefix=prefix, user=user, server=server_block)
    conf = prefix / "nginx.conf"
    conf.write_text(config)
    cmd = [binary(), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    return Service(name, cmd, prefix / "nginx.log")


def static_tree(prefix: Path, root: Path, port: int) -> Service:
    return _service("nginx", prefix, STATIC_SERVER.format(port=port, root=root))


def idx_front(prefix: Path, port: int, idx_port: int, blobs: Path) -> Service:
    return _service(
        "nginx (idx front)",
        prefix,
        IDX_FRONT.format(port=port, idx_port=idx_port, blobs=blobs, prefix=prefix),
    )
