"""Azure Speech tokens for browsers: the subscription key stays here and is exchanged
at Azure's token service (STS `issueToken`) for a token that lives 10 minutes, which
is handed out (and reused for a while under that life) with its region."""

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp

from webinar_contracts import Unavailable
from webinar_contracts.transcription import SpeechToken

log = logging.getLogger("transcription.speech")

ISSUE_TOKEN_PATH = "/sts/v1.0/issueToken"  # noqa: S105 (a path, not a secret)
TOKEN_LIFETIME_SECONDS = 600.0


def default_sts_url(region: str) -> str:
    return f"https://{region}.api.cognitive.microsoft.com"


class SpeechTokenIssuer:
    """Issues `{token, region}`; one STS call at a time, its token reused for `reuse_seconds`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        key: str,
        region: str,
        sts_url: str = "",
        reuse_seconds: float = 540.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < reuse_seconds < TOKEN_LIFETIME_SECONDS:
            raise ValueError("a token can be reused for less than its 10-minute life only")
        self.session = session
        self.key = key
        self.region = region
        self.sts_url = (sts_url or (default_sts_url(region) if region else "")).rstrip("/")
        self.reuse_seconds = reuse_seconds
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.clock = clock
        self._token: str | None = None
        self._reuse_until = 0.0
        self._lock = asyncio.Lock()

    def missing_settings(self) -> list[str]:
        settings = (("AZURE_SPEECH_KEY", self.key), ("AZURE_SPEECH_REGION", self.region))
        return [name for name, value in settings if not value]

    async def issue(self) -> SpeechToken:
        missing = self.missing_settings()
        if missing:
            raise Unavailable(f"speech tokens are not configured on this server: {' and '.join(missing)} not set")
        async with self._lock:
            if self._token is None or self.clock() >= self._reuse_until:
                asked_at = self.clock()
                self._token = await self._exchange_key()
                self._reuse_until = asked_at + self.reuse_seconds
            return SpeechToken(token=self._token, region=self.region)

    async def _exchange_key(self) -> str:
        url = self.sts_url + ISSUE_TOKEN_PATH
        headers = {"Ocp-Apim-Subscription-Key": self.key, "Content-Type": "application/x-www-form-urlencoded"}
        try:
            async with self.session.post(url, headers=headers, data=b"", timeout=self.timeout) as response:
                body = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("Azure Speech token service unreachable: %s", error)
            raise Unavailable("the Azure Speech token service did not answer") from None
        if status in (401, 403):
            raise Unavailable("the Azure Speech token service refused AZURE_SPEECH_KEY for this region")
        if status != 200 or not body.strip():
            log.warning("Azure Speech token service answered %s", status)
            raise Unavailable(f"the Azure Speech token service answered HTTP {status}")
        log.info("speech token issued", extra={"region": self.region})
        return body.strip()
