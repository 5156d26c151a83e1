"""How gunicorn serves the app (gunicorn.conf.py names this worker): threads, so that slow
clients do not take the workers, with a bound on how long a client may stay silent, and
gunicorn's own error pages in Chinese.

A gthread worker parks idle and kept-alive connections in its main loop and hands a connection
to a thread only when bytes arrive; but a client that sends one byte of a declared body then
holds that thread while the body is read. Every socket here gets a read timeout
(`JIFEN_CLIENT_TIMEOUT`, 10 s by default): a client silent for that long is dropped and its
thread freed. A client that trickles a byte every few seconds still holds a thread, so public
deployments put nginx in front with request buffering (docs/deploy.md), which reads whole
requests before gunicorn sees them.
"""

from __future__ import annotations

import errno
import html
import os
import socket
from typing import Any

from gunicorn import util
from gunicorn.glogging import Logger as GunicornLogger
from gunicorn.workers.gthread import TConn, ThreadWorker

from app.errors import MESSAGES, loggable_path

CLIENT_TIMEOUT = float(os.environ.get("JIFEN_CLIENT_TIMEOUT", "10"))


class _SilenceBound:
    """A client socket whose blocking mode always has a timeout: gunicorn turns sockets
    blocking before it reads a request, and blocking here means "for at most CLIENT_TIMEOUT
    seconds of silence"."""

    def __init__(self, sock: socket.socket, seconds: float):
        self._sock, self._seconds = sock, seconds

    def setblocking(self, flag: bool) -> None:
        self._sock.settimeout(self._seconds if flag else 0.0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class BoundedThreadWorker(ThreadWorker):
    def init_process(self) -> None:
        util.write_error = write_chinese_error
        super().init_process()

    def accept(self, listener) -> None:
        if self.cfg.is_ssl:  # TLS ends at the proxy here; keep gunicorn's own path for it
            return super().accept(listener)
        try:
            client_sock, client_addr = listener.accept()
            self.nr_conns += 1
            client = _SilenceBound(client_sock, CLIENT_TIMEOUT)
            client.setblocking(True)
            conn = TConn(self.cfg, client, client_addr, listener.getsockname())
            self.enqueue_req(conn)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise


def write_chinese_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's error answer (util.write_error), in Chinese; gunicorn's English detail is
    for its log only (it may quote the request)."""
    title, text = MESSAGES.get(status_int, MESSAGES[400])  # the app's own error words
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · 积分通 Jifen</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        f'<p>错误代码 {status_int}</p><p><a href="/">返回首页</a></p></body></html>'
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: text/html; charset=utf-8\r\nContent-Length: {len(page)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + page)


class AccessLogger(GunicornLogger):
    """gunicorn's logger, with a certificate's code cut out of the paths it logs: a
    `/verify/<code>` path carries the certificate's claims (a masked name, the school, the
    score), readable by anyone who decodes it."""

    def atoms(self, resp, req, environ, request_time):
        found = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r"):
            if key in found:
                found[key] = loggable_path(found[key])
        return found
