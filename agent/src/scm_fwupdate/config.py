"""The agent's configuration file, ``/etc/scm-fwupdate.yaml``.

Every key is optional; a missing file means all defaults (see
``default_config_yaml()`` for the documented file). Unknown keys are rejected,
and every error names the file and the key (dotted, e.g. ``boot.uboot.boot_left``)
or, for broken YAML, the line. Paths must be absolute: the agent runs from
systemd units and from a shell alike, and a relative path would depend on the
working directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import ConfigError
from .profile import DEFAULT_PROFILE, PROFILES, BootRule, Profile
from .yamlstrict import YamlSyntaxError, key_name, yaml_load_strict

DEFAULT_CONFIG_PATH = Path("/etc/scm-fwupdate.yaml")
MAX_CONFIG_SIZE = 1024 * 1024


class Backend(StrEnum):
    """Who selects the A/B slot (rule ab-attributes)."""

    QUALCOMM_GPT = "qualcomm-gpt"
    UBOOT_ENV = "uboot-env"
    SCRIPT = "script"


BOOT_BACKENDS = tuple(b.value for b in Backend)
SLOT_KINDS = ("ab", "primary-backup", "single", "ignore")
BOOT_RULES = tuple(r.value for r in BootRule)


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class UBootConfig:
    printenv: str = "fw_printenv"
    setenv: str = "fw_setenv"
    config: Path | None = None  # fw_env.config; None: the tools' default (/etc/fw_env.config)
    boot_left: int = 3


@dataclass(frozen=True)
class BootConfig:
    backend: Backend = Backend.QUALCOMM_GPT
    script: Path | None = None
    uboot: UBootConfig = field(default_factory=UBootConfig)


@dataclass(frozen=True)
class SlotsConfig:
    overrides: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class BoardConfig:
    profile: str = DEFAULT_PROFILE
    boot_rule: str | None = None  # None: the profile's
    # Where the boot chain's report is read (the emulated board's /chosen stand-in).
    chosen: Path = Path("/sys/firmware/devicetree/base/chosen")
    # UEFI variables and the ESPs a capsule may be staged on (capsule.py).
    efivars: Path = Path("/sys/firmware/efi/efivars")
    esp: tuple[Path, ...] = (Path("/boot/efi"), Path("/efi"), Path("/boot"))

    @property
    def rule(self) -> BootRule:
        return BootRule(self.boot_rule) if self.boot_rule else PROFILES[self.profile].rule

    @property
    def boot_profile(self) -> Profile:
        return PROFILES[self.profile]


@dataclass(frozen=True)
class MarkGoodConfig:
    target: str = "multi-user.target"


@dataclass(frozen=True)
class Config:
    device: str = "qcom_scm_storage"
    compatible: str = "radxa,dragon-q6a"
    keyring: Path = Path("/etc/scm-fwupdate/keyring")
    state_dir: Path = Path("/var/lib/scm-fwupdate")
    journal: Path = Path("/var/lib/scm-fwupdate/journal")
    history: Path = Path("/var/lib/scm-fwupdate/history.jsonl")
    lock: Path = Path("/run/scm-fwupdate.lock")
    max_resume_attempts: int = 3
    min_version: str | None = None  # no bundle below this version, whatever the history
    board: BoardConfig = field(default_factory=BoardConfig)
    boot: BootConfig = field(default_factory=BootConfig)
    slots: SlotsConfig = field(default_factory=SlotsConfig)
    mark_good: MarkGoodConfig = field(default_factory=MarkGoodConfig)
    inbox: Path = Path("/var/lib/scm-fwupdate/inbox")
    source: Path | None = None  # the file the values came from; None: built-in defaults


# --------------------------------------------------------------------------- validation


class _Checker:
    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: key '{key}': {message}")

    def mapping(self, value: object, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {_type_name(value)}")
        for k in value:
            if k not in allowed:
                full = f"{key}.{key_name(k)}" if key else key_name(k)
                raise ConfigError(
                    f"{self.source}: key '{full}': unknown key (allowed: {', '.join(allowed)})"
                )
        return value

    def string(self, value: object, key: str, default: str) -> str:
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_type_name(value)}")
        if not value.strip():
            raise self.fail(key, "must not be empty")
        if not value.isprintable():
            raise self.fail(key, "must not contain control characters")
        return value

    def path(self, value: object, key: str, default: Path | None) -> Path | None:
        if value is None:
            return default
        text = self.string(value, key, "")
        if not text.startswith("/"):
            raise self.fail(key, f"expected an absolute path, got {text!r}")
        return Path(text)

    def optional_string(self, value: object, key: str) -> str | None:
        """A string or null; YAML reads an unquoted 2 or 2.1 as a number: take its text."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        return None if value is None else self.string(value, key, "")

    def paths(self, value: object, key: str, default: tuple[Path, ...]) -> tuple[Path, ...]:
        if value is None:
            return default
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of absolute paths, got {_type_name(value)}")
        return tuple(self.path(v, f"{key}[{i}]", None) for i, v in enumerate(value))  # type: ignore[misc]

    def integer(self, value: object, key: str, default: int, minimum: int, maximum: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {_type_name(value)}")
        if not minimum <= value <= maximum:
            raise self.fail(key, f"must be between {minimum} and {maximum}, got {value}")
        return value

    def choice(self, value: object, key: str, default: str, choices: tuple[str, ...]) -> str:
        text = self.string(value, key, default)
        if text not in choices:
            raise self.fail(key, f"expected one of {', '.join(choices)}, got {text!r}")
        return text


def _type_name(value: object) -> str:
    return {
        type(None): "null",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


TOP_KEYS = (
    "device",
    "compatible",
    "keyring",
    "state_dir",
    "journal",
    "history",
    "lock",
    "max_resume_attempts",
    "min_version",
    "board",
    "boot",
    "slots",
    "mark_good",
    "inbox",
)
BOOT_KEYS = ("backend", "script", "uboot")
UBOOT_KEYS = ("printenv", "setenv", "config", "boot_left")
BOARD_KEYS = ("profile", "boot_rule", "chosen", "efivars", "esp")
SLOTS_KEYS = ("overrides",)
MARK_GOOD_KEYS = ("target",)
# Every key name of the schema (tests and fuzzers draw from it).
ALL_KEYS = TOP_KEYS + BOOT_KEYS + UBOOT_KEYS + BOARD_KEYS + SLOTS_KEYS + MARK_GOOD_KEYS
_PARTITION_NAME = re.compile(r"[A-Za-z0-9_.+-]{1,36}")


def config_from_dict(data: object, source: Path) -> Config:
    """Validate a parsed YAML document; source is only used in messages."""
    c = _Checker(source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {_type_name(data)}")
    top = c.mapping(data, "", TOP_KEYS)
    d = Config()

    state_dir = c.path(top.get("state_dir"), "state_dir", d.state_dir)
    assert state_dir is not None

    boot_raw = c.mapping(top.get("boot"), "boot", BOOT_KEYS)
    uboot_raw = c.mapping(boot_raw.get("uboot"), "boot.uboot", UBOOT_KEYS)
    du = UBootConfig()
    uboot = UBootConfig(
        printenv=c.string(uboot_raw.get("printenv"), "boot.uboot.printenv", du.printenv),
        setenv=c.string(uboot_raw.get("setenv"), "boot.uboot.setenv", du.setenv),
        config=c.path(uboot_raw.get("config"), "boot.uboot.config", None),
        boot_left=c.integer(uboot_raw.get("boot_left"), "boot.uboot.boot_left", 3, 1, 255),
    )
    backend = Backend(
        c.choice(boot_raw.get("backend"), "boot.backend", Backend.QUALCOMM_GPT, BOOT_BACKENDS)
    )
    script = c.path(boot_raw.get("script"), "boot.script", None)
    if backend == Backend.SCRIPT and script is None:
        raise c.fail("boot.script", "required when boot.backend is 'script'")
    boot = BootConfig(backend=backend, script=script, uboot=uboot)

    board_raw = c.mapping(top.get("board"), "board", BOARD_KEYS)
    db = BoardConfig()
    board = BoardConfig(
        profile=c.choice(board_raw.get("profile"), "board.profile", db.profile, tuple(PROFILES)),
        boot_rule=(
            None
            if board_raw.get("boot_rule") is None
            else c.choice(board_raw.get("boot_rule"), "board.boot_rule", "", BOOT_RULES)
        ),
        chosen=c.path(board_raw.get("chosen"), "board.chosen", db.chosen) or db.chosen,
        efivars=c.path(board_raw.get("efivars"), "board.efivars", db.efivars) or db.efivars,
        esp=c.paths(board_raw.get("esp"), "board.esp", db.esp),
    )
    if board.rule != BootRule.AB_ATTRIBUTES and backend != Backend.QUALCOMM_GPT:
        raise c.fail(
            "boot.backend",
            f"'{backend}' selects A/B slots, which only the ab-attributes boot rule uses "
            f"(board.boot_rule is {board.rule})",
        )

    slots_raw = c.mapping(top.get("slots"), "slots", SLOTS_KEYS)
    overrides_raw = slots_raw.get("overrides")
    overrides: dict[str, str] = {}
    if overrides_raw is not None:
        if not isinstance(overrides_raw, dict):
            raise c.fail("slots.overrides", f"expected a mapping, got {_type_name(overrides_raw)}")
        for name, kind in overrides_raw.items():
            if not isinstance(name, str) or not _PARTITION_NAME.fullmatch(name):
                raise c.fail(
                    f"slots.overrides.{key_name(name)}",
                    "expected a partition name (up to 36 of A-Z a-z 0-9 _ . + -)",
                )
            overrides[name] = c.choice(kind, f"slots.overrides.{name}", "", SLOT_KINDS)
    slots = SlotsConfig(overrides=MappingProxyType(overrides))

    mg_raw = c.mapping(top.get("mark_good"), "mark_good", MARK_GOOD_KEYS)
    mark_good = MarkGoodConfig(
        target=c.string(mg_raw.get("target"), "mark_good.target", d.mark_good.target)
    )

    def under_state(key: str, default_name: str) -> Path:
        value = c.path(top.get(key), key, state_dir / default_name)
        assert value is not None
        return value

    keyring = c.path(top.get("keyring"), "keyring", d.keyring)
    lock = c.path(top.get("lock"), "lock", d.lock)
    assert keyring is not None and lock is not None
    return Config(
        device=c.string(top.get("device"), "device", d.device),
        compatible=c.string(top.get("compatible"), "compatible", d.compatible),
        keyring=keyring,
        state_dir=state_dir,
        journal=under_state("journal", "journal"),
        history=under_state("history", "history.jsonl"),
        lock=lock,
        max_resume_attempts=c.integer(
            top.get("max_resume_attempts"), "max_resume_attempts", 3, 1, 1000
        ),
        min_version=c.optional_string(top.get("min_version"), "min_version"),
        board=board,
        boot=boot,
        slots=slots,
        mark_good=mark_good,
        inbox=under_state("inbox", "inbox"),
        source=source,
    )


def load_config(path: Path | None = None, *, missing_ok: bool = True) -> Config:
    """Load and validate the configuration.

    path None means DEFAULT_CONFIG_PATH. A missing file gives the built-in defaults
    (Config().source is None) unless missing_ok is False (use that for a path the
    user named explicitly, so a typo is not silently ignored).
    """
    path = DEFAULT_CONFIG_PATH if path is None else Path(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_SIZE + 1)
    except FileNotFoundError:
        if missing_ok:
            return Config()
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_CONFIG_SIZE:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_SIZE} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not valid UTF-8") from exc
    try:
        data = yaml_load_strict(text)
    except YamlSyntaxError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return config_from_dict(data, path)


# --------------------------------------------------------------------------- default file

_DEFAULT_FILE = """\
# /etc/scm-fwupdate.yaml: configuration of scm-fwupdate.
# Every key is optional; the values below are the built-in defaults, used as they
# are when this file is missing. Unknown keys are an error. Paths are absolute.

# The flash: an MTD name (matched against /sys/class/mtd/*/name) or a path
# (/dev/mtdN, or a file holding a flash image).
device: "qcom_scm_storage"

# This board's compatible string: a bundle is installed only if its manifest's
# 'compatible' is the same.
compatible: "radxa,dragon-q6a"

# Public keys or X.509 certificates (PEM) that may sign bundles: one file, or a
# directory of *.pem / *.pub / *.crt files. A bundle is accepted if any key verifies it.
keyring: "/etc/scm-fwupdate/keyring"

# Persistent state: the journal, the install history and staged bundles.
state_dir: "/var/lib/scm-fwupdate"

# The install journal; null means <state_dir>/journal.
journal: null

# The install history (one JSON object per line); null means <state_dir>/history.jsonl.
history: null

# Lock file that keeps a second instance out.
lock: "/run/scm-fwupdate.lock"

# How many times an interrupted install is resumed before it is given up (>= 1).
max_resume_attempts: 3

# No bundle with a lower version is installed, whatever the history says and
# even with --allow-downgrade (like RAUC's min-bundle-version); null: no floor.
min_version: null

# The board: which partitions hold boot images and how its boot chain picks
# them (docs/boot-chain.md).
board:
  # radxa-dragon-q6a: boot sets (rule 'sets'); qcom-abl: ABL's A/B attribute bits
  # (rule 'ab-attributes'); per-image: each image from its primary, else its backup.
  profile: "radxa-dragon-q6a"
  # Override the profile's rule: sets | ab-attributes | per-image; null: the profile's.
  boot_rule: null
  # Where the boot chain's report (booted set or slot, fallback) is read.
  chosen: "/sys/firmware/devicetree/base/chosen"
  # UEFI variables (OsIndications, OsTrialBootStatus) and the ESPs whose
  # EFI/UpdateCapsule is checked: while a capsule is staged nothing is written.
  efivars: "/sys/firmware/efi/efivars"
  esp: ["/boot/efi", "/efi", "/boot"]

# A/B slot selection (rule 'ab-attributes' only).
boot:
  # qualcomm-gpt: the A/B attribute bits of the _a/_b GPT entries on the flash itself;
  # uboot-env: RAUC-style BOOT_ORDER / BOOT_x_LEFT in the U-Boot environment;
  # script: a program with RAUC's custom-backend interface (see 'script').
  backend: "qualcomm-gpt"
  # For backend 'script' (required there): called as
  #   SCRIPT get-primary | get-state SLOT | set-primary SLOT | set-state SLOT good|bad
  script: null
  uboot:
    printenv: "fw_printenv"
    setenv: "fw_setenv"
    # fw_env.config to pass with -c; null means the tools' default (/etc/fw_env.config).
    config: null
    # Boot attempts a slot gets when it is activated or marked good (1-255).
    boot_left: 3

# Slot groups are found in the partition table (X_a/X_b, X/X_BACKUP, single).
slots:
  # Override the kind of a partition or group: ab | primary-backup | single | ignore.
  # Example: {"VarStore": "ignore", "foo": "ab"}
  overrides: {}

# 'mark-good' after boot runs once this systemd target is reached.
mark_good:
  target: "multi-user.target"

# Where bundles are dropped to be installed; null means <state_dir>/inbox.
inbox: null
"""


def default_config_yaml() -> str:
    """The documented default configuration file, with comments."""
    return _DEFAULT_FILE
