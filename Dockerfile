# Berth's berthd in a small image, built from this source tree:
#   docker build -t berthd .     (or: podman build -t berthd .)
#   docker run -d -p 5000:5000 -v berth-data:/var/lib/berth berthd
#   docker exec -it CONTAINER berthd user add admin --admin --data /var/lib/berth
# Both stages come from debian:12, so the run-time libraries are exactly those the build
# linked against. It needs access to an image hub (for debian:12) and to Debian's mirrors;
# Berth's CI has neither, so it is not built there (see docs/install.md).

FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential autoconf automake libtool pkg-config \
        libmicrohttpd-dev libgnutls28-dev libsqlite3-dev libpq-dev libssl-dev libjansson-dev \
        libargon2-dev libcurl4-openssl-dev libarchive-dev libcmark-gfm-dev \
        libcmark-gfm-extensions-dev libseccomp-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN autoreconf -fi \
    && ./configure --prefix=/usr --sysconfdir=/etc \
    && make -j"$(nproc)" \
    && make install-strip DESTDIR=/out

FROM debian:12-slim
# berthd links all of these but libpq5 and libcurl4, which it loads only when a PostgreSQL
# database (libpq5) or S3 storage, mirroring, replication or webhooks (libcurl4) are used.
RUN apt-get update && apt-get install -y --no-install-recommends \
        libmicrohttpd12 libgnutls30 libsqlite3-0 libpq5 libssl3 libjansson4 libargon2-1 libcurl4 \
        libcmark-gfm0.29.0.gfm.6 libcmark-gfm-extensions0.29.0.gfm.6 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 999 berth \
    && useradd --system --uid 999 --gid berth --home-dir /var/lib/berth --shell /usr/sbin/nologin berth \
    && install -d -o berth -g berth -m 0750 /var/lib/berth
COPY --from=build /out/usr/bin/berthd /usr/bin/berthd
COPY --from=build /out/usr/share/man/man8/berthd.8 /usr/share/man/man8/berthd.8
USER berth
WORKDIR /var/lib/berth
VOLUME /var/lib/berth
EXPOSE 5000
ENV BERTH_LISTEN=0.0.0.0:5000 BERTH_DATA=/var/lib/berth
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD ["berthd", "--version"]
ENTRYPOINT ["/usr/bin/berthd"]
