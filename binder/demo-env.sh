# Shared by postBuild and start: where the Binder demo keeps its throwaway data.
# shellcheck shell=bash
export AUDIOSOUP_DATA_DIR="${HOME}/.audiosoup-binder"
export AUDIOSOUP_DATABASE_URL="sqlite:///${AUDIOSOUP_DATA_DIR}/demo.sqlite3"
export NUMBA_CACHE_DIR="${HOME}/.cache/numba"
