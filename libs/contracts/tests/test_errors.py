from webinar_contracts import ErrorCode, NotFound, RequestContext, ServiceError
from webinar_contracts.plans import Plan


def test_error_reply_round_trip_restores_the_same_class():
    original = NotFound("no such meeting", field="meetingId")
    again = ServiceError.from_reply(original.to_reply())
    assert isinstance(again, NotFound)
    assert isinstance(again, LookupError)
    assert (again.message, again.field, again.code) == ("no such meeting", "meetingId", ErrorCode.NOT_FOUND)


def test_request_context_travels_in_headers():
    ctx = RequestContext(trace_id="t1", tenant_id="ten", plan=Plan.ESSENTIAL, user_id="u", client_ip="10.0.0.1")
    assert RequestContext.from_headers(ctx.to_headers()) == ctx


def test_unknown_plan_header_is_ignored():
    assert RequestContext.from_headers({"plan": "gold"}).plan is None
