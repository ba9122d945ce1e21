"""Configuration file: defaults, a valid file, and errors that name the file and key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from scm_fwupdate.config import (
    DEFAULT_CONFIG_PATH,
    TOP_KEYS,
    Config,
    default_config_yaml,
    load_config,
)
from scm_fwupdate.errors import ConfigError


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "scm-fwupdate.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def config_error(path: Path, *fragments: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_defaults_when_file_missing(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "absent.yaml")
    assert cfg == Config()
    assert cfg.source is None
    assert cfg.device == "qcom_scm_storage"
    assert cfg.compatible == "radxa,dragon-q6a"
    assert cfg.keyring == Path("/etc/scm-fwupdate/keyring")
    assert cfg.journal == Path("/var/lib/scm-fwupdate/journal")
    assert cfg.history == Path("/var/lib/scm-fwupdate/history.jsonl")
    assert cfg.inbox == Path("/var/lib/scm-fwupdate/inbox")
    assert cfg.lock == Path("/run/scm-fwupdate.lock")
    assert cfg.max_resume_attempts == 3
    assert cfg.boot.backend == "qualcomm-gpt"
    assert cfg.boot.script is None
    assert (cfg.boot.uboot.printenv, cfg.boot.uboot.setenv) == ("fw_printenv", "fw_setenv")
    assert cfg.boot.uboot.config is None and cfg.boot.uboot.boot_left == 3
    assert dict(cfg.slots.overrides) == {}
    assert cfg.mark_good.target == "multi-user.target"
    assert Path("/etc/scm-fwupdate.yaml") == DEFAULT_CONFIG_PATH


def test_missing_file_is_an_error_when_named_explicitly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "absent.yaml", missing_ok=False)
    assert str(exc.value) == f"{tmp_path / 'absent.yaml'}: configuration file not found"


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing set\n")
    assert dataclasses.replace(load_config(path), source=None) == Config()


def test_default_file_renders_the_defaults(tmp_path: Path) -> None:
    text = default_config_yaml()
    cfg = load_config(write(tmp_path, text))
    assert dataclasses.replace(cfg, source=None) == Config()
    document = yaml.safe_load(text)
    assert set(document) == set(TOP_KEYS)
    assert text.count("\n#") >= 10  # it is documented


def test_valid_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
device: /dev/mtd3
compatible: "qcom,qcs6490-rb3gen2"
keyring: /etc/keys
state_dir: /data/fw
history: /var/log/fw-history.jsonl
max_resume_attempts: 5
board: {boot_rule: ab-attributes}
boot:
  backend: uboot-env
  uboot: {printenv: /usr/bin/fw_printenv, config: /etc/fw_env.config, boot_left: 7}
slots:
  overrides: {VarStore: ignore, foo: ab, DPP: single, TZ: primary-backup}
mark_good:
  target: graphical.target
""",
    )
    cfg = load_config(path)
    assert cfg.source == path
    assert cfg.device == "/dev/mtd3"
    assert cfg.compatible == "qcom,qcs6490-rb3gen2"
    assert cfg.keyring == Path("/etc/keys")
    assert cfg.state_dir == Path("/data/fw")
    assert cfg.journal == Path("/data/fw/journal")  # follows state_dir
    assert cfg.inbox == Path("/data/fw/inbox")
    assert cfg.history == Path("/var/log/fw-history.jsonl")
    assert cfg.max_resume_attempts == 5
    assert cfg.boot.backend == "uboot-env"
    assert cfg.boot.uboot.printenv == "/usr/bin/fw_printenv"
    assert cfg.boot.uboot.setenv == "fw_setenv"
    assert cfg.boot.uboot.config == Path("/etc/fw_env.config")
    assert cfg.boot.uboot.boot_left == 7
    assert dict(cfg.slots.overrides) == {
        "VarStore": "ignore",
        "foo": "ab",
        "DPP": "single",
        "TZ": "primary-backup",
    }
    with pytest.raises(TypeError):
        cfg.slots.overrides["x"] = "ab"  # type: ignore[index]
    assert cfg.mark_good.target == "graphical.target"


