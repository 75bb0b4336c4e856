"""``cmsync sandbox`` as an operator runs it: it prints the emulator's URL and credentials, serves, and stops
cleanly on SIGTERM."""

import signal
import subprocess
import sys
from pathlib import Path

import requests

REPOSITORY = Path(__file__).resolve().parents[2]


def test_cmsync_sandbox_serves_https_until_sigterm(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    command = [
        sys.executable,
        "-m",
        "cmsync",
        "sandbox",
        "--size",
        "small",
        "--seed",
        "3",
        "--port",
        "0",
        "--sf-port",
        "0",
        "--tls",
        str(ca_file),
    ]
    process = subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    printed: list[str] = []
    try:
        for line in process.stdout:
            printed.append(line)
            if line.startswith("Serving"):
                break
        details = dict(line.split(None, 1) for line in printed if line.startswith("  "))
        base_url, api_key = details["base_url"].strip(), details["api_key"].strip()
        assert base_url.startswith("https://127.0.0.1:") and base_url.endswith("/api/v3.3")
        assert details["client"].strip() == "5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b"
        assert any(str(ca_file) in line for line in printed)
        clients = requests.get(f"{base_url}/clients.json", auth=(api_key, "x"), verify=str(ca_file), timeout=10)
        assert clients.json()[0]["Name"] == "Harbour Outfitters"
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Sandbox stopped." in rest
