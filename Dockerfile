# The dashboard with its embedded backend, data on a volume.
#   docker build -t ai-council .
#   docker run -d --name ai-council -p 127.0.0.1:8501:8501 -v ai-council-data:/data ai-council
# The controls need a login when others can reach them: add -e AI_COUNCIL_PASSWORD=... (or mount
# .streamlit/secrets.toml with [auth]); without one the pages are shown and the controls are off.
# Settings are environment variables (-e, README).
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 council

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py server.py ./
COPY .streamlit .streamlit
COPY backend backend
COPY dashboard dashboard
COPY views views

ENV AI_COUNCIL_DATA_DIR=/data PYTHONUNBUFFERED=1
RUN mkdir -p /data && chown council /data
VOLUME /data
USER council
EXPOSE 8501
# Inside the container the server must listen on every interface for the published port to reach it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "server.py", "--server.address", "0.0.0.0", "--server.port", "8501"]
