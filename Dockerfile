# The production image: gunicorn serving wsgi:app. Migrations run once, from the `migrate` service.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# WeasyPrint's libraries and the Chinese fonts the papers (PDF) are printed in
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b \
    libharfbuzz-subset0 libfontconfig1 fonts-noto-cjk && rm -rf /var/lib/apt/lists/*
# Every dependency from the hashed lock (its own layer, rebuilt only when the lock changes); then the project alone.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY kxflow ./kxflow
COPY workers ./workers
COPY migrations ./migrations
COPY wsgi.py babel.cfg ./
RUN pip install --no-cache-dir --no-deps . && pybabel compile -d kxflow/translations \
    && useradd --system --home /app kxflow && mkdir -p /data/uploads && chown kxflow /data/uploads
USER kxflow
EXPOSE 8000
CMD ["gunicorn", "--limit-request-line", "8190", "--workers", "4", "--worker-class", "gthread", "--threads", "4", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "wsgi:app"]
