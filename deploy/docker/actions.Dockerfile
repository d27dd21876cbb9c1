# Action server (rasa-sdk, Python 3.11). docker build -f deploy/docker/actions.Dockerfile -t guichet-actions .
FROM python:3.11-slim
# PYTHONPATH: rasa-sdk's plugin package, which adds GET /metrics to the action server (port 5055).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SANIC_HOST=0.0.0.0 PYTHONPATH=/app/deploy/rasa-sdk-plugins
WORKDIR /app
COPY pyproject.toml README.md ./
COPY constraints/main.txt constraints/
COPY guichet/ guichet/
COPY clients/ clients/
COPY booking/ booking/
COPY knowledge/ knowledge/
COPY actions/ actions/
COPY nlu/ nlu/
COPY web/ web/
COPY voice/ voice/
COPY bench/ bench/
COPY deploy/rasa-sdk-plugins/ deploy/rasa-sdk-plugins/
COPY deploy/logging.yml deploy/logging.yml
# booking: asyncpg, for the conversation metrics read from the PostgreSQL tracker store.
RUN pip install --no-cache-dir -c constraints/main.txt '.[actions,booking]'
# The questions classifier, fitted at build time (~1 min) rather than on the first question.
RUN python -m knowledge.faq warm --cache-dir /app/data/cache
RUN useradd --system --uid 10001 guichet && mkdir -p /app/data && chown -R guichet /app/data
USER guichet
EXPOSE 5055
# The same masking logging configuration as `make run` (personal data never reaches the container's log).
CMD ["python", "-m", "rasa_sdk", "--actions", "actions", "--port", "5055", "--logging-config_file", "deploy/logging.yml"]
