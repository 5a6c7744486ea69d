FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/registry

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
# Editable, so that the code finds alembic.ini and migrations/ beside it.
RUN pip install -e . \
    && useradd --system --home /srv/registry registry \
    && mkdir -p /srv/registry/var && chown registry /srv/registry/var
USER registry

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["registry", "serve", "--host", "0.0.0.0", "--port", "8000"]
