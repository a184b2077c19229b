# syntax=docker/dockerfile:1
# Build stage: install gapwatch into a virtual environment, the same way CI does (pip, pyproject).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY db ./db
COPY frontier ./frontier
COPY jobs ./jobs
RUN python -m venv /venv && /venv/bin/pip install --upgrade pip && /venv/bin/pip install .

# Run stage: no compilers, no sources, no secrets; a non-root user owns only its data folder.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 gapwatch && mkdir -p /data && chown gapwatch /data
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 GAPWATCH_DATA_DIR=/data
USER gapwatch
WORKDIR /home/gapwatch
VOLUME ["/data"]
ENTRYPOINT ["gapwatch"]
CMD ["run"]
