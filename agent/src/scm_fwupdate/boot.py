"""Boot slot selection backends behind one small interface.

A backend knows a fixed set of slots (``a`` and ``b``) and can tell which one
boots next, activate a freshly written slot (next boot, fresh retries, not yet
confirmed), and mark a slot good (after a successful boot) or bad.

Backends here:

``UBootEnvBackend`` (``boot.backend: uboot-env``)
    RAUC's U-Boot convention, through the real ``fw_printenv`` / ``fw_setenv`` of
    libubootenv (Debian package ``libubootenv-tool``). Variables:

    * ``BOOT_ORDER``: slots in boot order, space separated (``"A B"``); the U-Boot
      script boots the first one whose ``BOOT_x_LEFT`` is above 0, decrementing it.
    * ``BOOT_A_LEFT`` / ``BOOT_B_LEFT``: boot attempts left.
    * ``BOOT_A_GOOD`` / ``BOOT_B_GOOD`` (this agent's addition, ignored by the
      boot script): ``1`` once the slot was marked good, ``0`` after activate or
      mark-bad. Without it, a slot counts as good while it is in BOOT_ORDER with
      attempts left (RAUC's reading).

    As RAUC's boot script does, a missing ``BOOT_ORDER`` reads as ``"A B"`` and a
    missing ``BOOT_x_LEFT`` as ``boot_left``. activate(x) puts x first in
    BOOT_ORDER with ``BOOT_x_LEFT=boot_left``; mark_good(x) sets
    ``BOOT_x_LEFT=boot_left``; mark_bad(x) removes x from BOOT_ORDER and sets
    ``BOOT_x_LEFT=0``. Every change is one ``fw_setenv -s`` call, so all its
    variables land in one environment write (libubootenv writes the inactive
    copy of a redundant environment, then flips the flags).

``ScriptBackend`` (``boot.backend: script``)
    A program with the interface of RAUC's custom bootloader backend::

        SCRIPT get-primary            print the slot that boots next (a or b)
        SCRIPT get-state SLOT         print "good" or "bad"
        SCRIPT set-primary SLOT       make SLOT boot next, with fresh attempts
        SCRIPT set-state SLOT good    SLOT booted fine: keep it
        SCRIPT set-state SLOT bad     never boot SLOT

    Exit status 0 on success; otherwise the first line of its standard error is
    reported. It runs with no standard input and a 60-second time limit.

The Qualcomm GPT backend (A/B attribute bits of the ``_a``/``_b`` entries) lives
with the flash engine, because its writes go through the install journal; it is
passed to ``make_backend`` as a factory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .config import Backend, Config
from .errors import BootError, ConfigError

UBOOT_PACKAGE = "libubootenv-tool"
DEFAULT_SLOTS = ("a", "b")


@dataclass(frozen=True)
class SlotState:
    name: str
    bootable: bool
    good: bool
    active: bool  # the slot that boots next
    retries: int | None
    priority: int | None  # higher boots first; None if not known or not in the order


class BootBackend(Protocol):
    def slots(self) -> list[str]: ...

    def state(self) -> list[SlotState]: ...

    def primary(self) -> str: ...

    def activate(self, slot: str) -> None: ...

    def mark_good(self, slot: str) -> None: ...

    def mark_bad(self, slot: str) -> None: ...


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _run(argv: Sequence[str], what: str, timeout: float) -> str:
    try:
        proc = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BootError(f"{what}: timed out after {timeout:g} s") from None
    except OSError as exc:
        raise BootError(f"{what}: cannot run {argv[0]}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        detail = _first_line(proc.stderr) or _first_line(proc.stdout) or "no message"
        status = (
            f"killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"exit {proc.returncode}"
        )
        raise BootError(f"{what} failed ({status}): {detail}")
    return proc.stdout


class _SlotNames:
    def __init__(self, slots: Sequence[str]) -> None:
        if not slots or len(set(slots)) != len(slots):
            raise ConfigError(f"invalid slot list {list(slots)!r}")
        self._slots = list(slots)

    def slots(self) -> list[str]:
        return list(self._slots)

    def _slot(self, slot: str) -> str:
        name = slot.lower() if isinstance(slot, str) else slot
        if name not in self._slots:
            raise BootError(f"unknown slot {slot!r} (expected one of {', '.join(self._slots)})")
        return name


# --------------------------------------------------------------------------- U-Boot


class UBootEnvBackend(_SlotNames):
    """RAUC-style A/B selection in the U-Boot environment, via fw_printenv/fw_setenv."""

    def __init__(
        self,
        printenv: str = "fw_printenv",
        setenv: str = "fw_setenv",
        config: Path | None = None,
        boot_left: int = 3,
        slots: Sequence[str] = DEFAULT_SLOTS,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(slots)
        if boot_left < 1:
            raise ConfigError(f"boot_left must be at least 1, got {boot_left}")
        self.printenv = printenv
        self.setenv = setenv
        self.config = config
        self.boot_left = boot_left
        self.timeout = timeout

    def _tool(self, tool: str) -> str:
        path = shutil.which(tool)
        if path is None:
            raise BootError(f"{tool} not found: install the {UBOOT_PACKAGE} package")
        return path

    def _config_args(self) -> list[str]:
        return ["-c", str(self.config)] if self.config is not None else []

    def read_env(self) -> dict[str, str]:
        """All variables of the current environment."""
        out = _run([self._tool(self.printenv), *self._config_args()], "fw_printenv", self.timeout)
        env: dict[str, str] = {}
        for line in out.splitlines():
            name, sep, value = line.partition("=")
            if sep and name:
                env[name] = value
        return env

    def write_env(self, variables: dict[str, str]) -> None:
        """Set all variables in one environment write (fw_setenv -s)."""
        for name, value in variables.items():
            if not name or "=" in name or any(c.isspace() for c in name):
                raise BootError(f"invalid U-Boot variable name {name!r}")
            if "\n" in value or "\r" in value:
                raise BootError(f"U-Boot variable {name}: value must be one line")
        tool = self._tool(self.setenv)
        with tempfile.NamedTemporaryFile(
            "w", prefix="scm-fwupdate-env.", suffix=".txt", encoding="utf-8"
        ) as script:
            script.write("# written by scm-fwupdate\n")
            for name, value in variables.items():
                script.write(f"{name}={value}\n")
            script.flush()
            os.fsync(script.fileno())
            _run([tool, *self._config_args(), "-s", script.name], "fw_setenv", self.timeout)

    def _parse(self) -> tuple[list[str], dict[str, int], dict[str, bool | None]]:
        env = self.read_env()
        order_text = env.get("BOOT_ORDER")
        if order_text is None:
            order_text = " ".join(s.upper() for s in self._slots)
        order = order_text.split()
        left: dict[str, int] = {}
        good: dict[str, bool | None] = {}
        for slot in self._slots:
            var = f"BOOT_{slot.upper()}_LEFT"
            raw = env.get(var)
            if raw is None:
                left[slot] = self.boot_left
            else:
                try:
                    left[slot] = int(raw.strip(), 0)
                except ValueError:
                    raise BootError(f"U-Boot variable {var}={raw!r} is not a number") from None
            flag = env.get(f"BOOT_{slot.upper()}_GOOD")
            good[slot] = None if flag is None else flag.strip() == "1"
        return order, left, good

    @staticmethod
    def _managed_order(order: list[str], slots: list[str]) -> list[str]:
        return [s.lower() for s in order if s.lower() in slots]

    def _next(self, order: list[str], left: dict[str, int]) -> str | None:
        for slot in self._managed_order(order, self._slots):
            if left[slot] > 0:
                return slot
        return None

    def state(self) -> list[SlotState]:
        order, left, good = self._parse()
        managed = self._managed_order(order, self._slots)
        nxt = self._next(order, left)
        states = []
        for slot in self._slots:
            in_order = slot in managed
            bootable = in_order and left[slot] > 0
            flag = good[slot]
            states.append(
                SlotState(
                    name=slot,
                    bootable=bootable,
                    good=bootable if flag is None else (flag and bootable),
                    active=slot == nxt,
                    retries=left[slot],
                    priority=len(managed) - managed.index(slot) if in_order else None,
                )
            )
        return states

    def primary(self) -> str:
        order, left, _good = self._parse()
        nxt = self._next(order, left)
        if nxt is None:
            raise BootError("no bootable slot: BOOT_ORDER has no slot with attempts left")
        return nxt

    def activate(self, slot: str) -> None:
        slot = self._slot(slot)
        order, _left, _good = self._parse()
        letter = slot.upper()
        new_order = [letter] + [s for s in order if s.upper() != letter]
        self.write_env(
            {
                "BOOT_ORDER": " ".join(new_order),
                f"BOOT_{letter}_LEFT": str(self.boot_left),
                f"BOOT_{letter}_GOOD": "0",
            }
        )

    def mark_good(self, slot: str) -> None:
        slot = self._slot(slot)
        order, _left, _good = self._parse()
        letter = slot.upper()
        if letter not in [s.upper() for s in order]:
            raise BootError(f"slot {slot} is not in BOOT_ORDER: activate it first")
        self.write_env({f"BOOT_{letter}_LEFT": str(self.boot_left), f"BOOT_{letter}_GOOD": "1"})

    def mark_bad(self, slot: str) -> None:
        slot = self._slot(slot)
        order, _left, _good = self._parse()
        letter = slot.upper()
        new_order = [s for s in order if s.upper() != letter]
        self.write_env(
            {
                "BOOT_ORDER": " ".join(new_order),
                f"BOOT_{letter}_LEFT": "0",
                f"BOOT_{letter}_GOOD": "0",
            }
        )


# --------------------------------------------------------------------------- script


class ScriptBackend(_SlotNames):
    """A user program with RAUC's custom bootloader backend interface."""

    def __init__(
        self, script: Path, slots: Sequence[str] = DEFAULT_SLOTS, timeout: float = 60.0
    ) -> None:
        super().__init__(slots)
        self.script = Path(script)
        self.timeout = timeout

    def _call(self, *args: str) -> str:
        if not self.script.is_file():
            raise BootError(f"boot script {self.script} not found")
        if not os.access(self.script, os.X_OK):
            raise BootError(f"boot script {self.script} is not executable")
        return _run(
            [str(self.script), *args], f"boot script {self.script} {' '.join(args)}", self.timeout
        )

    def primary(self) -> str:
        out = self._call("get-primary").strip()
        if out.lower() not in self._slots:
            raise BootError(
                f"boot script {self.script} get-primary printed {out[:40]!r}, not a slot name"
            )
        return out.lower()

    def _get_state(self, slot: str) -> bool:
        out = self._call("get-state", slot).strip()
        if out not in ("good", "bad"):
            raise BootError(
                f"boot script {self.script} get-state {slot} printed {out[:40]!r},"
                " expected good or bad"
            )
        return out == "good"

    def state(self) -> list[SlotState]:
        primary = self.primary()
        states = []
        for slot in self._slots:
            good = self._get_state(slot)
            states.append(SlotState(slot, good, good, slot == primary, None, None))
        return states

    def activate(self, slot: str) -> None:
        self._call("set-primary", self._slot(slot))

    def mark_good(self, slot: str) -> None:
        self._call("set-state", self._slot(slot), "good")

    def mark_bad(self, slot: str) -> None:
        self._call("set-state", self._slot(slot), "bad")


# --------------------------------------------------------------------------- factory


def make_backend(config: Config, qualcomm_factory: Callable[[Config], BootBackend]) -> BootBackend:
    """The backend config.boot.backend names; qualcomm-gpt comes from the engine's factory."""
    boot = config.boot
    if boot.backend == Backend.QUALCOMM_GPT:
        return qualcomm_factory(config)
    if boot.backend == "uboot-env":
        return UBootEnvBackend(
            printenv=boot.uboot.printenv,
            setenv=boot.uboot.setenv,
            config=boot.uboot.config,
            boot_left=boot.uboot.boot_left,
        )
    if boot.backend == "script":
        if boot.script is None:
            raise ConfigError("boot.script is required when boot.backend is 'script'")
        return ScriptBackend(boot.script)
    raise ConfigError(f"unknown boot backend {boot.backend!r}")
