# The middlebox role of the Docker backend. Everything it runs comes from the base image
# (Debian packages installed by debootstrap, pyftpdlib installed into it; see
# harness/backends/docker_images.py), so this build needs no network and no registry.
ARG BASE
FROM ${BASE}
LABEL ftps-harness.role="middlebox"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
CMD ["sleep", "infinity"]
