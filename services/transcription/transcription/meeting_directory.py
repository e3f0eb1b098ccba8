"""Which meetings exist, as the meetings service says over the bus (this service never
reads its database). A meeting it confirmed is trusted for a while, so a live caption
stream does not ask once per line; an unknown one is asked again every time, since it
may be created a moment later."""

import time
from collections import OrderedDict
from collections.abc import Callable

from webinar_contracts import InvalidInput, NotFound, RequestContext
from webinar_contracts import meetings as meetings_contract
from webinar_contracts.meetings import GetMeeting, MeetingInfo
from webinar_runtime.bus import Bus


class MeetingDirectory:
    def __init__(
        self,
        bus: Bus,
        *,
        ttl: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._known: OrderedDict[tuple[str, str], tuple[float, MeetingInfo]] = OrderedDict()

    async def require(self, meeting_id: str, context: RequestContext) -> MeetingInfo:
        """The meeting of the caller's tenant with this id; NotFound (field `meetingId`) if none."""
        key = (context.tenant_id or "", meeting_id)
        cached = self._known.get(key)
        now = self.clock()
        if cached is not None and cached[0] > now:
            self._known.move_to_end(key)
            return cached[1]
        try:
            meeting = await self.bus.request(
                meetings_contract.GET_MEETING, GetMeeting(meeting_id=meeting_id), context=context
            )
        except (NotFound, InvalidInput):
            # An id the meetings service cannot even read names no meeting either.
            self._known.pop(key, None)
            raise NotFound("no meeting with this meetingId", field="meetingId") from None
        self._known[key] = (now + self.ttl, meeting)
        self._known.move_to_end(key)
        while len(self._known) > self.max_entries:
            self._known.popitem(last=False)
        return meeting
