# One image for all five processes (the compose file picks the binary).
# Debian bookworm throughout: the same packages the project builds with.

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libabsl-dev libpqxx-dev libcli11-dev libssl-dev libcpp-jwt-dev \
      libcpp-httplib-dev nlohmann-json3-dev libyaml-cpp-dev libjs-chart.js \
      libgoogle-perftools-dev libbenchmark-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DSAGAWORKS_BUILD_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" --target order-service payment-service \
      inventory-service shipping-service saga-orchestrator sagactl

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libpqxx-6.4 \
      libcpp-httplib0.11 libssl3 libtcmalloc-minimal4 libyaml-cpp0.7 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 sagaworks \
 && mkdir /tls && chown sagaworks /tls
COPY --from=build /build/bin/ /usr/local/bin/
COPY deploy/slo.yaml /usr/local/share/sagaworks/slo.yaml
USER sagaworks
# The compose file names the binary each service runs.
CMD ["sagactl", "--help"]
