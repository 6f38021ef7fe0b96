"""Wire-level fakes of external services (loopback aiohttp servers on port 0)."""

__all__: list[str] = []
