# syntax=docker/dockerfile:1
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LICENSEBOT_HOST=0.0.0.0 \
    LICENSEBOT_PORT=3000 \
    LICENSEBOT_DATA_DIR=/data \
    NUMBA_CACHE_DIR=/data/numba-cache

RUN groupadd --system --gid 10001 licensebot \
    && useradd --system --uid 10001 --gid licensebot --home-dir /app --shell /usr/sbin/nologin licensebot

WORKDIR /app
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY knowledge ./knowledge
RUN pip install --no-deps . \
    && mkdir -p /data \
    && chown licensebot:licensebot /data

USER 10001:10001
VOLUME ["/data"]
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LICENSEBOT_PORT', '3000'), timeout=2)"]

CMD ["licensebot", "serve"]
