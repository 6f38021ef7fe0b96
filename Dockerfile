# imagebot: one image for Socket Mode and HTTP mode. Migrations run at start-up.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY router ./router
COPY bot ./bot
COPY migrations ./migrations
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 imagebot \
    && mkdir -p /data/images \
    && chown -R imagebot /data
COPY --from=build /install /usr/local
USER imagebot
WORKDIR /home/imagebot
ENV IMAGEBOT_IMAGE_DIR=/data/images \
    IMAGEBOT_DATABASE_URL=sqlite:////data/imagebot.db \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz').status == 200 else 1)"
ENTRYPOINT ["imagebot"]
CMD ["serve", "--port", "3000"]
