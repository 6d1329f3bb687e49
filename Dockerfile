# Audio Soup widgets: the review dashboard (Voila) with the demo data built in.
#
#   docker build -t audiosoup-widgets .
#   docker run --rm -p 8866:8866 -e AUDIOSOUP_TOKEN="$(openssl rand -hex 24)" audiosoup-widgets
#
# A token is always required (the server binds 0.0.0.0): set AUDIOSOUP_TOKEN, or
# read the generated one from the container's log. The server answers to localhost
# and the container's own name; reached by another name (a LAN name, a proxy's public
# name), add it with -e AUDIOSOUP_ALLOWED_HOSTS=dash.example.org. With no AUDIOSOUP_DATABASE_URL
# the dashboard uses the SQLite demo database built into the image; the
# docker-compose.yml next to this file runs it against PostgreSQL instead.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# tini is PID 1: it forwards `docker stop` to the server and its kernels and reaps
# them. Nothing else comes from apt: soundfile's wheel bundles libsndfile,
# psycopg2-binary bundles libpq, and the rest install from wheels.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin audiosoup

# The install step of the README (a virtual environment, then `pip install .`),
# owned by root so the running server cannot change its own code.
WORKDIR /opt/audiosoup
COPY pyproject.toml README.md ./
COPY audiosoup_widgets ./audiosoup_widgets
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install . \
    && rm -rf /opt/audiosoup/build
ENV PATH=/opt/venv/bin:$PATH

# Everything the running server writes lives in the user's home.
ENV AUDIOSOUP_DATA_DIR=/home/audiosoup/data \
    NUMBA_CACHE_DIR=/home/audiosoup/.cache/numba
USER audiosoup
WORKDIR /home/audiosoup
# Build the demo database (SQLite, in the data folder) with its feature summaries:
# `audiosoup demo` compiles librosa's numba code into NUMBA_CACHE_DIR first (checked
# in a separate process, one compiler at a time), so no visitor waits for it.
RUN mkdir -p "$AUDIOSOUP_DATA_DIR" "$NUMBA_CACHE_DIR" \
    && AUDIOSOUP_NO_PROGRESS=1 audiosoup demo --no-serve \
    && audiosoup doctor

EXPOSE 8866
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import http.client as h; c = h.HTTPConnection('127.0.0.1', 8866, timeout=4); c.request('GET', '/voila/static/'); raise SystemExit(c.getresponse().status >= 500)"]
ENTRYPOINT ["tini", "-g", "--"]
CMD ["audiosoup", "serve", "--host", "0.0.0.0", "--port", "8866", "--no-browser"]
