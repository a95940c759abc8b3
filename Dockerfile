# The pilot's agent as a container: python -m agents with the book's ex3.4 config.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY agents agents
COPY labctl labctl
COPY simulator simulator
RUN pip install --no-cache-dir .
RUN mkdir -p /working/car-batch-log /working/driver-realtime-log /working/SmartCar
CMD ["python", "-m", "agents", "--conf-file", "/app/labctl/pilot/conf/SmartCar_Agent.conf", \
     "--name", "SmartCar_Agent", "--monitoring-port", "41414", "--monitoring-host", "0.0.0.0"]
