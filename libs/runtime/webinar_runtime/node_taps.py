"""A media node's tap endpoints (docs/captions.md), asked over the bus on the node that
holds the room: what every service that receives taps (captions, recording) calls."""

from webinar_contracts import RequestContext
from webinar_contracts import media as media_contract
from webinar_contracts.media import StartTap, TapRef, TapStarted
from webinar_runtime.bus import Bus


class NodeTaps:
    """Start, renew and stop a tap of one producer on the media node `node_id`."""

    def __init__(self, bus: Bus, *, timeout: float = 5.0) -> None:
        self._bus = bus
        self._timeout = timeout

    async def start(self, tenant_id: str, node_id: str, request: StartTap) -> TapStarted:
        return await self._bus.request(
            media_contract.NODE_START_TAP.at(node_id),
            request,
            context=RequestContext(tenant_id=tenant_id),
            timeout=self._timeout,
        )

    async def renew(self, tenant_id: str, node_id: str, request: TapRef) -> None:
        await self._bus.request(
            media_contract.NODE_RENEW_TAP.at(node_id),
            request,
            context=RequestContext(tenant_id=tenant_id),
            timeout=self._timeout,
        )

    async def stop(self, tenant_id: str, node_id: str, request: TapRef) -> None:
        await self._bus.request(
            media_contract.NODE_STOP_TAP.at(node_id),
            request,
            context=RequestContext(tenant_id=tenant_id),
            timeout=self._timeout,
        )
