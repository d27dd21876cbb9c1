# Booking backend (aiohttp, Python 3.11). docker build -f deploy/docker/booking.Dockerfile -t guichet-booking .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GUICHET_BOOKING_HOST=0.0.0.0
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
RUN pip install --no-cache-dir -c constraints/main.txt '.[booking]'
RUN useradd --system --uid 10001 guichet && mkdir -p /app/data && chown guichet /app/data
USER guichet
EXPOSE 8081
# GUICHET_BOOKING_DATABASE_URL=postgresql://… and GUICHET_STAFF_TOKEN come from the environment.
CMD ["python", "-m", "booking", "--port", "8081"]
