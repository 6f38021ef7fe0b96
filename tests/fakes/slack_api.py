"""A wire-level fake of the Slack Web API (and Slack's file and response_url hosts).

``FakeSlackAPI`` is a real aiohttp server on ``127.0.0.1`` port 0. Point the real SDK at it::

    async with FakeSlackAPI() as fake:
        client = AsyncWebClient(token=fake.token, base_url=fake.base_url)
        await client.chat_postMessage(channel="C111", text="hi")
        [call] = await fake.wait_for("chat.postMessage")

What it speaks, in the shapes Slack answers with (see slack_sdk 3.48 web/async_client.py for how
each method is encoded; the fake decodes all three the SDK uses):

- JSON bodies: chat.postMessage, chat.update, chat.postEphemeral, views.open, views.update.
- Query string on a POST with an empty form body: auth.test, conversations.open,
  files.getUploadURLExternal, files.completeUploadExternal (so ``initial_comment`` and
  ``thread_ts`` of an upload travel in the URL).
- Query string on a GET: chat.getPermalink, users.info, files.info.
- ``POST /upload/v1/<id>``: the upload URL handed out by files.getUploadURLExternal; raw bytes,
  no token (the SDK sends none); answers ``text/plain`` ``OK - <length>`` as Slack does.
- ``GET /files-pri/<team>-<file>/...``: private file downloads. Without the bot token Slack answers
  200 with its HTML sign-in page, and so does the fake. Files can be told to redirect or to stream
  without a Content-Length.
- ``POST /response/<id>``: a response_url (bolt's ``respond()`` posts JSON there).

Every request is recorded as a :class:`SlackCall` (method, merged params, headers without the
token); :meth:`FakeSlackAPI.wait_for` waits on a condition, never a fixed sleep. Failures are
scriptable per method: :meth:`~FakeSlackAPI.rate_limit`, :meth:`~FakeSlackAPI.server_error`,
:meth:`~FakeSlackAPI.error`. Non-Web-API routes are scripted by the pseudo-methods ``"upload"``,
``"files-pri"`` and ``"response"``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl

from aiohttp import web

__all__ = ["FakeFile", "FakeSlackAPI", "FakeUser", "SlackCall"]

UPLOAD = "upload"
FILES = "files-pri"
RESPONSE = "response"

_SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Slack</title></head>"
    "<body><h1>Sign in to your workspace</h1></body></html>"
)


@dataclass(frozen=True)
class SlackCall:
    """One request the fake received.

    ``params`` merges the query string and the body (form fields or JSON object; body wins), as
    Slack does. ``headers`` never holds ``Authorization``; ``token`` says what it carried:
    ``None`` (absent), ``"valid"`` (the fake's token) or ``"invalid"``.
    """

    method: str
    http_method: str
    path: str
    params: Mapping[str, Any]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    token: str | None
    body: bytes
    status: int

    @property
    def authorized(self) -> bool:
        """Whether the request carried the fake's bot token as a Bearer header."""
        return self.token == "valid"


@dataclass(frozen=True, kw_only=True)
class FakeUser:
    """A workspace member as users.info describes them."""

    id: str
    name: str = "someone"
    real_name: str = "Some One"
    team_id: str = "T111"
    tz: str = "Europe/Berlin"
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    deleted: bool = False


@dataclass(frozen=True, kw_only=True)
class FakeFile:
    """A file the fake serves under ``/files-pri/``."""

    id: str
    name: str
    title: str
    mimetype: str
    data: bytes
    user: str
    redirect_to: str | None = None
    redirect_status: int = 302
    chunked: bool = False


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None


@dataclass
class _Message:
    channel: str
    ts: str
    payload: dict[str, Any]


@dataclass
class _State:
    calls: list[SlackCall] = field(default_factory=list)
    failures: dict[str, deque[_Failure]] = field(default_factory=dict)
    users: dict[str, FakeUser] = field(default_factory=dict)
    files: dict[str, FakeFile] = field(default_factory=dict)
    pending_uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: list[_Message] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)


