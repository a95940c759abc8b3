# The lab's one image: ZooKeeper, the Kafka brokers (or KRaft controllers) and the
# Flume-equivalent agents, each by command (`python -m labctl.node server|topic|agent|health`).
# Plain Debian, Debian's JRE and Python, Apache Kafka from the same pinned pom as the local
# backend. `labctl up --backend docker` builds it with a context that also carries what the
# host already fetched (prefetch/); a plain `docker build .` fetches everything itself.
ARG KAFKA_VERSION=3.9.1

FROM debian:bookworm-slim AS base
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*

# Apache Kafka: the jars labctl resolved with labctl/kafka/pom.xml, or resolved here with it.
FROM base AS kafka
ARG KAFKA_VERSION
COPY labctl/kafka/pom.xml prefetc[h] /build/
RUN if [ -d /build/kafka-libs ]; then mv /build/kafka-libs /opt/kafka-libs; \
    else apt-get update && apt-get install -y --no-install-recommends maven \
      && mvn -q -B -f /build/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
           -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory=/opt/kafka-libs; \
    fi

# The project in a venv: dependencies first (a layer that outlives code changes), then the code.
FROM base AS python
COPY pyproject.toml prefetc[h] /build/
RUN python3 -c "import tomllib; p = tomllib.load(open('/build/pyproject.toml', 'rb')); \
print('\n'.join(p['project']['dependencies'] + p['build-system']['requires']))" \
      > /build/requirements.txt \
 && python3 -m venv /opt/lab \
 && if [ -d /build/wheels ]; then from="--no-index --find-links /build/wheels"; fi \
 && /opt/lab/bin/pip install --no-cache-dir --disable-pip-version-check $from \
      -r /build/requirements.txt
COPY pyproject.toml README.md /src/
COPY agents /src/agents
COPY labctl /src/labctl
COPY simulator /src/simulator
RUN /opt/lab/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps \
      --no-build-isolation /src

FROM base
RUN useradd --uid 1000 --home-dir /var/lib/smartcar --create-home lab \
 && mkdir -p /var/lib/smartcar/data && chown lab:lab /var/lib/smartcar/data \
 && mkdir -p /lab/state && chmod 1777 /lab/state
COPY --from=kafka /opt/kafka-libs /opt/kafka/libs
COPY --from=python /opt/lab /opt/lab
ENV PATH=/opt/lab/bin:$PATH LAB_KAFKA_LIBS=/opt/kafka/libs PYTHONUNBUFFERED=1
USER lab
WORKDIR /var/lib/smartcar
ENTRYPOINT ["python", "-m", "labctl.node"]
CMD ["--help"]