def test_script_backend(tmp_path: Path) -> None:
    ab = "board: {boot_rule: ab-attributes}\n"
    cfg = load_config(
        write(tmp_path, ab + "boot: {backend: script, script: /usr/lib/fw/boot.sh}\n")
    )
    assert cfg.boot.backend == "script"
    assert cfg.boot.script == Path("/usr/lib/fw/boot.sh")
    config_error(write(tmp_path, ab + "boot: {backend: script}\n"), "key 'boot.script'", "required")
    config_error(
        write(tmp_path, "boot: {backend: script, script: /x}\n"),
        "key 'boot.backend'",
        "ab-attributes",
    )


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("journal: 5\n", ["key 'journal'", "expected a string"]),
        ("journal: relative/path\n", ["key 'journal'", "absolute path"]),
        ("device: ''\n", ["key 'device'", "empty"]),
        ("compatible: [a, b]\n", ["key 'compatible'", "expected a string, got a list"]),
        ("max_resume_attempts: 0\n", ["key 'max_resume_attempts'", "between 1"]),
        ("max_resume_attempts: '3'\n", ["key 'max_resume_attempts'", "expected an integer"]),
        ("max_resume_attempts: true\n", ["key 'max_resume_attempts'", "got a boolean"]),
        ("boot: fast\n", ["key 'boot'", "expected a mapping"]),
        ("boot: {backend: grub}\n", ["key 'boot.backend'", "qualcomm-gpt, uboot-env, script"]),
        ("boot: {uboot: {boot_left: 0}}\n", ["key 'boot.uboot.boot_left'", "between 1"]),
        ("boot: {uboot: {config: fw_env.config}}\n", ["key 'boot.uboot.config'", "absolute"]),
        ("slots: {overrides: [a]}\n", ["key 'slots.overrides'", "mapping"]),
        ("slots: {overrides: {VarStore: maybe}}\n", ["key 'slots.overrides.VarStore'", "ab"]),
        ("slots: {overrides: {'a b': ab}}\n", ["key 'slots.overrides.a b'", "partition name"]),
        ("mark_good: {target: 3}\n", ["key 'mark_good.target'", "expected a string"]),
        ('lock: "/run/x\\nfoo"\n', ["key 'lock'", "control characters"]),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, text: str, fragments: list[str]) -> None:
    config_error(write(tmp_path, text), *fragments)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("devise: /dev/mtd0\n", "devise"),
        ("boot: {backend: script, scrpit: /x}\n", "boot.scrpit"),
        ("boot: {uboot: {boot_count: 3}}\n", "boot.uboot.boot_count"),
        ("slots: {groups: {}}\n", "slots.groups"),
        ("mark_good: {timeout: 5}\n", "mark_good.timeout"),
        ("1: x\n", "1"),
    ],
)
def test_unknown_keys_rejected(tmp_path: Path, text: str, key: str) -> None:
    config_error(write(tmp_path, text), f"key '{key}'", "unknown key")


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "device: /dev/mtd0\nboot:\n  backend: [uboot-env\nlock: /run/x\n")
    message = config_error(path, "line ")
    line = int(message.split("line ")[1].split(":")[0])
    assert line in (3, 4), message
    config_error(write(tmp_path, "a: 1\nb: 2\n  c: 3\n"), "line 3")
    config_error(write(tmp_path, "device: x\ndevice: y\n"), "line 2", "duplicate key 'device'")
    config_error(write(tmp_path, b"device: x\n\xff\n"), "line 2", "UTF-8")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    config_error(write(tmp_path, "- device\n"), "expected a mapping at the top level")


def test_unreadable_path(tmp_path: Path) -> None:
    config_error(tmp_path, "cannot read")  # a directory
