# One image for the web, worker, scheduler and migrate services of compose.yaml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY strideguard strideguard
COPY integrations integrations
COPY worker worker
COPY rules rules
COPY migrations migrations
COPY email_templates email_templates
RUN pip install --no-cache-dir -e . && useradd --create-home strideguard
USER strideguard
# Uploads from the runner page wait here (the `uploads` volume web and worker share).
RUN mkdir -m 700 -p /home/strideguard/uploads
EXPOSE 8000
CMD ["strideguard", "--help"]
