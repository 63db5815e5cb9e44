# The service image: the pinned runtime requirements and gunicorn, started exactly as the Procfile starts it.
# (Not built in CI here: no Docker engine runs on the build machines; tests/unit/test_container_files.py
# checks this file statically.)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /app
# Dependencies first: this layer is rebuilt only when requirements.txt changes. requirements.txt ends by
# installing the service itself (`-e .`), which needs the project's files, so the pins are installed here
# without that line and the package after the code is copied.
COPY requirements.txt ./
RUN grep -v '^-e ' requirements.txt > /tmp/pins.txt && pip install -r /tmp/pins.txt

# The code stays root-owned and read-only to the service; only data/ (the log files) is writable. The group
# is made with the same number, so that USER below can name both by number.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/data/logs \
    && chown -R 10001:10001 /app/data
COPY pyproject.toml gunicorn.conf.py ./
COPY wsgi ./wsgi
COPY src ./src
RUN pip install --no-deps -e .

# By number, not name: Kubernetes' runAsNonRoot can only verify a numeric user (and hadolint asks for one).
USER 10001:10001
EXPOSE 8000
# No curl in the image: the probe is the service's own command (exit 0 healthy or degraded, else 1).
# Docker only marks the container unhealthy after 3 failures; it does not restart it (see docs/operations.md, "Containers").
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["python", "-m", "travel_agent", "healthcheck"]
# Exec form, as the Procfile: the settings are checked, then the process becomes gunicorn's master, PID 1,
# which receives Docker's SIGTERM itself (graceful shutdown).
CMD ["python", "-m", "travel_agent", "serve"]
