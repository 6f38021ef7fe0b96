"""Reference-image downloads: allowlist, address checks, redirects, size and content checks."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp
import pytest

from bot.slack_io import (
    AllowedHost,
    DownloadFailed,
    DownloadPolicy,
    DownloadRefused,
    SlackFileDownloader,
    address_is_public,
    parse_file_ref,
)
from tests.fakes.png import gif_bytes, jpeg_bytes, png_bytes, png_declaring, webp_bytes
from tests.fakes.slack_api import FakeSlackAPI


def downloader(
    http: aiohttp.ClientSession,
    fake: FakeSlackAPI,
    *hosts: str,
    token: str | None = None,
    max_bytes: int = 1024 * 1024,
    max_pixels: int = 50_000_000,
) -> SlackFileDownloader:
    policy = DownloadPolicy(
        allowed_hosts=hosts or (fake.host_port,), max_bytes=max_bytes, max_pixels=max_pixels
    )
    return SlackFileDownloader(http, token=token or fake.token, policy=policy)


async def test_allowed_host_downloads_a_checked_image(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """An explicitly listed host:port serves the file with the bot token as Bearer."""
    data = png_bytes(32, 20)
    file = parse_file_ref(slack_api.add_file(data, name="logo.png"))

    image = await downloader(http, slack_api).download_file(file)

    assert (image.data, image.mime_type, image.width, image.height) == (data, "image/png", 32, 20)
    assert image.filename == "logo.png"
    [call] = slack_api.calls_to("files-pri")
    assert call.authorized
    assert call.headers["Host"] == slack_api.host_port


@pytest.mark.parametrize(
    ("data", "mime_type"),
    [(jpeg_bytes(), "image/jpeg"), (webp_bytes(), "image/webp"), (gif_bytes(), "image/png")],
)
async def test_formats_are_recognised_from_bytes(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession, data: bytes, mime_type: str
) -> None:
    """JPEG and WEBP pass as they are; a GIF arrives as a PNG of its first frame."""
    file = slack_api.add_file(data, name="ref.bin", mimetype="application/octet-stream")

    image = await downloader(http, slack_api).download(file["url_private_download"])

    assert image.mime_type == mime_type
    assert (image.width, image.height) == (8, 8)


async def test_unlisted_host_is_refused_without_any_request(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """With only Slack's hosts allowed, the loopback fake is never contacted."""
    file = slack_api.add_file(png_bytes())

    with pytest.raises(DownloadRefused) as caught:
        await downloader(http, slack_api, "files.slack.com").download(file["url_private"])

    assert caught.value.code == "host_not_allowed"
    assert slack_api.calls == []


