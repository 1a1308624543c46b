# One image for web (Daphne), inference workers and training jobs.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt requirements-train.txt requirements.lock ./
ARG WITH_TRAINING=0
RUN pip install --no-cache-dir -r requirements.txt -c requirements.lock \
    && if [ "$WITH_TRAINING" = "1" ]; then pip install --no-cache-dir -r requirements-train.txt -c requirements.lock; fi
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# Static files are served by WhiteNoise from the sources (no collectstatic, so no settings load at build
# time). The secret key is never baked into the image: without SECRET_KEY the first process to start
# generates one into DATA_DIR, a volume (docker-compose.yml mounts one; a bare `docker run` gets a
# throw-away one, so sessions end with the container).
ENV DATA_DIR=/data
VOLUME /data
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--websocket-max-message-size", "65536", "--websocket-max-frame-size", "65536", "config.asgi:application"]
