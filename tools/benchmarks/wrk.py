"""wrk, the public HTTP load tool, driven from Python: a Lua script reports its figures as one JSON line."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "BENCH-JSON "
# Printed by wrk's done() hook; latency in microseconds, duration in microseconds.
REPORT_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""
# A multi-turn conversation per session: a new session (no session_id) for turn 1, then the session id taken
# from the answer for the next turns, until each session has had len(messages) turns.
CHAT_LUA = r"""
local messages = {%(messages)s}
local turns = #messages
local ready = {}
local done_turns = {}
request = function()
  local entry = table.remove(ready)
  local body
  if entry then
    body = '{"message":' .. messages[entry.turn] .. ',"session_id":"' .. entry.sid .. '"}'
  else
    body = '{"message":' .. messages[1] .. '}'
  end
  return wrk.format("POST", "%(path)s", {["Content-Type"] = "application/json"}, body)
end
response = function(status, headers, body)
  if status ~= 200 then return end
  local sid = body:match('"session_id"%%s*:%%s*"([^"]+)"')
  if not sid then return end
  local n = (done_turns[sid] or 0) + 1
  if n < turns then
    done_turns[sid] = n
    table.insert(ready, {sid = sid, turn = n + 1})
  else
    done_turns[sid] = nil
  end
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    non_2xx: int
    socket_errors: int
    latency_ms: dict[str, float]
    raw: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "duration_s": self.duration_s,
            "rps": self.rps,
            "non_2xx": self.non_2xx,
            "socket_errors": self.socket_errors,
            "latency_ms": self.latency_ms,
        }


def available() -> bool:
    return shutil.which("wrk") is not None


def version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    return (out.stdout + out.stderr).split("Copyright")[0].strip()


def chat_script(directory: Path, path: str, messages: list[str]) -> Path:
    """A Lua file holding the conversation (the messages as JSON string literals) plus the report hook."""
    literals = ",".join("[[" + json.dumps(m) + "]]" for m in messages)
    script = directory / "chat.lua"
    script.write_text(CHAT_LUA % {"messages": literals, "path": path} + REPORT_LUA)
    return script


def report_script(directory: Path) -> Path:
    script = directory / "report.lua"
    script.write_text(REPORT_LUA)
    return script


def run(
    url: str, *, connections: int, duration: float, script: Path, threads: int = 1, timeout: float = 10.0
) -> WrkResult:
    """One wrk run (``threads`` threads, ``connections`` keep-alive connections) for ``duration`` seconds."""
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout:g}s",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + timeout + 30)
    return parse(out.stdout, out.stderr)


def parse(stdout: str, stderr: str = "") -> WrkResult:
    """The figures from wrk's output (the BENCH-JSON line written by the report hook)."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            break
    else:
        raise RuntimeError(f"wrk printed no report:\n{stdout}\n{stderr}")
    duration = raw["duration_us"] / 1e6
    errors = raw["errors"]
    latency = {k: round(v / 1000, 2) for k, v in raw["latency_us"].items()}
    return WrkResult(
        requests=raw["requests"],
        duration_s=round(duration, 3),
        rps=round(raw["requests"] / duration, 1),
        non_2xx=errors["status"],
        socket_errors=sum(errors[k] for k in ("connect", "read", "write", "timeout")),
        latency_ms=latency,
        raw=raw,
    )
