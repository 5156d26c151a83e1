"""Error pages in Chinese for people, JSON errors for the API. Nothing from the request (and so
nothing the applicant typed) is logged or echoed back."""

from __future__ import annotations

import re
import traceback
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

MESSAGES: dict[int, tuple[str, str]] = {
    400: ("请求有误", "提交的内容无法识别，请返回重新填写。"),
    401: ("需要令牌", "请在 Authorization 头中提供有效的部门令牌（Bearer）。"),
    403: ("禁止访问", "这个请求不被接受。"),
    404: ("页面不存在", "没有找到您要的页面或积分政策，请从首页重新选择。"),
    405: ("不支持该操作", "该页面不支持这种访问方式，请从首页重新进入。"),
    413: ("提交的内容过大", "提交的内容超过了允许的大小，请检查后重新填写。"),
    414: ("链接太长", "链接太长，无法打开。请回到首页重新填写。"),
    415: ("内容类型不支持", "请以 JSON（Content-Type: application/json）提交。"),
    422: ("内容有误", "提交的内容有误，请检查后重新填写。"),
    429: ("请求过于频繁", "您的操作太频繁了，请稍等一分钟后再试。"),
    431: ("请求有误", "请求头太大。请清除本站的浏览器数据后重试。"),
    500: ("服务器出错了", "系统暂时出现问题，请稍后再试。您填写的内容没有被保存。"),
}
EN = {
    400: "bad request",
    401: "a valid department token is required (Authorization: Bearer …)",
    404: "not found",
    405: "method not allowed",
    413: "request body too large",
    415: "unsupported media type: send application/json",
    422: "unprocessable content",
    429: "too many requests",
    500: "internal server error",
}


def is_api() -> bool:
    return request.path.startswith("/api/")


def api_error(status: int, error: str | None = None, fields: dict[str, Any] | None = None):
    zh = error or MESSAGES.get(status, MESSAGES[400])[1]
    body = {"error": zh, "error_en": EN.get(status, "error"), "fields": fields or {}}
    response = jsonify(body)
    response.status_code = status
    return response


def page_error(status: int, title: str | None = None, message: str | None = None):
    default_title, default_message = MESSAGES.get(status, MESSAGES[400])
    html = render_template(
        "error.html",
        status=status,
        title=title or default_title,
        message=message or default_message,
    )
    return Response(html, status=status, mimetype="text/html")


def _with_headers(response: Response, exc: HTTPException) -> Response:
    # keep Allow (405) and Retry-After (429)
    for key in ("Allow", "Retry-After"):
        for header in exc.get_headers():
            if header[0] == key:
                response.headers[key] = header[1]
    return response


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return page_error(
            400,
            "页面已过期",
            "页面已过期或来源无法确认（安全校验未通过），请返回上一页刷新后重新提交。",
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        if status >= 500:
            status = 500
        response = api_error(status) if is_api() else page_error(status)
        return _with_headers(response, exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # The frames, not the message: a message may quote what the applicant typed.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        app.logger.error(
            "unhandled %s on %s %s\n%s",
            type(exc).__name__,
            request.method,
            loggable_path(request.path),
            frames,
        )
        if is_api():
            return api_error(500)
        return page_error(500)

    @app.errorhandler(InternalServerError)
    def internal(exc: InternalServerError):
        return unexpected(exc)


# A certificate's code in a /verify/ path carries its claims (a masked name, the school, the
# score): logs show the path without it.
VERIFY_CODE = re.compile(r"/verify/(?!keys\b)[A-Za-z0-9_%-]+")


def loggable_path(path: str) -> str:
    return VERIFY_CODE.sub("/verify/…", path)
