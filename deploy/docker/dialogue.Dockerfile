# Dialogue server (Rasa 3.6, Python 3.10). Build from the repository root, after `make train`:
#   docker build -f deploy/docker/dialogue.Dockerfile -t guichet-dialogue .
FROM python:3.10-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    PYTHONPATH=/app
WORKDIR /app
COPY constraints/rasa.in constraints/rasa.txt constraints/
RUN pip install --no-cache-dir -r constraints/rasa.in -c constraints/rasa.txt
# Only what the dialogue server imports: custom NLU components and date resolution, channels, log masking.
COPY nlu/ nlu/
COPY bot/ bot/
COPY guichet/ guichet/
COPY deploy/endpoints.scale.yml deploy/endpoints.local.yml deploy/logging.yml deploy/
COPY data/models/guichet.tar.gz models/guichet.tar.gz
RUN useradd --system --uid 10001 guichet && mkdir -p /app/data && chown guichet /app/data
USER guichet
EXPOSE 5005
# GUICHET_RASA_TOKEN is required (the desk uses the same value); endpoints from the environment (.env.example).
# The town's site (GUICHET_ALLOWED_ORIGINS, or GUICHET_CORS_ORIGINS) is checked by CORS and by the socket.io channel.
ENV SANIC_REQUEST_MAX_SIZE=1048576
CMD ["sh", "-c", "export GUICHET_ALLOWED_ORIGINS=\"${GUICHET_ALLOWED_ORIGINS:-${GUICHET_CORS_ORIGINS:-*}}\" && exec rasa run --enable-api --interface 0.0.0.0 --port 5005 --cors $GUICHET_ALLOWED_ORIGINS --auth-token=\"$GUICHET_RASA_TOKEN\" --model models/guichet.tar.gz --endpoints \"${GUICHET_RASA_ENDPOINTS:-deploy/endpoints.scale.yml}\" --credentials bot/credentials.yml --logging-config-file deploy/logging.yml"]
