# One image for every service (registry, competitions, judging) and for the migration job.
# The service is chosen by the command; see docker-compose.yml.
#
# The source stays in /app next to alembic.ini and migrations/: shared/migrate.py finds them
# relative to the parent folder of the `shared` package, and PYTHONPATH=/app makes Python
# import `shared` and `services` from /app rather than from the installed copy.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KEY_DIR=/var/lib/skills/keys

WORKDIR /app

# Dependencies first (read from pyproject.toml), so that a source change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project itself: packages shared* and services*, plus alembic.ini and migrations/.
COPY . /app
RUN pip install --no-cache-dir . \
    && rm -rf /app/build /app/*.egg-info

# Unprivileged user; the registry's signing keys live in KEY_DIR (a volume in compose).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app \
    && mkdir -p /var/lib/skills/keys \
    && chown -R app:app /var/lib/skills \
    && chmod 700 /var/lib/skills/keys
USER 10001:10001

EXPOSE 8001 8002 8003

# Health checks are defined per service in docker-compose.yml (each listens on its own port).
CMD ["python", "-m", "shared.serve", "registry", "--host", "0.0.0.0", "--port", "8001"]
