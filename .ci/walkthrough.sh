#!/usr/bin/env bash
# Runs the README's walk-through as written, then the examples of docs/api.md
# that continue it, in an empty directory with a fresh data dir, and compares
# every answer with the one the documents show.
#
#   usage: .ci/walkthrough.sh [path/to/aerie]      (default target/debug/aerie)
#
# What runs: the ```sh and ```bash blocks between the section's heading and
# the next "## " heading, in order, in one `bash -euo pipefail`, so a failing
# command fails CI. Blocks fenced ```sh no-run are skipped (the build step).
# A code line ending in `&` starts the server: its pid is recorded, and the
# server is stopped with SIGTERM at the end (it must exit 0) or killed by pid
# on failure.
#
# What is compared: a run of comment lines starting with "#   " right after
# some commands is the output those commands must print (stdout and stderr).
# Whitespace is ignored and "..." stands for anything.
#
# Needs curl, python3 and grpcurl (found on PATH or in $(go env GOPATH)/bin),
# and ports 8080 and 50051 free: the walk-through uses the default ports.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

bin=${1:-target/debug/aerie}
[ -x "$bin" ] || { echo "walkthrough: no aerie binary at $bin" >&2; exit 1; }
bin=$(realpath "$bin")

if ! command -v grpcurl >/dev/null && command -v go >/dev/null; then
  PATH="$(go env GOPATH)/bin:$PATH"
fi
for tool in curl python3 grpcurl; do
  command -v "$tool" >/dev/null || { echo "walkthrough: $tool not found on PATH" >&2; exit 1; }
done
for port in 8080 50051; do
  if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "walkthrough: port $port is in use; the walk-through needs it" >&2
    exit 1
  fi
done

work=$(mktemp -d)
gen="$work/.walkthrough"
mkdir -p "$work/bin" "$gen"
# Only the servers the walk-through started, by pid.
cleanup() {
  local pid
  for pid in $(cat "$gen/pids" 2>/dev/null); do
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# The walk-through calls the binary `aerie`.
ln -s "$bin" "$work/bin/aerie"
export PATH="$work/bin:$PATH"

python3 - "$gen" README.md "## Walk-through" docs/api.md "## Examples" <<'PY'
import pathlib, re, shlex, sys

gen = pathlib.Path(sys.argv[1])
pairs = list(zip(sys.argv[2::2], sys.argv[3::2]))

def blocks(path, heading):
    """The shell blocks of one section, in order, without the no-run ones."""
    lines = pathlib.Path(path).read_text().splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        sys.exit(f"walkthrough: no '{heading}' heading in {path}")
    found, fence, body = [], None, []
    for line in lines[start + 1:]:
        if fence is None:
            if line.startswith("## "):
                break
            if line.startswith("```"):
                fence, body = line[3:].split(), []
        elif line.startswith("```"):
            if fence and fence[0] in ("sh", "bash") and "no-run" not in fence[1:]:
                found.append(body)
            fence = None
        else:
            body.append(line)
    if not found:
        sys.exit(f"walkthrough: no shell block under '{heading}' in {path}")
    return found

def steps(block):
    """(code lines, expected output lines) pairs: code, then the "#   " lines after it."""
    out, code, expected, heredoc = [], [], [], None
    for line in block:
        if heredoc is not None:
            code.append(line)
            if line.strip() == heredoc:
                heredoc = None
            continue
        if re.match(r"#   ", line):
            expected.append(line[1:])
            continue
        if expected:
            out.append((code, expected))
            code, expected = [], []
        code.append(line)
        m = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if m:
            heredoc = m.group(1)
        if re.search(r"(^|[^&])&\s*(#.*)?$", line):
            code.append('echo $! >>"$__wt_gen/pids"')
    if code or expected:
        out.append((code, expected))
    return out

script = [f"__wt_gen={shlex.quote(str(gen))}"]
n = 0
for path, heading in pairs:
    script.append(f"echo {shlex.quote('==== ' + path + ': ' + heading)}")
    for block in blocks(path, heading):
        for code, expected in steps(block):
            n += 1
            shown = [c for c in code if not c.startswith("echo $! >>")]
            (gen / f"code.{n}").write_text("\n".join(shown) + "\n")
            script.append(f'echo {n} >"$__wt_gen/step"')
            script.append(f'sed "s/^/\\$ /" "$__wt_gen/code.{n}"')
            script.append("{")
            script.extend(code)
            script.append(f'}} >"$__wt_gen/out.{n}" 2>&1')
            script.append(f"awk '{{print \"  \" $0}}' \"$__wt_gen/out.{n}\"")
            if expected:
                (gen / f"expected.{n}").write_text("\n".join(expected) + "\n")
                script.append(f'python3 "$__wt_gen/check.py" {n}')
script.append('echo 0 >"$__wt_gen/step"')
# Reaped servers leave the pid file, so that the cleanup never signals a
# pid that another process may have been given since.
script.append('for __wt_pid in $(cat "$__wt_gen/pids" 2>/dev/null); do')
script.append('  kill -TERM "$__wt_pid"; __wt_status=0; wait "$__wt_pid" || __wt_status=$?')
script.append('  grep -vx "$__wt_pid" "$__wt_gen/pids" >"$__wt_gen/pids.left" || true; mv "$__wt_gen/pids.left" "$__wt_gen/pids"')
script.append('  [ "$__wt_status" = 0 ] || { echo "server $__wt_pid exited $__wt_status on SIGTERM" >&2; exit 1; }')
script.append('  echo "server $__wt_pid stopped on SIGTERM, exit 0"')
script.append('done')
(gen / "walk.sh").write_text("\n".join(script) + "\n")
print(f"walkthrough: {n} steps from " + ", ".join(f"{p} {h!r}" for p, h in pairs))

(gen / "check.py").write_text(r'''
import pathlib, re, sys
gen = pathlib.Path(__file__).parent
n = sys.argv[1]
expected = (gen / f"expected.{n}").read_text()
actual = (gen / f"out.{n}").read_text()
squash = lambda s: re.sub(r"\s+", "", s)
parts, text = squash(expected).split("..."), squash(actual)
# Glob match with "..." as the only wildcard: each literal part leftmost, in order.
ok, pos = text.startswith(parts[0]), len(parts[0])
for part in parts[1:-1]:
    if not ok:
        break
    at = text.find(part, pos)
    ok, pos = at >= 0, at + len(part)
if ok and len(parts) > 1:
    ok = text.endswith(parts[-1]) and len(text) - len(parts[-1]) >= pos
elif ok:
    ok = text == parts[0]
if not ok:
    print(f"walkthrough: step {n}: the answer is not the one the document shows", file=sys.stderr)
    print("expected (whitespace ignored, ... for anything):\n" + expected, file=sys.stderr)
    print("actual:\n" + actual, file=sys.stderr)
    sys.exit(1)
''')
PY

status=0
(cd "$work" && timeout --foreground 300 bash -euo pipefail "$gen/walk.sh") || status=$?
if [ "$status" != 0 ]; then
  step=$(cat "$gen/step" 2>/dev/null || echo "?")
  echo "walkthrough: FAILED (exit $status) at step $step" >&2
  if [ -f "$gen/code.$step" ]; then
    echo "--- its commands:" >&2; cat "$gen/code.$step" >&2
    echo "--- their output:" >&2; awk 1 "$gen/out.$step" >&2 2>/dev/null || true
  fi
  log=$(find "$work" -name aerie.log -print -quit)
  if [ -n "$log" ]; then echo "--- server log (last 40 lines):" >&2; tail -n 40 "$log" >&2; fi
  exit 1
fi
echo "walkthrough: OK"
