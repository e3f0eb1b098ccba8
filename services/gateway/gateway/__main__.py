"""`python -m gateway`: run the gateway. `python -m gateway openapi`: rewrite the kept API document."""

import errno
import logging
import sys

from aiohttp import web

from gateway.app import build_app
from gateway.config import GatewayConfig
from gateway.openapi import DOCUMENT_PATH, build_document, render
from gateway.routes import ROUTES
from webinar_runtime.service import Service, run_service

log = logging.getLogger("gateway")


async def wire(service: Service, config: GatewayConfig) -> None:
    app = build_app(service.bus, config)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=config.shutdown_grace)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        if error.errno == errno.EADDRINUSE:
            log.error("port %s on %s is already taken: stop what uses it or set PORT", config.port, config.host)
            raise SystemExit(4) from None
        raise
    # Stop accepting HTTP first and let requests in flight finish, then the bus drains.
    service.on_stop(runner.cleanup)
    log.info("gateway listening", extra={"url": f"http://{config.host}:{config.port}"})


def main() -> None:
    if sys.argv[1:] == ["openapi"]:
        DOCUMENT_PATH.write_bytes(render(build_document(ROUTES)))
        print(f"wrote {DOCUMENT_PATH}")
        return
    run_service("gateway", GatewayConfig, wire)


if __name__ == "__main__":
    main()
