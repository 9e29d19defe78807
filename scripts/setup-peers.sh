#!/usr/bin/env bash
# Installs the Debian packages the interop tests use, if missing (placeholder; filled in by interop work).
set -euo pipefail
