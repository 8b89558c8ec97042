#!/usr/bin/env bash
# Runs a program against a swarm of one expert server:
#
#   run_with_server.sh COLONY CONFIG PROGRAM [ARGS...]
#
# starts `COLONY run CONFIG` (COLONY: the colony executable), waits at most
# 60 s until it accepts connections, runs `PROGRAM ARGS... ADDRESS` for at
# most 60 s, stops the server and exits with PROGRAM's status. The server's
# log is shown when something fails. The join_swarm test runs this way.
set -u
if [ $# -lt 3 ]; then
  echo "usage: run_with_server.sh COLONY CONFIG PROGRAM [ARGS...]" >&2
  exit 2
fi
colony=$1
config=$2
shift 2
dir=$(mktemp -d)
server=
program=

stop() { # PID: SIGTERM, then SIGKILL if it is still there after 5 s
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}
cleanup() {
  [ -n "$program" ] && stop "$program"
  [ -n "$server" ] && stop "$server"
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

"$colony" run "$config" --address-file "$dir/address" >"$dir/server.log" 2>&1 &
server=$!
deadline=$((SECONDS + 60))
until [ -s "$dir/address" ]; do
  if ! kill -0 "$server" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "run_with_server: the server did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
  sleep 0.1
done

# In the background, so that a TERM to this script is handled at once.
timeout -k 5 60 "$@" "$(cat "$dir/address")" &
program=$!
wait "$program"
status=$?
program=
if [ $status -ne 0 ]; then
  echo "run_with_server: $1 exited with status $status; server log:" >&2
  cat "$dir/server.log" >&2
fi
exit $status
