"""REST routes of the auth service (seed: "Authentication & User Management")."""

import msgspec
from aiohttp import web

from gateway.rest import Access, Call, Route, json_response
from webinar_contracts import auth
from webinar_contracts.auth import AccessGranted, GetUser, Login, PublicUser, RegisteredUser, RegisterUser


class Registered(msgspec.Struct, kw_only=True):
    success: bool = True
    message: str = "User created successfully"
    data: RegisteredUser


class LoggedIn(msgspec.Struct, kw_only=True):
    success: bool = True
    message: str = "Login successful"
    data: AccessGranted


class CurrentUser(msgspec.Struct, kw_only=True):
    success: bool = True
    data: PublicUser


async def register(call: Call) -> web.Response:
    result = await call.ask(auth.REGISTER, await call.body(RegisterUser))
    return json_response(Registered(data=result), 201)


async def login(call: Call) -> web.Response:
    result = await call.ask(auth.LOGIN, await call.body(Login))
    return json_response(LoggedIn(data=result))


async def me(call: Call) -> web.Response:
    user = await call.ask(auth.GET_USER, GetUser(user_id=call.require_user().user_id))
    return json_response(CurrentUser(data=user))


ROUTES = [
    Route("POST", "/auth/register", register, "auth", "Register a user of this API key's tenant",
          body=RegisterUser, responses={201: Registered}, errors=(400, 401, 409, 413)),
    Route("POST", "/auth/login", login, "auth", "Log in with email (userName) and password; returns an access token",
          body=Login, responses={200: LoggedIn}, errors=(400, 401, 429)),
    Route("GET", "/auth/me", me, "auth", "The user the bearer token belongs to",
          access=Access.USER, responses={200: CurrentUser}, errors=(401, 404)),
]  # fmt: skip
