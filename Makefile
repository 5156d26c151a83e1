# Two entry points for a fresh Debian 12 machine: `make run` and `make test`.
# Each installs what it needs by itself (system packages, uv, the locked environment).

SHELL := /bin/bash
PORT ?= 5000
HOST ?= 127.0.0.1
export PORT HOST
SYSTEM_PACKAGES := chromium fonts-noto-cjk libharfbuzz-subset0 poppler-utils apache2-utils redis-server
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_LINK_MODE := copy
# Python does not write bytecode on these machines (PYTHONDONTWRITEBYTECODE=1), so every start
# would compile numpy & co. from source again: compile once at install time instead (`jifen`
# starts in ~0.2 s rather than ~0.55 s).
export UV_COMPILE_BYTECODE := 1

.PHONY: run test lint format system-packages env bench

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

env: $(UV)
	$(UV) sync --frozen
	$(UV) run --frozen python -m compileall -q app allocation scoring >/dev/null

lint: env
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: env
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

test: system-packages env lint
	$(UV) run pytest -n 2 --dist loadgroup

# The job queue's consumer (large imports) runs beside gunicorn and stops with it.
run: system-packages env
	$(UV) run jifen db upgrade
	$(UV) run jifen demo
	$(UV) run huey_consumer app.jobs.huey --workers 1 --quiet & consumer=$$!; \
	trap 'kill $$consumer 2>/dev/null' EXIT INT TERM; \
	$(UV) run gunicorn --config gunicorn.conf.py "app:create_app()"

bench: env
	$(UV) run python benchmarks/score.py
