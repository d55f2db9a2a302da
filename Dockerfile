FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --create-home miningwatch && mkdir -p /app/var /app/staticfiles && chown -R miningwatch /app/var /app/staticfiles
USER miningwatch
EXPOSE 8000
CMD ["bin/web"]