async def test_loopback_is_refused_unless_listed_with_its_port(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """A bare-host entry does not open loopback; only the exact host:port entry does."""
    file = slack_api.add_file(png_bytes())

    with pytest.raises(DownloadRefused) as caught:
        await downloader(http, slack_api, "127.0.0.1").download(file["url_private"])

    assert caught.value.code == "host_not_allowed"  # a bare host means https on 443 only
    assert slack_api.calls == []


async def test_allowed_name_resolving_to_private_address_is_refused(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """files.slack.com resolving to a private address (DNS rebinding) is refused before connect."""
    asked: list[tuple[str, int]] = []

    async def rebinding(host: str, port: int) -> Sequence[str]:
        asked.append((host, port))
        return ["93.184.216.34", "10.0.0.7"]

    fetcher = SlackFileDownloader(
        http, token=slack_api.token, policy=DownloadPolicy(), resolver=rebinding
    )
    with pytest.raises(DownloadRefused) as caught:
        await fetcher.download("https://files.slack.com/files-pri/T111-F1/download/a.png")

    assert caught.value.code == "address_not_allowed"
    assert asked == [("files.slack.com", 443)]


async def test_explicit_name_entry_connects_to_the_checked_address(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """A listed name is resolved once and the request goes to that address with its Host."""

    async def resolver(host: str, port: int) -> Sequence[str]:
        return ["127.0.0.1"]

    file = slack_api.add_file(png_bytes())
    path = file["url_private_download"].split(slack_api.origin, 1)[1]
    policy = DownloadPolicy(allowed_hosts=(f"files.test:{slack_api.port}",))
    fetcher = SlackFileDownloader(http, token=slack_api.token, policy=policy, resolver=resolver)

    image = await fetcher.download(f"http://files.test:{slack_api.port}{path}")

    assert image.mime_type == "image/png"
    [call] = slack_api.calls_to("files-pri")
    assert call.headers["Host"] == f"files.test:{slack_api.port}"


async def test_redirect_within_the_allowlist_is_followed(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """A redirect to another allowed URL is followed with the token, each hop recorded."""
    target = slack_api.add_file(png_bytes())
    first = slack_api.add_file(b"", redirect_to=target["url_private_download"])

    image = await downloader(http, slack_api).download(first["url_private_download"])

    assert image.mime_type == "image/png"
    assert [c.authorized for c in slack_api.calls_to("files-pri")] == [True, True]


async def test_redirect_to_an_unlisted_port_is_refused_and_gets_no_token(
    slack_api: FakeSlackAPI, other_server: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """A hop to a host:port nobody listed is refused; that server never hears from us."""
    elsewhere = other_server.add_file(png_bytes())
    first = slack_api.add_file(b"", redirect_to=elsewhere["url_private_download"])

    with pytest.raises(DownloadRefused) as caught:
        await downloader(http, slack_api).download(first["url_private_download"])

    assert caught.value.code == "host_not_allowed"
    assert other_server.calls == []


async def test_too_many_redirects_are_refused(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """A chain longer than three redirects stops after the fourth request."""
    url = slack_api.add_file(png_bytes())["url_private_download"]
    for _ in range(4):
        url = slack_api.add_file(b"", redirect_to=url)["url_private_download"]

    with pytest.raises(DownloadRefused) as caught:
        await downloader(http, slack_api).download(url)

    assert caught.value.code == "too_many_redirects"
    assert len(slack_api.calls_to("files-pri")) == 4


async def test_oversize_body_is_refused_even_without_content_length(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """A chunked body is cut off once it passes the cap."""
    file = slack_api.add_file(png_bytes(400, 400) + b"\0" * 200_000, chunked=True)

    with pytest.raises(DownloadRefused) as caught:
        await downloader(http, slack_api, max_bytes=50_000).download(file["url_private"])

    assert caught.value.code == "too_big"
    assert "MB" in caught.value.reason


async def test_declared_oversize_is_refused_before_fetching(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """A file whose Slack size is over the cap is refused without a request."""
    file = parse_file_ref(slack_api.add_file(b"\0" * 3000))

    with pytest.raises(DownloadRefused):
        await downloader(http, slack_api, max_bytes=1000).download_file(file)

    assert slack_api.calls == []


async def test_oversize_content_length_is_refused(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """A Content-Length over the cap is refused before the body is read."""
    file = slack_api.add_file(b"\0" * 3000)

    with pytest.raises(DownloadRefused) as caught:
        await downloader(http, slack_api, max_bytes=1000).download(file["url_private"])

    assert caught.value.code == "too_big"


async def test_non_image_bytes_are_refused_whatever_the_mimetype(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """Bytes that do not decode as an image are refused though Slack says image/png."""
    file = slack_api.add_file(b"%PDF-1.7 not an image", mimetype="image/png")

    with pytest.raises(DownloadRefused) as caught:
        await downloader(http, slack_api).download(file["url_private"])

    assert caught.value.code == "not_an_image"
    assert "PNG, JPEG" in caught.value.user_message


async def test_truncated_png_is_refused(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """A PNG cut short fails the decode check."""
    file = slack_api.add_file(png_bytes(64, 64)[:60])

    with pytest.raises(DownloadRefused) as caught:
        await downloader(http, slack_api).download(file["url_private"])

    assert caught.value.code == "not_an_image"


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (8_000, 8_000)])
async def test_decompression_bomb_is_refused_before_decoding(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession, width: int, height: int
) -> None:
    """A tiny PNG declaring a huge canvas is refused by the pixel cap, not decoded."""
    bomb = png_declaring(width, height)
    assert len(bomb) < 2000
    file = slack_api.add_file(bomb)

    with pytest.raises(DownloadRefused) as caught:
        await downloader(http, slack_api).download(file["url_private"])

    assert caught.value.code == "too_many_pixels"
    assert "megapixels" in caught.value.reason


async def test_wrong_token_gets_the_sign_in_page_and_fails_clearly(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """Slack's HTML sign-in page (what a bad token gets) fails with advice, not as an image."""
    file = slack_api.add_file(png_bytes())

    with pytest.raises(DownloadFailed) as caught:
        await downloader(http, slack_api, token="xoxb-wrong").download(file["url_private"])

    assert caught.value.retryable is False
    assert "/invite" in caught.value.user_message
    assert slack_api.calls_to("files-pri")[0].token == "invalid"


async def test_server_error_is_a_retryable_failure(
    slack_api: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    """A 503 from the file host fails retryable."""
    file = slack_api.add_file(png_bytes())
    slack_api.server_error("files-pri")

    with pytest.raises(DownloadFailed) as caught:
        await downloader(http, slack_api).download(file["url_private"])

    assert caught.value.retryable is True


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address under test, nothing binds to it
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1%eth0",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
        "2002:7f00:1::",
        "not-an-ip",
    ],
)
def test_non_public_addresses_are_not_public(address: str) -> None:
    """Loopback, private, link-local, multicast, reserved, unspecified, wrapped v4: refused."""
    assert address_is_public(address) is False


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1", "::ffff:8.8.8.8"])
def test_public_addresses_are_public(address: str) -> None:
    """Ordinary public unicast addresses pass."""
    assert address_is_public(address) is True


def test_allowlist_entries_parse_and_match() -> None:
    """Bare hosts mean https:443; host:port and IP literals are explicit."""
    bare = AllowedHost.parse("Files.Slack.com.")
    assert bare == AllowedHost(host="files.slack.com", port=None, explicit=False)
    assert bare.matches(scheme="https", host="files.slack.com", port=443)
    assert not bare.matches(scheme="https", host="files.slack.com", port=8443)
    assert not bare.matches(scheme="http", host="files.slack.com", port=443)
    assert AllowedHost.parse("[::1]:8080") == AllowedHost(host="::1", port=8080, explicit=True)
    assert AllowedHost.parse("10.0.0.5").explicit
    with pytest.raises(ValueError, match="host"):
        AllowedHost.parse("https://files.slack.com/x")


def test_default_policy_allows_only_slack_file_hosts_over_https() -> None:
    """The default allowlist covers the fixtures' file URLs and nothing over plain http."""
    from yarl import URL

    policy = DownloadPolicy()
    assert policy.entry_for(URL("https://files.slack.com/files-pri/T111-F111/download/file.png"))
    assert policy.entry_for(URL("https://files.slack-gov.com/files-pri/T1-F1/a.png"))
    assert policy.entry_for(URL("http://files.slack.com/files-pri/T111-F111/file.png")) is None
    assert policy.entry_for(URL("https://evil.example/files-pri/x.png")) is None
