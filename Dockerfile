# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY api ./api
RUN python -m venv /venv && /venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 BIND=0.0.0.0:8000 \
    QBANK_INSTANCE_DIR=/data FLASK_APP=api
RUN useradd --system --create-home --uid 10001 app && mkdir /data && chown app /data
WORKDIR /app
COPY --from=build /venv /venv
COPY api ./api
COPY seeds ./seeds
COPY openapi.yaml gunicorn.conf.py boot.sh ./
USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
ENTRYPOINT ["./boot.sh"]
