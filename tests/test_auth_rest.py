"""Register, login and key checks over HTTP through the gateway, with auth behind it."""

import pytest

from restclient import call, new_user


async def test_register_answers_201_with_the_seed_shape_and_no_password(suite, http):
    body = new_user()
    status, answer, _ = await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body)
    assert status == 201
    assert answer["success"] is True
    assert answer["message"] == "User created successfully"
    user = answer["data"]["user"]
    assert set(user) == {"fName", "lName", "email", "_id"}
    assert (user["fName"], user["lName"], user["email"]) == (body["fName"], body["lName"], body["email"])
    assert len(user["_id"]) == 24


async def test_same_email_in_other_case_is_409(suite, http):
    body = new_user()
    await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body)
    again = new_user(email=body["email"].upper())
    status, answer, _ = await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=again)
    assert status == 409
    assert answer == {"success": False, "message": "a user with this email is already registered", "field": "email"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"fName": "   "}, "fName"),
        ({"lName": ""}, "lName"),
        ({"password": "short"}, "password"),
        ({"password": 12345678}, "password"),
        ({"phoneNumber": "call me"}, "phoneNumber"),
        ({"country": None}, "country"),
    ],
)
async def test_invalid_registration_is_400_naming_the_field(suite, http, change, field):
    status, answer, _ = await call(
        http, "POST", suite.url + "/auth/register", key=suite.api_key, json=new_user(**change)
    )
    assert status == 400
    assert answer["success"] is False
    assert answer["field"] == field


async def test_missing_field_is_400_naming_the_first_missing_one(suite, http):
    body = new_user()
    del body["lName"]
    status, answer, _ = await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body)
    assert (status, answer["field"], answer["message"]) == (400, "lName", "lName is required")


async def test_malformed_json_is_400(suite, http):
    status, answer, _ = await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, data=b'{"email":')
    assert status == 400
    assert answer["message"].startswith("malformed JSON")


async def test_body_over_the_limit_is_413(suite, http):
    body = new_user(country="x" * 70_000)
    status, answer, _ = await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body)
    assert status == 413
    assert answer["success"] is False


async def test_missing_or_unknown_api_key_is_401(suite, http):
    status, answer, _ = await call(http, "POST", suite.url + "/auth/register", json=new_user())
    assert (status, answer["message"]) == (401, "missing x-api-key header")
    status, answer, _ = await call(http, "POST", suite.url + "/auth/register", key="wk_nope", json=new_user())
    assert (status, answer["message"]) == (401, "unknown API key")


async def test_unknown_route_is_404_json(suite, http):
    status, answer, _ = await call(http, "GET", suite.url + "/no/such/route", key=suite.api_key)
    assert status == 404
    assert answer == {"success": False, "message": "no route GET /no/such/route"}


async def test_login_returns_a_token_that_authenticates_the_user(suite, http):
    body = new_user()
    _, registered, _ = await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body)
    status, answer, _ = await call(
        http, "POST", suite.url + "/auth/login", key=suite.api_key,
        json={"userName": body["email"].upper(), "password": body["password"]},
    )  # fmt: skip
    assert status == 200
    token = answer["data"]["accessToken"]
    assert answer["data"]["tokenType"] == "Bearer"
    assert answer["data"]["user"]["_id"] == registered["data"]["user"]["_id"]
    status, me, _ = await call(http, "GET", suite.url + "/auth/me", key=suite.api_key, token=token)
    assert status == 200
    assert me["data"]["email"] == body["email"]


async def test_wrong_password_and_unknown_email_get_the_same_401(suite, http):
    body = new_user()
    await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body)
    wrong = await call(http, "POST", suite.url + "/auth/login", key=suite.api_key,
                       json={"userName": body["email"], "password": "not the password"})  # fmt: skip
    unknown = await call(http, "POST", suite.url + "/auth/login", key=suite.api_key,
                         json={"userName": "nobody@example.test", "password": "not the password"})  # fmt: skip
    assert wrong[0] == unknown[0] == 401
    assert wrong[1] == unknown[1] == {"success": False, "message": "invalid email or password"}


async def test_repeated_failures_are_refused_with_429_and_retry_after(suite, http):
    body = new_user()
    await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body)
    attempt = {"userName": body["email"], "password": "guess guess"}
    statuses = [
        (await call(http, "POST", suite.url + "/auth/login", key=suite.api_key, json=attempt))[0] for _ in range(5)
    ]
    assert statuses == [401] * 5
    status, answer, headers = await call(http, "POST", suite.url + "/auth/login", key=suite.api_key,
                                         json={**attempt, "password": body["password"]})  # fmt: skip
    assert status == 429
    assert int(headers["Retry-After"]) > 0
    assert "too many failed logins" in answer["message"]


async def test_token_is_refused_with_another_tenants_key(suite, http, essential_key):
    body = new_user()
    await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body)
    _, answer, _ = await call(http, "POST", suite.url + "/auth/login", key=suite.api_key,
                              json={"userName": body["email"], "password": body["password"]})  # fmt: skip
    status, refused, _ = await call(http, "GET", suite.url + "/auth/me", key=essential_key,
                                    token=answer["data"]["accessToken"])  # fmt: skip
    assert status == 401
    assert "another tenant" in refused["message"]


async def test_users_are_scoped_to_their_tenant(suite, http, essential_key):
    body = new_user()
    assert (await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body))[0] == 201
    # The same email is free in another tenant, and the first tenant's password does not log in there.
    status, _, _ = await call(http, "POST", suite.url + "/auth/login", key=essential_key,
                              json={"userName": body["email"], "password": body["password"]})  # fmt: skip
    assert status == 401
    assert (await call(http, "POST", suite.url + "/auth/register", key=essential_key, json=body))[0] == 201


async def test_tampered_token_is_401(suite, http):
    status, answer, _ = await call(http, "GET", suite.url + "/auth/me", key=suite.api_key, token="abc.def.ghi")
    assert (status, answer["message"]) == (401, "malformed access token")


async def test_healthz_reports_each_service(suite, http):
    status, answer, _ = await call(http, "GET", suite.url + "/healthz")
    assert status == 200
    assert answer["status"] == "ok"
    assert answer["services"]["auth"]["ready"] is True


async def test_openapi_document_is_served(suite, http):
    status, document, _ = await call(http, "GET", suite.url + "/openapi.json")
    assert status == 200
    assert document["openapi"] == "3.1.0"
    assert "/auth/register" in document["paths"]
