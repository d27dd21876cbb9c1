#!/bin/sh
# The dialogue server (Rasa) as `make run` starts it (deploy/Procfile). Its HTTP API token is GUICHET_RASA_TOKEN,
# or else data/rasa.token, created once and shared with the desk (which reads conversations and resumes them).
set -e
export GUICHET_DATA_DIR="${GUICHET_DATA_DIR:-data}"
mkdir -p "$GUICHET_DATA_DIR"  # the conversations' SQLite file lives there (Rasa cannot create the folder)
export GUICHET_ACTIONS_URL="${GUICHET_ACTIONS_URL:-http://127.0.0.1:${GUICHET_ACTIONS_PORT:-5055}/webhook}"
token="${GUICHET_RASA_TOKEN:-$(.venv/bin/python -m guichet.config token rasa)}"
export GUICHET_RASA_TOKEN="$token"  # the voice channel asks the phone gateway for it (bot/channels/voice.py)
# Browsers may call the dialogue server only from the town's site (CORS): GUICHET_ALLOWED_ORIGINS, space-separated.
desk="${GUICHET_DESK_PORT:-8085}"
export GUICHET_ALLOWED_ORIGINS="${GUICHET_ALLOWED_ORIGINS:-http://127.0.0.1:$desk http://localhost:$desk}"
origins="$GUICHET_ALLOWED_ORIGINS"  # also checked by the socket.io channel (WebSockets escape CORS)
# Requests to the dialogue server are small (a chat message, an event): 1 MB at most (Sanic's own limit is 100 MB).
export SANIC_REQUEST_MAX_SIZE="${SANIC_REQUEST_MAX_SIZE:-1048576}"
# shellcheck disable=SC2086  # one argument per origin
exec .venv-rasa/bin/rasa run --enable-api --interface "${GUICHET_DIALOGUE_HOST:-127.0.0.1}" --cors $origins \
  --port "${GUICHET_DIALOGUE_PORT:-5005}" --auth-token="$token" \
  --model "${GUICHET_RASA_MODEL:-$GUICHET_DATA_DIR/models/guichet.tar.gz}" \
  --endpoints "${GUICHET_RASA_ENDPOINTS:-deploy/endpoints.local.yml}" --credentials bot/credentials.yml \
  --logging-config-file deploy/logging.yml
