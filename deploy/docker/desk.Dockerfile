# Desk (demo page, chat widget, operator console; aiohttp, Python 3.11).
# docker build -f deploy/docker/desk.Dockerfile -t guichet-desk .
FROM node:20-slim AS browser
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev --loglevel=error

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GUICHET_DESK_HOST=0.0.0.0
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
COPY --from=browser /web/node_modules web/node_modules
RUN pip install --no-cache-dir -c constraints/main.txt '.[web,booking]'
RUN useradd --system --uid 10001 guichet && mkdir -p /app/data && chown guichet /app/data
USER guichet
EXPOSE 8085
CMD ["python", "-m", "web", "--port", "8085"]
