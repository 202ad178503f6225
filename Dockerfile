# Image for the worker, the feed server and the simulator (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY detectors ./detectors
COPY stream ./stream
COPY simulator ./simulator
COPY config ./config
RUN pip install --no-cache-dir .
ENTRYPOINT ["ews"]
CMD ["--help"]
