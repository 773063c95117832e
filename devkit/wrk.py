"""``wrk`` (Debian's package, which the development set-up installs) polling one URL as status pages do, for the
latency figures in docs/RELIABILITY.md: a C load generator costs the machine far less than Python pollers.

A generated Lua script sends the bearer token, optionally ``If-None-Match`` with the ETag of the connection
thread's last answer (as a page that keeps it), optionally waits ``pause_ms`` between a connection's requests
(a paced poller; without it every connection sends again at once: the server's saturation), counts the
statuses, and prints the figures as one JSON line.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from urllib.parse import urlsplit

LUA = r"""
local path, auth, conditional, pause = %(path)s, %(auth)s, %(conditional)s, %(pause)d
local etag = nil
statuses = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  local headers = {}
  if auth ~= "" then headers["Authorization"] = auth end
  if conditional and etag then headers["If-None-Match"] = etag end
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  etag = headers["ETag"] or headers["Etag"] or headers["etag"] or etag
end

if pause > 0 then
  function delay() return pause end
end

function done(summary, latency, requests)
  local merged, counts = {}, {}
  for _, thread in ipairs(threads) do
    for key, value in pairs(thread:get("statuses")) do
      merged[key] = (merged[key] or 0) + value
    end
  end
  for key, value in pairs(merged) do
    table.insert(counts, string.format('"%%s": %%d', key, value))
  end
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, ' ..
    '"p99_us": %%d, "max_us": %%d, "socket_errors": %%d, "statuses": {%%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, table.concat(counts, ", ")))
end
"""


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is missing: `bash scripts/setup_env.sh --dev` installs it (Debian's wrk package)")
    return found


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua one for these ASCII values


def run_wrk(url: str, *, connections: int = 50, seconds: float = 10.0, threads: int = 2, token: str | None = None,
            conditional: bool = False, pause_ms: int = 0) -> dict:
    """Poll ``url`` with wrk; the figures in milliseconds, the rate, and the statuses seen (e.g. 200, 304)."""
    parts = urlsplit(url)
    script = LUA % {"path": _lua_string(parts.path + (f"?{parts.query}" if parts.query else "")),
                    "auth": _lua_string(f"Bearer {token}" if token else ""),
                    "conditional": "true" if conditional else "false", "pause": int(pause_ms)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        argv = [wrk_path(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s",
                "-s", lua.name, f"{parts.scheme}://{parts.netloc}"]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((row for row in run.stdout.splitlines() if row.startswith("WRK_JSON ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    raw = json.loads(line.split(" ", 1)[1])
    seconds_run = raw["duration_us"] / 1e6
    return {"connections": connections, "pause_ms": pause_ms, "conditional": conditional,
            "seconds": round(seconds_run, 2), "requests": raw["requests"],
            "rate_per_s": round(raw["requests"] / seconds_run, 1) if seconds_run else None,
            "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
            "max_ms": raw["max_us"] / 1000, "socket_errors": raw["socket_errors"],
            "statuses": {int(k): v for k, v in raw["statuses"].items()}}


def format_wrk(result: dict) -> str:
    mode = f"every {result['pause_ms']} ms" if result["pause_ms"] else "back to back"
    return (f"{result['connections']} connections {mode}, If-None-Match {'on' if result['conditional'] else 'off'}: "
            f"{result['requests']} requests ({result['rate_per_s']}/s), p50 {result['p50_ms']:.1f} ms, "
            f"p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms, statuses {result['statuses']}, "
            f"socket errors {result['socket_errors']}")
