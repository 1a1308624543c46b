# Two images from one file: `runtime` (web, inference workers, migrate: no TensorFlow) and
# `trainer` (the runtime plus the training extra; runs `manage.py training_worker`).
#   docker build --target runtime -t guess-the-doodle .
#   docker build --target trainer -t guess-the-doodle-trainer .
FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt requirements-train.txt requirements.lock ./
RUN pip install --no-cache-dir -r requirements.txt -c requirements.lock
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# Compile the stroke preprocessing's and the rasterizer's kernels into the image (Numba's cache beside the
# source) instead of on each container's first start.
RUN python -c "import inference.strokes, inference.raster"
# Static files are served by WhiteNoise from the sources (no collectstatic, so no settings load at build
# time). The secret key is never baked into the image: without SECRET_KEY the first process to start
# generates one into DATA_DIR, a volume (docker-compose.yml mounts one; a bare `docker run` gets a
# throw-away one, so sessions end with the container).
ENV DATA_DIR=/data
VOLUME /data
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--websocket-max-message-size", "65536", "--websocket-max-frame-size", "65536", "config.asgi:application"]

# The training worker. TRAINING_REQUIREMENTS picks the TensorFlow build: requirements-train.txt (CPU, pinned
# in requirements.lock) or requirements-train-gpu.txt (CUDA wheels; see docker-compose.gpu.yml).
FROM runtime AS trainer
ARG TRAINING_REQUIREMENTS=requirements-train.txt
COPY requirements-train-gpu.txt ./
RUN pip install --no-cache-dir -r "$TRAINING_REQUIREMENTS" -c requirements.lock
CMD ["python", "manage.py", "training_worker"]
