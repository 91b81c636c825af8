#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter (Rasa 3.6 needs >=3.8,<3.11), or explains the fix.
set -euo pipefail
for candidate in "${PYTHON310:-}" python3.10 "$(command -v pyenv >/dev/null 2>&1 && echo "$(pyenv root)/versions/3.10"*/bin/python | tr ' ' '\n' | sort -V | tail -n1)"; do
  [ -n "$candidate" ] || continue
  path=$(command -v "$candidate" 2>/dev/null || true)
  [ -n "$path" ] || continue
  if "$path" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
    echo "$path"
    exit 0
  fi
done
cat >&2 <<'MSG'
Python 3.10 was not found (Rasa 3.6 runs on Python 3.8-3.10 only).
Fix one of:
  pyenv install 3.10.13            # with pyenv
  apt-get install python3.10-venv  # Debian/Ubuntu with python3.10 available
  PYTHON310=/path/to/python3.10 make run
MSG
exit 1
