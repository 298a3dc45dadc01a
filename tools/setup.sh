#!/usr/bin/env bash
# Sets up everything Backstop needs inside the project folder: a Python virtual environment in .venv/,
# the pinned Node packages in node_modules/, and the solc-js stand-in in .solc/ for py-solc-x.
# Idempotent and cached: each part is redone only when its pin file changed or the part is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() { echo "backstop setup: $*" >&2; exit 1; }
say() { [ -n "${BACKSTOP_QUIET:-}" ] || echo "backstop setup: $*" >&2; }
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

PY=${PYTHON:-python3}
command -v "$PY" >/dev/null 2>&1 || die "'$PY' was not found; install Python 3.11 (https://www.python.org) or set PYTHON=/path/to/python3.11"
"$PY" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 12) else 1)' \
  || die "Python 3.10-3.12 is required (eth-ape 0.8 supports these); '$PY' is $("$PY" -c 'import platform; print(platform.python_version())'). Set PYTHON=/path/to/python3.11"
command -v node >/dev/null 2>&1 || die "'node' was not found; install Node.js 18 or newer (https://nodejs.org)"
command -v npm >/dev/null 2>&1 || die "'npm' was not found; it ships with Node.js (https://nodejs.org)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' \
  || die "Node.js 18 or newer is required; found $(node --version)"

# Python: a venv inside the project. The stamp is written only after a complete install, so an
# interrupted or failed install is simply redone by the next run.
py_stamp=.venv/.backstop-installed
py_want=$(digest constraints.txt pyproject.toml)
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv || { rm -rf .venv; die "could not create a virtual environment; on Debian install python3-venv"; }
fi
if [ "$(cat "$py_stamp" 2>/dev/null)" != "$py_want" ]; then
  rm -f "$py_stamp"
  say "installing Python packages (pinned in constraints.txt)"
  if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e . \
      > .venv/pip.log 2>&1; then
    grep -v "is ignored: it is neither" .venv/pip.log | tail -15 >&2
    die "pip could not install the Python packages (a registry hiccup?); run the same command again, it resumes"
  fi
  echo "$py_want" > "$py_stamp"
fi
# slither-analyzer brings solc-select, whose `solc` in .venv/bin downloads compilers at run time: point that
# name at the offline solc-js stand-in instead (forge and any tool that calls `solc` then work offline).
ln -sfn ../../tools/solc/solc .venv/bin/solc

# Node: exactly what package-lock.json pins.
node_stamp=node_modules/.backstop-installed
node_want=$(digest package-lock.json)
if [ "$(cat "$node_stamp" 2>/dev/null)" != "$node_want" ]; then
  say "installing Node packages (pinned in package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null \
    || { rm -rf node_modules; die "npm could not install the Node packages (a registry hiccup?); run the same command again"; }
  echo "$node_want" > "$node_stamp"
fi
for tool in anvil cast forge solcjs; do
  [ -x "node_modules/.bin/$tool" ] || die "node_modules/.bin/$tool is missing; delete node_modules and run 'make setup' again"
done

# solc: py-solc-x looks for `solc-v<version>` in $SOLCX_BINARY_PATH; give it the solc-js stand-in.
solc_version=$(node -p 'require("solc/package.json").version')
grep -q "version: $solc_version\$" ape-config.yaml \
  || die "ape-config.yaml's solidity version differs from the installed solc-js $solc_version"
mkdir -p .solc
ln -sfn ../tools/solc/solc ".solc/solc-v$solc_version"
say "ready (solc-js $solc_version, $(node_modules/.bin/anvil --version | head -1))"