class FakeSlackAPI:
    """An aiohttp server that answers like Slack; use as ``async with FakeSlackAPI() as fake``."""

    def __init__(
        self,
        *,
        token: str = "xoxb-fake-bot-token",  # noqa: S107 - a fake token for a fake server
        team_id: str = "T111",
        bot_user_id: str = "UBOT111",
        bot_id: str = "BBOT111",
    ) -> None:
        self.token = token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self._state = _State()
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self.app_token = "xapp-fake-app-token"
        self.socket_acks: list[dict[str, Any]] = []
        self._socket_ws: web.WebSocketResponse | None = None
        self._socket_ready = asyncio.Event()

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{upload_id}", self._upload)
        app.router.add_get("/files-pri/{path:.+}", self._download)
        app.router.add_post("/response/{response_id}", self._response)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        assert host == "127.0.0.1"
        self._port = int(port)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        """The TCP port the fake listens on."""
        assert self._port is not None, "use FakeSlackAPI as an async context manager"
        return self._port

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT``, the form an operator lists in an allowlist."""
        return f"127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host_port}"

    @property
    def base_url(self) -> str:
        """The Web API base for ``AsyncWebClient(base_url=...)``; ends with ``/api/``."""
        return f"{self.origin}/api/"

    def response_url(self, response_id: str = "1") -> str:
        """A response_url on the fake, as Slack puts into command and action payloads."""
        return f"{self.origin}/response/{response_id}"

    # ----------------------------------------------------------------- scripting

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and ``Retry-After``."""
        self._script(method, _Failure(429, "ratelimited", retry_after), times)

    def server_error(self, method: str, *, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with a 5xx HTML page."""
        assert 500 <= status <= 599
        self._script(method, _Failure(status, None, None), times)

    def error(self, method: str, error: str, *, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``."""
        self._script(method, _Failure(200, error, None), times)

    def _script(self, method: str, failure: _Failure, times: int) -> None:
        queue = self._state.failures.setdefault(method, deque())
        queue.extend(failure for _ in range(times))

    def add_user(self, user_id: str, **fields: Any) -> FakeUser:
        """Make ``user_id`` known to users.info (``is_admin``, ``is_owner``... as keywords)."""
        user = FakeUser(id=user_id, team_id=self.team_id, **fields)
        self._state.users[user_id] = user
        return user

    def add_file(
        self,
        data: bytes,
        *,
        name: str = "reference.png",
        mimetype: str = "image/png",
        title: str | None = None,
        user: str = "U111",
        redirect_to: str | None = None,
        redirect_status: int = 302,
        chunked: bool = False,
    ) -> dict[str, Any]:
        """Serve ``data`` as a private file; returns its Slack file object (as in events).

        ``redirect_to`` makes the download URLs answer ``redirect_status`` with that Location;
        ``chunked`` streams the body without a Content-Length header.
        """
        file = FakeFile(
            id=f"F{next(self._ids):07d}",
            name=name,
            title=title or name,
            mimetype=mimetype,
            data=data,
            user=user,
            redirect_to=redirect_to,
            redirect_status=redirect_status,
            chunked=chunked,
        )
        self._state.files[file.id] = file
        return self._file_object(file)

    def url(self, path: str) -> str:
        """An absolute URL on the fake for ``path`` (which starts with ``/``)."""
        return f"{self.origin}{path}"

    # ----------------------------------------------------------------- inspection

    @property
    def calls(self) -> list[SlackCall]:
        """Every request so far, oldest first."""
        return list(self._state.calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        """The requests to one method (or pseudo-method), oldest first."""
        return [call for call in self._state.calls if call.method == method]

    async def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a test helper's deadline, read like pytest's
    ) -> list[SlackCall]:
        """Wait until ``method`` was called at least ``count`` times; returns those calls."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.calls_to(method)) >= count)
        return self.calls_to(method)

    def uploaded_files(self) -> dict[str, FakeFile]:
        """Files completed through files.completeUploadExternal, by id."""
        return {file_id: self._state.files[file_id] for file_id in self._state.completed}

    def messages_in(self, channel: str, *, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """Messages the bot posted in ``channel`` (optionally only in one thread), as stored."""
        return [
            message.payload
            for message in self._state.messages
            if message.channel == channel
            and (thread_ts is None or message.payload.get("thread_ts") == thread_ts)
        ]

    # ----------------------------------------------------------------- Socket Mode

    def _connections_open(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.app_token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response({"ok": True, "url": f"ws://{self.host_port}/socket"})

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        """Socket Mode's WebSocket: hello first, then envelopes out and acknowledgements in."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._socket_ws = ws
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake"},
                "connection_info": {"app_id": "A111"},
            }
        )
        self._socket_ready.set()
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                async with self._changed:
                    self.socket_acks.append(json.loads(message.data))
                    self._changed.notify_all()
        return ws

    async def socket_send(self, envelope_type: str, payload: Mapping[str, Any]) -> str:
        """Push an envelope (``slash_commands``, ``events_api``, ``interactive``) to the app."""
        await asyncio.wait_for(self._socket_ready.wait(), timeout=5)
        assert self._socket_ws is not None
        envelope_id = f"env-{next(self._ids)}"
        await self._socket_ws.send_json(
            {
                "envelope_id": envelope_id,
                "type": envelope_type,
                "payload": dict(payload),
                "accepts_response_payload": envelope_type != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    async def wait_socket_ack(self, envelope_id: str, *, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109 - a test helper's deadline
        """Wait for the app's acknowledgement of one envelope."""

        def found() -> dict[str, Any] | None:
            return next(
                (ack for ack in self.socket_acks if ack.get("envelope_id") == envelope_id), None
            )

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        ack = found()
        assert ack is not None
        return ack

    # ----------------------------------------------------------------- plumbing

    async def _record(
        self, request: web.Request, *, method: str, params: Mapping[str, Any], body: bytes
    ) -> tuple[SlackCall, _Failure | None]:
        auth = request.headers.get("Authorization")
        token = None if auth is None else "valid" if auth == f"Bearer {self.token}" else "invalid"
        queue = self._state.failures.get(method)
        failure = queue.popleft() if queue else None
        call = SlackCall(
            method=method,
            http_method=request.method,
            path=request.path,
            params=dict(params),
            query=dict(request.query),
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
            token=token,
            body=body,
            status=failure.status if failure else 200,
        )
        async with self._changed:
            self._state.calls.append(call)
            self._changed.notify_all()
        return call, failure

    @staticmethod
    def _failure_response(failure: _Failure) -> web.StreamResponse:
        if failure.status == 429:
            headers = {"Retry-After": str(failure.retry_after or 1)}
            return web.json_response(
                {"ok": False, "error": failure.error or "ratelimited"}, status=429, headers=headers
            )
        if failure.status >= 500:
            return web.Response(
                status=failure.status,
                text=f"<html><body><h1>{failure.status} Service Unavailable</h1></body></html>",
                content_type="text/html",
            )
        return web.json_response({"ok": False, "error": failure.error})

    async def _decode(self, request: web.Request) -> tuple[dict[str, Any], bytes]:
        body = await request.read()
        params: dict[str, Any] = dict(request.query)
        content_type = request.content_type
        if content_type == "application/json" and body:
            decoded = json.loads(body)
            if isinstance(decoded, dict):
                params.update(decoded)
        elif content_type == "application/x-www-form-urlencoded" and body:
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        elif content_type.startswith("multipart/"):
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params, body

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params, body = await self._decode(request)
        call, failure = await self._record(request, method=method, params=params, body=body)
        if failure is not None:
            return self._failure_response(failure)
        if call.token is None:
            return web.json_response({"ok": False, "error": "not_authed"})
        if call.token != "valid" and method != "apps.connections.open":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = self._handlers().get(method)
        if method == "apps.connections.open":
            return self._connections_open(request)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        result = handler(params)
        status = 200
        headers: dict[str, str] = {}
        if method == "files.getUploadURLExternal" and result.get("ok"):
            headers["x-accepted-oauth-scopes"] = "files:write"
        return web.json_response(result, status=status, headers=headers)

    def _handlers(self) -> dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "conversations.open": self._open,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "files.info": self._files_info,
            "views.open": self._views_open,
            "views.update": self._views_update,
        }

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{1_764_600_000 + n}.{n:06d}"

    # ----------------------------------------------------------------- Web API methods

    def _auth_test(self, _params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "imagebot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _message_text(self, params: Mapping[str, Any]) -> str | None:
        text = params.get("text")
        if not text and not params.get("blocks") and not params.get("attachments"):
            return None
        return str(text or "")

    @staticmethod
    def _blocks(params: Mapping[str, Any]) -> list[Any]:
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):  # a form-encoded call sends blocks as a JSON string
            blocks = json.loads(blocks)
        return list(blocks)

    def _post_message(self, params: Mapping[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        text = self._message_text(params)
        if text is None:
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": "A111",
            "text": text,
            "team": self.team_id,
            "blocks": self._blocks(params),
        }
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        self._state.messages.append(_Message(channel=str(channel), ts=ts, payload=message))
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, params: Mapping[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("ts")
        for stored in self._state.messages:
            if stored.channel == channel and stored.ts == ts:
                text = self._message_text(params)
                if text is None:
                    return {"ok": False, "error": "no_text"}
                stored.payload["text"] = text
                stored.payload["blocks"] = self._blocks(params)
                stored.payload["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
                message = {k: v for k, v in stored.payload.items() if k != "ts"}
                return {"ok": True, "channel": channel, "ts": ts, "text": text, "message": message}
        return {"ok": False, "error": "message_not_found"}

    def _post_ephemeral(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if self._message_text(params) is None:
            return {"ok": False, "error": "no_text"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _permalink(self, params: Mapping[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("message_ts")
        if not channel or not ts:
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://fake-workspace.slack.com/archives/{channel}/p"
            + str(ts).replace(".", ""),
        }

    def _open(self, params: Mapping[str, Any]) -> dict[str, Any]:
        users = str(params.get("users") or "")
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        first = users.split(",")[0]
        if self._state.users and first not in self._state.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": f"D{first}"}}

    def _users_info(self, params: Mapping[str, Any]) -> dict[str, Any]:
        user = self._state.users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {
            "ok": True,
            "user": {
                "id": user.id,
                "team_id": user.team_id,
                "name": user.name,
                "deleted": user.deleted,
                "color": "9f69e7",
                "real_name": user.real_name,
                "tz": user.tz,
                "tz_label": user.tz,
                "tz_offset": 3600,
                "profile": {
                    "real_name": user.real_name,
                    "display_name": user.name,
                    "team": user.team_id,
                },
                "is_admin": user.is_admin,
                "is_owner": user.is_owner,
                "is_primary_owner": user.is_primary_owner,
                "is_restricted": False,
                "is_ultra_restricted": False,
                "is_bot": user.is_bot,
                "is_app_user": False,
                "updated": 1_700_000_000,
            },
        }

    def _get_upload_url(self, params: Mapping[str, Any]) -> dict[str, Any]:
        filename, length = params.get("filename"), params.get("length")
        if not filename or not str(length or "").isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):07d}"
        upload_id = f"CwABAASW{file_id}"
        self._state.pending_uploads[upload_id] = {
            "file_id": file_id,
            "filename": str(filename),
            "length": int(str(length)),
            "alt_txt": params.get("alt_txt"),
            "data": None,
        }
        return {"ok": True, "upload_url": self.url(f"/upload/v1/{upload_id}"), "file_id": file_id}

    def _complete_upload(self, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            requested = json.loads(str(params.get("files") or ""))
        except json.JSONDecodeError:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(requested, list) or not requested:
            return {"ok": False, "error": "invalid_arguments"}
        by_id = {p["file_id"]: p for p in self._state.pending_uploads.values()}
        completed: list[FakeFile] = []
        for item in requested:
            pending = by_id.get(item.get("id")) if isinstance(item, dict) else None
            if pending is None or pending["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            completed.append(
                FakeFile(
                    id=pending["file_id"],
                    name=pending["filename"],
                    title=str(item.get("title") or pending["filename"]),
                    mimetype=_guess_mimetype(pending["filename"]),
                    data=pending["data"],
                    user=self.bot_user_id,
                )
            )
        for file in completed:
            self._state.files[file.id] = file
            self._state.completed.append(file.id)
        channel = params.get("channel_id")
        if channel:
            ts = self._next_ts()
            message: dict[str, Any] = {
                "type": "message",
                "subtype": "file_share",
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "ts": ts,
                "text": str(params.get("initial_comment") or ""),
                "files": [self._file_object(file) for file in completed],
            }
            if params.get("thread_ts"):
                message["thread_ts"] = str(params["thread_ts"])
            self._state.messages.append(_Message(channel=str(channel), ts=ts, payload=message))
        # Sharing completes asynchronously on real Slack: shares is empty in this response.
        return {"ok": True, "files": [self._file_object(file) for file in completed]}

    def _files_info(self, params: Mapping[str, Any]) -> dict[str, Any]:
        file = self._state.files.get(str(params.get("file")))
        if file is None:
            return {"ok": False, "error": "file_not_found"}
        return {
            "ok": True,
            "file": self._file_object(file),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    def _views_open(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(view, dict) or "type" not in view:
            return {"ok": False, "error": "invalid_arguments"}
        view_id = f"V{next(self._ids):07d}"
        stored = self._view_object(view_id, view)
        self._state.views[view_id] = stored
        return {"ok": True, "view": stored}

    def _views_update(self, params: Mapping[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        if not view_id:
            external = params.get("external_id")
            view_id = next(
                (k for k, v in self._state.views.items() if v.get("external_id") == external),
                None,
            )
        if view_id not in self._state.views:
            return {"ok": False, "error": "not_found"}
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        stored = self._view_object(str(view_id), view)
        self._state.views[str(view_id)] = stored
        return {"ok": True, "view": stored}

    def _view_object(self, view_id: str, view: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": list(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"1764600000.{view_id}",
            "title": view.get("title"),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": "A111",
            "bot_id": self.bot_id,
        }

    def _file_object(self, file: FakeFile) -> dict[str, Any]:
        base = f"/files-pri/{self.team_id}-{file.id}"
        return {
            "id": file.id,
            "created": 1_764_600_000,
            "timestamp": 1_764_600_000,
            "name": file.name,
            "title": file.title,
            "mimetype": file.mimetype,
            "filetype": file.name.rsplit(".", 1)[-1].lower(),
            "user": file.user,
            "user_team": self.team_id,
            "editable": False,
            "size": len(file.data),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": self.url(f"{base}/{file.name}"),
            "url_private_download": self.url(f"{base}/download/{file.name}"),
            "permalink": f"https://fake-workspace.slack.com/files/{file.user}/{file.id}/{file.name}",
            "shares": {},
            "channels": [],
            "groups": [],
            "ims": [],
            "has_more_shares": False,
            "has_rich_preview": False,
            "file_access": "visible",
        }

    # ----------------------------------------------------------------- non-API routes

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        upload_id = request.match_info["upload_id"]
        _call, failure = await self._record(request, method=UPLOAD, params={}, body=body)
        if failure is not None:
            return self._failure_response(failure)
        pending = self._state.pending_uploads.get(upload_id)
        if pending is None:
            return web.Response(status=404, text="Not Found", content_type="text/plain")
        pending["data"] = body
        return web.Response(text=f"OK - {len(body)}", content_type="text/plain")

    async def _download(self, request: web.Request) -> web.StreamResponse:
        call, failure = await self._record(
            request, method=FILES, params=dict(request.query), body=b""
        )
        if failure is not None:
            return self._failure_response(failure)
        if not call.authorized:
            # Slack answers an unauthenticated private-file request with its sign-in page.
            return web.Response(text=_SIGN_IN_PAGE, content_type="text/html")
        file_key = request.match_info["path"].split("/", 1)[0]
        file = self._state.files.get(file_key.removeprefix(f"{self.team_id}-"))
        if file is None:
            return web.Response(status=404, text="Not Found", content_type="text/plain")
        if file.redirect_to is not None:
            return web.Response(status=file.redirect_status, headers={"Location": file.redirect_to})
        if not file.chunked:
            return web.Response(body=file.data, content_type=file.mimetype)
        response = web.StreamResponse(headers={"Content-Type": file.mimetype})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for start in range(0, len(file.data), 16 * 1024):
                await response.write(file.data[start : start + 16 * 1024])
            await response.write_eof()
        except ConnectionResetError:  # the client stopped reading: what a size cap does
            pass
        return response

    async def _response(self, request: web.Request) -> web.StreamResponse:
        params, body = await self._decode(request)
        _call, failure = await self._record(request, method=RESPONSE, params=params, body=body)
        if failure is not None:
            return self._failure_response(failure)
        return web.Response(text="ok", content_type="text/html")


def _guess_mimetype(filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower()
    return {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "webp": "image/webp",
        "gif": "image/gif",
    }.get(extension, "application/octet-stream")
