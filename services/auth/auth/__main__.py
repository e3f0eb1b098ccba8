"""`python -m auth`: run the service. `python -m auth tenants ...`: manage tenants and keys."""

import argparse
import asyncio
import logging
import sys

from auth.config import AuthCliConfig, AuthConfig
from auth.domain import generate_api_key, hash_api_key, parse_plan
from auth.handlers import AuthHandlers
from auth.passwords import Passwords
from auth.store import AuthStore, LoginThrottle
from auth.tokens import TokenSigner
from webinar_contracts import auth as contract
from webinar_contracts.errors import ServiceError
from webinar_contracts.plans import Plan
from webinar_runtime.config import ConfigError, load_config
from webinar_runtime.service import Service, run_service
from webinar_runtime.stores import connect_mongo

log = logging.getLogger("auth")


async def wire(service: Service, config: AuthConfig) -> None:
    signer = TokenSigner(config.signing_key_pem(), issuer=config.token_issuer, ttl_seconds=config.token_ttl)
    db = await service.open_mongo(config.mongo_url, config.database)
    redis = await service.open_redis(config.redis_url)
    store = AuthStore(db)
    await store.create_indexes()
    if config.bootstrap_api_key:
        tenant = await store.ensure_tenant_with_key(
            config.bootstrap_tenant_name, Plan.PROFESSIONAL, hash_api_key(config.bootstrap_api_key)
        )
        log.info("bootstrap tenant ready", extra={"tenant_id": tenant.id, "tenant_name": tenant.name})
    handlers = AuthHandlers(
        store=store,
        throttle=LoginThrottle(
            redis, max_failures=config.login_max_failures, window_seconds=config.login_lockout_seconds
        ),
        passwords=Passwords(),
        signer=signer,
        bus=service.bus,
    )
    await service.serve(contract.REGISTER, handlers.register)
    await service.serve(contract.LOGIN, handlers.login)
    await service.serve(contract.GET_USER, handlers.get_user)
    await service.serve(contract.RESOLVE_API_KEY, handlers.resolve_api_key)
    await service.serve(contract.SIGNING_KEYS, handlers.signing_keys)
    await service.serve(contract.ISSUE_ROOM_TICKET, handlers.issue_room_ticket)


# -- command line: tenants and keys -------------------------------------------------


async def _with_store(action: "argparse.Namespace") -> int:
    settings = load_config(AuthCliConfig)
    client = await connect_mongo(settings.mongo_url, attempts=3, app_name="auth-cli")
    try:
        store = AuthStore(client[settings.database])
        await store.create_indexes()
        return await action.run(store, action)  # type: ignore[no-any-return]
    finally:
        await client.close()


async def _create_tenant(store: AuthStore, args: argparse.Namespace) -> int:
    tenant = await store.create_tenant(args.name, parse_plan(args.plan))
    api_key = generate_api_key()
    await store.add_api_key(tenant.id, hash_api_key(api_key), label="created with the tenant")
    print(f"tenant {tenant.id} ({tenant.name}, {tenant.plan.value})")
    print(f"api key (shown once, store it now): {api_key}")
    return 0


async def _create_key(store: AuthStore, args: argparse.Namespace) -> int:
    tenant = await store.get_tenant(args.tenant)
    if tenant is None:
        print(f"no tenant {args.tenant}", file=sys.stderr)
        return 1
    api_key = generate_api_key()
    await store.add_api_key(tenant.id, hash_api_key(api_key), label=args.label)
    print(f"api key for tenant {tenant.id} (shown once, store it now): {api_key}")
    return 0


async def _list_tenants(store: AuthStore, args: argparse.Namespace) -> int:
    for tenant in await store.list_tenants():
        print(f"{tenant.id}  {tenant.plan.value:<12}  {tenant.name}")
    return 0


async def _set_plan(store: AuthStore, args: argparse.Namespace) -> int:
    if not await store.set_plan(args.tenant, parse_plan(args.plan)):
        print(f"no tenant {args.tenant}", file=sys.stderr)
        return 1
    print(f"tenant {args.tenant} is now on {parse_plan(args.plan).value}")
    return 0


def command_line() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m auth", description="Run the auth service, or manage tenants.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    tenants = commands.add_parser("tenants", help="manage tenants (reads MONGO_URL)").add_subparsers(dest="action")
    create = tenants.add_parser("create", help="create a tenant and print its first API key")
    create.add_argument("--name", required=True)
    create.add_argument("--plan", default="essential", help="essential or professional")
    create.set_defaults(run=_create_tenant)
    listing = tenants.add_parser("list", help="list tenants")
    listing.set_defaults(run=_list_tenants)
    plan = tenants.add_parser("set-plan", help="move a tenant to another plan")
    plan.add_argument("--tenant", required=True)
    plan.add_argument("--plan", required=True)
    plan.set_defaults(run=_set_plan)
    keys = commands.add_parser("keys", help="manage API keys (reads MONGO_URL)").add_subparsers(dest="action")
    new_key = keys.add_parser("create", help="add an API key to a tenant and print it")
    new_key.add_argument("--tenant", required=True)
    new_key.add_argument("--label", default="")
    new_key.set_defaults(run=_create_key)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = command_line()
    args = parser.parse_args(argv)
    if args.command in (None, "serve"):
        run_service("auth", AuthConfig, wire)
        return
    if not hasattr(args, "run"):
        parser.parse_args([args.command, "--help"])
    try:
        raise SystemExit(asyncio.run(_with_store(args)))
    except (ConfigError, ServiceError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
