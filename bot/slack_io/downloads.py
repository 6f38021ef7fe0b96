"""Download a Slack file to use as a reference image, safely.

A file URL arrives in an event payload; anyone who can post in a channel shapes that payload's
neighbourhood, so the URL is treated as untrusted:

1. **Hosts.** Only hosts on the allowlist are contacted, default Slack's own file hosts
   (``files.slack.com``, ``files.slack-gov.com``; the fixtures' ``url_private`` and
   ``url_private_download`` both live on ``files.slack.com``). An entry is ``host`` (https on
   port 443 only) or ``host:port`` / an IP literal (an *explicit* entry: that exact host and port,
   plain http allowed, for a local mirror or a test server).
2. **Addresses.** The host is resolved and every address must be public: loopback, private,
   link-local, multicast, reserved, unspecified and shared addresses are refused, IPv4 and IPv6,
   including IPv4 inside IPv6 (``::ffff:127.0.0.1``, NAT64, 6to4). Explicit entries are exempt
   (the operator named that exact place). The connection then goes to the address that was
   checked (the hostname still drives the Host header, TLS SNI and certificate check), so DNS
   cannot answer differently between the check and the connect.
3. **Redirects** are followed by hand, at most ``max_redirects``, and each hop is checked as in 1
   and 2 before anything is sent to it. The bot token (Bearer) only ever goes to an allowed host;
   a redirect elsewhere is refused, never followed without the token.
4. **Size.** At most ``max_bytes`` (default 20 MB) are read; a larger Content-Length is refused
   before reading and the body is cut off the moment it passes the cap whatever the header said.
5. **Content.** The bytes must decode with Pillow as PNG, JPEG, WEBP or GIF (the declared
   mimetype is ignored): ``verify()``, then the dimensions are checked against ``max_pixels``
   (default 50 megapixels) *before* any pixel is decoded, then a full ``load()``. Pillow's own
   decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``) is left as it is, never changed. GIFs
   are handed on as a PNG of their first frame because Gemini does not take GIF input.

Decoding runs in a worker thread so a large image does not stall the event loop.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import aiohttp
from PIL import Image
from yarl import URL

from bot.slack_io.errors import DownloadFailed, DownloadRefused
from bot.slack_io.events import FileRef

__all__ = [
    "DEFAULT_FILE_HOSTS",
    "AllowedHost",
    "DownloadPolicy",
    "DownloadedImage",
    "Resolver",
    "SlackFileDownloader",
    "address_is_public",
]

#: Where Slack serves private files (commercial and GovSlack).
DEFAULT_FILE_HOSTS: Final[tuple[str, ...]] = ("files.slack.com", "files.slack-gov.com")

#: Resolve ``host`` for ``port`` to IP address strings (injectable for tests).
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"https": 443, "http": 80}
_MIME_BY_FORMAT: Final[dict[str, str]] = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
_CHUNK = 64 * 1024
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

_REFUSE_HOST = (
    "I can only use images that were uploaded to Slack. Drop the image file into the thread "
    "instead of linking to it."
)
_REFUSE_NOT_IMAGE = "That file isn't an image I can use. Please upload a PNG, JPEG, WEBP or GIF."


@dataclass(frozen=True)
class AllowedHost:
    """One allowlist entry. ``port`` None means the https default port only."""

    host: str
    port: int | None
    explicit: bool

    @classmethod
    def parse(cls, entry: str) -> AllowedHost:
        """``files.slack.com``, ``mirror.local:8443``, ``127.0.0.1:8080``, ``[::1]:8080``."""
        text = entry.strip().lower().rstrip(".")
        if not text or "/" in text or "@" in text:
            raise ValueError(f"not a host or host:port: {entry!r}")
        url = URL(f"//{text}")
        if url.host is None:
            raise ValueError(f"not a host or host:port: {entry!r}")
        host = url.host.rstrip(".")
        port = url.explicit_port
        return cls(host=host, port=port, explicit=port is not None or _is_ip_literal(host))

    def matches(self, *, scheme: str, host: str, port: int) -> bool:
        """Whether a URL with this scheme, host and port is covered by this entry."""
        if host != self.host:
            return False
        if self.port is not None:
            return port == self.port
        return scheme == "https" and port == _DEFAULT_PORTS["https"]


@dataclass(frozen=True, kw_only=True)
class DownloadPolicy:
    """What may be downloaded. Build it from settings in the composition root."""

    allowed_hosts: tuple[str, ...] = DEFAULT_FILE_HOSTS
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_redirects: int = 3
    timeout_s: float = 30.0
    entries: tuple[AllowedHost, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_pixels < 1 or self.max_redirects < 0:
            raise ValueError("max_bytes and max_pixels must be positive, max_redirects >= 0")
        entries = tuple(AllowedHost.parse(entry) for entry in self.allowed_hosts)
        object.__setattr__(self, "entries", entries)

    def entry_for(self, url: URL) -> AllowedHost | None:
        """The allowlist entry covering ``url``, or None."""
        if url.scheme not in _DEFAULT_PORTS or url.host is None or url.port is None:
            return None
        host = url.host.lower().rstrip(".")
        for entry in self.entries:
            if entry.matches(scheme=url.scheme, host=host, port=url.port):
                if url.scheme == "http" and not entry.explicit:
                    return None
                return entry
        return None


@dataclass(frozen=True)
class DownloadedImage:
    """An image fetched from Slack and checked: bytes as Gemini will get them."""

    data: bytes
    mime_type: str
    width: int
    height: int
    filename: str


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def address_is_public(address: str) -> bool:
    """Whether ``address`` is a public unicast address (IPv4 embedded in IPv6 is unwrapped)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is that IPv4 address, nothing else
            return address_is_public(str(ip.ipv4_mapped))
        embedded = ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not address_is_public(str(embedded)):
            return False
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def _system_resolver(host: str, port: int) -> Sequence[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class _Hop:
    url: URL
    entry: AllowedHost
    address: str


class SlackFileDownloader:
    """Fetches Slack files with the bot token under a :class:`DownloadPolicy`.

    ``session`` is owned by the caller (the composition root makes one and closes it).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        token: str,
        policy: DownloadPolicy | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._session = session
        self._token = token
        self._policy = policy or DownloadPolicy()
        self._resolve = resolver or _system_resolver

    async def download_file(self, file: FileRef) -> DownloadedImage:
        """Download an attached file (see :meth:`download`); refuses a too-big size up front."""
        if file.url_private_download is None:
            raise DownloadFailed(
                f"file {file.id} has no download URL",
                user_message="I can't see that file (it may be restricted). Please upload it "
                "again in this thread.",
                retryable=False,
            )
        if file.size is not None and file.size > self._policy.max_bytes:
            raise self._too_big(f"file {file.id} declares {file.size} bytes")
        return await self.download(file.url_private_download, filename=file.name)

    async def download(self, url: str, *, filename: str | None = None) -> DownloadedImage:
        """Fetch ``url`` under the policy and return the checked image.

        Raises :class:`DownloadRefused` (policy) or :class:`DownloadFailed` (could not fetch).
        """
        current = URL(url)
        name = filename or current.name or "image"
        for _hop in range(self._policy.max_redirects + 1):
            hop = await self._check(current)
            next_url, data = await self._fetch(hop)
            if next_url is None:
                assert data is not None
                return await self._decode(data, filename=name)
            current = next_url
        raise DownloadRefused(
            code="too_many_redirects",
            reason="I couldn't fetch that file: Slack kept redirecting me. Please upload it again.",
            detail=f"more than {self._policy.max_redirects} redirects from {url}",
        )

    async def _check(self, url: URL) -> _Hop:
        if url.user is not None or url.password is not None:
            raise DownloadRefused(code="host_not_allowed", reason=_REFUSE_HOST, detail="userinfo")
        entry = self._policy.entry_for(url)
        if entry is None:
            raise DownloadRefused(
                code="host_not_allowed",
                reason=_REFUSE_HOST,
                detail=f"{url.scheme}://{url.host}:{url.port}",
            )
        assert url.host is not None
        assert url.port is not None
        host = url.host.rstrip(".")
        if _is_ip_literal(host):
            addresses: Sequence[str] = [host]
        else:
            try:
                addresses = await self._resolve(host, url.port)
            except OSError as exc:
                raise DownloadFailed(
                    f"cannot resolve {host}: {exc}",
                    user_message="I couldn't reach Slack's file service just now. Please try "
                    "again in a minute.",
                    retryable=True,
                ) from exc
        if not addresses:
            raise DownloadFailed(
                f"{host} resolved to nothing",
                user_message="I couldn't reach Slack's file service just now. Please try again "
                "in a minute.",
                retryable=True,
            )
        if not entry.explicit:
            refused = [a for a in addresses if not address_is_public(a)]
            if refused:
                raise DownloadRefused(
                    code="address_not_allowed",
                    reason=_REFUSE_HOST,
                    detail=f"{host} resolves to non-public {', '.join(refused)}",
                )
        return _Hop(url=url, entry=entry, address=addresses[0].split("%", 1)[0])

    async def _fetch(self, hop: _Hop) -> tuple[URL | None, bytes | None]:
        url = hop.url
        assert url.host is not None
        assert url.port is not None
        pinned = url.with_host(hop.address)
        host_header = url.host if url.explicit_port is None else f"{url.host}:{url.port}"
        if ":" in url.host:  # an IPv6 literal keeps its brackets in the Host header
            host_header = f"[{url.host}]" + (f":{url.port}" if url.explicit_port else "")
        headers = {"Host": host_header, "Authorization": f"Bearer {self._token}"}
        try:
            async with self._session.get(
                pinned,
                headers=headers,
                allow_redirects=False,
                server_hostname=url.host if url.scheme == "https" else None,
                timeout=aiohttp.ClientTimeout(total=self._policy.timeout_s),
            ) as response:
                if response.status in _REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        raise self._failed(f"redirect {response.status} without Location", True)
                    return url.join(URL(location)), None
                if response.status != 200:
                    raise self._http_failed(response.status)
                if response.content_type == "text/html":
                    # Slack's answer to a request it does not accept the token for: a sign-in page.
                    raise DownloadFailed(
                        f"{url} answered a web page, not a file",
                        user_message="I couldn't open that file. Make sure I'm in this channel "
                        "(`/invite @imagebot`), then upload it again.",
                        retryable=False,
                    )
                declared = response.content_length
                if declared is not None and declared > self._policy.max_bytes:
                    raise self._too_big(f"Content-Length {declared}")
                return None, await self._read_capped(response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._failed(f"fetching {url}: {exc!r}", True) from exc

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        buffer = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            buffer += chunk
            if len(buffer) > self._policy.max_bytes:
                raise self._too_big(f"body passed {self._policy.max_bytes} bytes")
        return bytes(buffer)

    async def _decode(self, data: bytes, *, filename: str) -> DownloadedImage:
        return await asyncio.to_thread(_inspect, data, self._policy.max_pixels, filename)

    def _too_big(self, detail: str) -> DownloadRefused:
        megabytes = self._policy.max_bytes / (1024 * 1024)
        shown = f"{megabytes:.0f}" if megabytes >= 1 else f"{megabytes:.2f}"
        return DownloadRefused(
            code="too_big",
            reason=f"That image is bigger than {shown} MB. Please upload a smaller version.",
            detail=detail,
        )

    @staticmethod
    def _failed(detail: str, retryable: bool) -> DownloadFailed:
        return DownloadFailed(
            detail,
            user_message="I couldn't fetch that file from Slack just now. Please try again in a "
            "minute.",
            retryable=retryable,
        )

    def _http_failed(self, status: int) -> DownloadFailed:
        if status in (404, 410):
            return DownloadFailed(
                f"HTTP {status}",
                user_message="That file is no longer in Slack (it may have been deleted). "
                "Please upload it again.",
                retryable=False,
            )
        if status in (401, 403):
            return DownloadFailed(
                f"HTTP {status}",
                user_message="I'm not allowed to open that file. Make sure I'm in this channel "
                "(`/invite @imagebot`), then upload it again.",
                retryable=False,
            )
        return self._failed(f"HTTP {status}", status == 429 or status >= 500)


def _inspect(data: bytes, max_pixels: int, filename: str) -> DownloadedImage:
    """Decode ``data`` under the pixel cap (runs in a worker thread)."""
    try:
        with Image.open(io.BytesIO(data), formats=list(_MIME_BY_FORMAT)) as probe:
            fmt = str(probe.format)
            width, height = probe.size
            _check_pixels(width, height, max_pixels)
            probe.verify()
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            image.load()
            if fmt == "GIF":
                image.seek(0)
                buffer = io.BytesIO()
                image.convert("RGBA").save(buffer, format="PNG")
                return DownloadedImage(
                    data=buffer.getvalue(),
                    mime_type="image/png",
                    width=width,
                    height=height,
                    filename=filename.rsplit(".", 1)[0] + ".png",
                )
    except DownloadRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard fired first (its limit is above ours only by default, so this means
        # the header declared an enormous image); warnings count when the filter makes them errors.
        raise _too_many_pixels(detail=str(exc), max_pixels=max_pixels) from exc
    except Exception as exc:  # any decoder failure (Unidentified, OSError, SyntaxError...)
        raise DownloadRefused(
            code="not_an_image", reason=_REFUSE_NOT_IMAGE, detail=f"{type(exc).__name__}: {exc}"
        ) from exc
    return DownloadedImage(
        data=data, mime_type=_MIME_BY_FORMAT[fmt], width=width, height=height, filename=filename
    )


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width < 1 or height < 1 or width * height > max_pixels:
        raise _too_many_pixels(detail=f"{width}x{height}", max_pixels=max_pixels)


def _too_many_pixels(*, detail: str, max_pixels: int) -> DownloadRefused:
    return DownloadRefused(
        code="too_many_pixels",
        reason=f"That image has too many pixels for me. Please upload one under "
        f"{max_pixels / 1_000_000:g} megapixels.",
        detail=detail,
    )
