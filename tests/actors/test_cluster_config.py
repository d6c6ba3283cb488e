"""cluster.yaml: valid for Ray's cluster launcher, and it starts what Orchestra needs.

Offline: the config is checked against the autoscaler JSON schema shipped
with the installed Ray (directly and through Ray's own `validate_config`),
the shell commands are syntax-checked with `bash -n`, the `orchestra serve`
flags are parsed by the real CLI parser, and the gateway replicas' Settings
snippet is executed.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray.autoscaler
import yaml

from actors.cluster import SINGLE_MACHINE_ENV
from gateway.cli import parser
from runtime.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_YAML = ROOT / "cluster.yaml"
SCHEMA = Path(ray.autoscaler.__file__).parent / "ray-schema.json"
COMMAND_KEYS = (
    "initialization_commands",
    "setup_commands",
    "head_setup_commands",
    "worker_setup_commands",
    "head_start_ray_commands",
    "worker_start_ray_commands",
)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    data = yaml.safe_load(CLUSTER_YAML.read_text())
    assert isinstance(data, dict)
    return data


def _all_commands(config: dict[str, Any]) -> list[str]:
    cmds = [c for key in COMMAND_KEYS for c in config.get(key, [])]
    for node_type in config["available_node_types"].values():
        for key in ("initialization_commands", "worker_setup_commands"):
            cmds.extend(node_type.get(key, []))
    return cmds


def _heredoc(command: str) -> str:
    match = re.search(r'<<"EOF"\n(.*?)\nEOF\n', command, re.S)
    assert match, "expected a python heredoc"
    return match.group(1)


def test_valid_against_rays_json_schema(config: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(config, schema)


def test_valid_for_rays_own_validation(config: dict[str, Any]) -> None:
    util = pytest.importorskip("ray.autoscaler._private.util")
    util.validate_config(copy.deepcopy(config))
    # What `ray up` does before launching: merge the provider defaults, then validate.
    prepared = util.prepare_config(copy.deepcopy(config))
    util.validate_config(prepared)
    assert prepared["provider"]["type"] == "aws"


def test_head_and_worker_node_types(config: dict[str, Any]) -> None:
    types = config["available_node_types"]
    head = config["head_node_type"]
    assert head in types
    workers = {name: t for name, t in types.items() if name != head}
    assert "session_host" in workers
    assert all(t["min_workers"] >= 1 for t in workers.values())
    assert all(t["max_workers"] >= t["min_workers"] for t in workers.values())
    assert sum(t["min_workers"] for t in workers.values()) <= config["max_workers"]
    assert config["idle_timeout_minutes"] > 0
    for t in types.values():  # every cloud-specific launch field is set
        assert t["node_config"]["InstanceType"]
        assert t["node_config"]["ImageId"]


def test_ray_start_commands(config: dict[str, Any]) -> None:
    head, workers = config["head_start_ray_commands"], config["worker_start_ray_commands"]
    assert "ray stop" in head and "ray stop" in workers
    head_start = [c for c in head if "ray start --head" in c]
    worker_start = [c for c in workers if "ray start --address=$RAY_HEAD_IP:6379" in c]
    assert len(head_start) == 1 and len(worker_start) == 1
    assert head.index("ray stop") < head.index(head_start[0])
    assert workers.index("ray stop") < workers.index(worker_start[0])
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in head_start[0]


def test_ray_auth_token_is_handled_explicitly(config: dict[str, Any]) -> None:
    commands = _all_commands(config)
    assert not any("RAY_AUTH_MODE=disabled" in c for c in commands)
    starts = [c for c in commands if "ray start" in c]
    assert starts and all("RAY_AUTH_MODE=token" in c for c in starts)
    # The token travels as a file mount and lands in Ray's default location.
    mount = "/home/ubuntu/orchestra-deploy"
    assert mount in config["file_mounts"]
    assert f"/home/{config['auth']['ssh_user']}/" in mount + "/"
    assert any(f"{mount}/ray_auth_token ~/.ray/auth_token" in c for c in config["setup_commands"])
    # Drivers with an explicit RAY_ADDRESS need RAY_AUTH_MODE=token too.
    replicas = [c for c in commands if "gateway.serve:app_from_env" in c]
    assert replicas and all("RAY_AUTH_MODE=token" in c for c in replicas)


def test_the_cluster_spans_machines_not_loopback(config: dict[str, Any]) -> None:
    # A local `orchestra serve` keeps Ray on 127.0.0.1 (single-machine mode); on
    # the cluster every node binds its own address, and the gateway joins with
    # --ray-address auto (checked above), which leaves that mode off.
    commands = _all_commands(config)
    assert not any(SINGLE_MACHINE_ENV in c for c in commands)
    assert not any("--node-ip-address=127.0.0.1" in c for c in commands)


def test_setup_installs_orchestra(config: dict[str, Any]) -> None:
    installs = [c for c in config["setup_commands"] if "pip install" in c and "orchestra" in c]
    assert installs, "no setup command installs Orchestra"
    assert "boto3" in " ".join(config["head_setup_commands"])  # the AWS autoscaler needs it


def test_gateway_starts_orchestra_serve_on_the_cluster(config: dict[str, Any]) -> None:
    gateway = [c for c in config["head_start_ray_commands"] if "orchestra serve" in c]
    assert len(gateway) == 1
    line = re.search(r"orchestra serve [^;\n]*", gateway[0])
    assert line
    argv = shlex.split(line.group(0))[1:]
    # Shell expansions get stand-ins; the real CLI parser must accept every flag.
    stand_in = {"--redis-url": "redis://redis.internal:6379/0", "--hosts": "4"}
    for i, arg in enumerate(argv):
        if "$" in arg:
            argv[i] = stand_in.get(argv[i - 1], re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", arg))
    args = parser().parse_args(argv)
    assert args.command == "serve"
    assert args.ray_address == "auto"
    assert args.redis_url and args.host == "0.0.0.0"
    assert args.workers >= 2
    assert args.config == "/home/ubuntu/orchestra-deploy/orchestra.yaml"
    assert 'if [ -z "$REDIS_URL" ]' in gateway[0]  # never the embedded store on a cluster


def test_worker_gateway_replicas_share_the_heads_settings(
    config: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replica = [c for c in config["worker_start_ray_commands"] if "app_from_env" in c]
    assert len(replica) == 1
    assert "uvicorn gateway.serve:app_from_env --factory --host 0.0.0.0" in replica[0]
    assert 'RAY_ADDRESS="$RAY_HEAD_IP:6379"' in replica[0]
    conf = tmp_path / "orchestra.yaml"
    conf.write_text("agents:\n  chatbot:\n    max_history_messages: 12\n")
    snippet = _heredoc(replica[0]).replace(
        "/home/ubuntu/orchestra-deploy/orchestra.yaml", str(conf)
    )
    monkeypatch.setenv("REDIS_URL", "redis://redis.internal:6379/0")
    monkeypatch.setenv("ORCHESTRA_HOSTS", "6")
    monkeypatch.delenv("ORCHESTRA_MODEL", raising=False)
    monkeypatch.delenv("ORCHESTRA_PLACEMENT", raising=False)
    exec(compile(snippet, "cluster.yaml:replica-settings", "exec"), {})
    settings = Settings.model_validate_json(capsys.readouterr().out)
    assert settings.redis_url == "redis://redis.internal:6379/0"
    assert settings.hosts == 6
    assert settings.config_data == {"agents": {"chatbot": {"max_history_messages": 12}}}


def test_head_waits_for_workers_with_a_deadline(config: dict[str, Any]) -> None:
    gateway = next(c for c in config["head_start_ray_commands"] if "orchestra serve" in c)
    snippet = _heredoc(gateway)
    compile(snippet, "cluster.yaml:wait-for-nodes", "exec")
    assert "ray.nodes()" in snippet and "deadline" in snippet
    min_workers = config["available_node_types"]["session_host"]["min_workers"]
    assert f"ORCHESTRA_WAIT_NODES:-{1 + min_workers}}}" in gateway


def test_every_command_is_valid_bash(config: dict[str, Any]) -> None:
    for command in _all_commands(config):
        for script in [command, *re.findall(r"bash -c '(.*?)'", command, re.S)]:
            result = subprocess.run(
                ["bash", "-n", "-c", script], capture_output=True, text=True, check=False
            )
            assert result.returncode == 0, f"{script!r}: {result.stderr}"
