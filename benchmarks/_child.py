"""Run one measurement in a fresh Python process (so nothing one run allocates or caches affects the next)."""

from __future__ import annotations

import json
import subprocess
import sys


def run_child(script: str, job: dict, timeout: float) -> dict:
    """`python script --child JOB_JSON`; the child prints its result as JSON on its last stdout line."""
    cmd = [sys.executable, script, "--child", json.dumps(job)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**job, "error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        return {**job, "error": f"exit code {proc.returncode}: {tail[0][:300]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])
