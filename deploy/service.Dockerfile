# syntax=docker/dockerfile:1
# The image of one service: copy this file to services/NAME/Dockerfile and replace
# every NAME with the service's name. Lines marked "service:" are the ones a service may change.
# Build from the repository root, since a service installs libs/ beside its package:
#   docker build -f services/NAME/Dockerfile -t webinar/NAME:0.1.0 .
# tests/deploy checks every services/*/Dockerfile against the rules this one follows
# (hadolint, pinned base, non-root, HEALTHCHECK on /livez, no development packages).

# service: the folder under services/ (and the Python package) this image runs.
ARG SERVICE=NAME

FROM python:3.11.14-slim-trixie AS build
ARG SERVICE
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_CONSTRAINT=/src/deploy/constraints.txt
WORKDIR /src
COPY deploy/constraints.txt deploy/constraints.txt
COPY libs/contracts libs/contracts
COPY libs/runtime libs/runtime
COPY services/${SERVICE} services/${SERVICE}
# Every version comes from deploy/constraints.txt (PIP_CONSTRAINT also pins the build backend).
RUN python -m venv /opt/webinar \
    && /opt/webinar/bin/pip install ./libs/contracts "./libs/runtime[fast]" "./services/${SERVICE}"

FROM python:3.11.14-slim-trixie
ARG SERVICE
LABEL org.opencontainers.image.title="webinar-${SERVICE}" \
      org.opencontainers.image.source="services/${SERVICE}"
RUN groupadd --system --gid 10001 webinar \
    && useradd --system --uid 10001 --gid webinar --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin webinar
# service: system packages the service needs at run time (recording: ffmpeg; media: usually
# nothing, the aiortc and av wheels bundle their codec libraries). Pin the version the base
# image's Debian ships (`apt-cache policy ffmpeg` inside it), for example:
# RUN apt-get update \
#     && apt-get install -y --no-install-recommends ffmpeg=<version> \
#     && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/webinar /opt/webinar
# The bytecode was compiled at build time: nothing is written to the (read-only) root filesystem.
ENV PATH=/opt/webinar/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HEALTH_HOST=0.0.0.0 \
    HEALTH_PORT=9000
# service: settings the image should carry (the gateway adds HOST=0.0.0.0 and PORT=8080).
USER 10001:10001
EXPOSE 9000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['HEALTH_PORT'] + '/livez', timeout=2)"]
# service: how the service starts (`python -m NAME`).
ENTRYPOINT ["python", "-m", "NAME"]
