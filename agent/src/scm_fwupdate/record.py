"""The install record: what one install is.

Written into the journal's BEGIN record (the plan's metadata) before the
first write, and read back by resume, finish, verify, the inbox and the
history, so that an install interrupted by a power cut is finished with what
it started with. The planner adds its own keys (``txid``, ``kinds``,
``slot``, ...) to the same mapping; ``from_meta`` reads what it knows.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STAGED_NAME = "staged.bundle"
INSTALL = "install"


@dataclass(frozen=True)
class BundleInfo:
    path: str  # the staged bundle the plan reads from
    version: str
    compatible: str
    manifest_sha256: str
    description: str | None = None


@dataclass(frozen=True)
class ImageRecord:
    target: str
    kind: str  # strategies.Kind
    size: int
    sha256: str
    slot: str | None = None  # the A/B slot written (rule ab-attributes)
    version: str | None = None  # the manifest's per-image version
    release: str | None = None  # from the image itself (boot images)


@dataclass(frozen=True)
class Activation:
    """After DONE: switch to ``slot`` through a boot backend other than the GPT's."""

    backend: str
    slot: str


@dataclass(frozen=True)
class InstallRecord:
    started: float
    backend: str
    rule: str
    bundle: BundleInfo
    images: tuple[ImageRecord, ...]
    activation: Activation | None = None
    release: str | None = None
    txid: str | None = None  # given by the planner
    operation: str = INSTALL

    def to_meta(self) -> dict[str, Any]:
        meta = asdict(self)
        meta["images"] = [asdict(i) for i in self.images]
        if meta["txid"] is None:
            del meta["txid"]  # the planner gives one
        return meta

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> InstallRecord:
        bundle = dict(meta.get("bundle") or {})
        act = meta.get("activation")
        return cls(
            started=float(meta.get("started") or 0.0),
            backend=str(meta.get("backend") or ""),
            rule=str(meta.get("rule") or ""),
            bundle=BundleInfo(
                path=str(bundle.get("path", "")),
                version=str(bundle.get("version", "")),
                compatible=str(bundle.get("compatible", "")),
                manifest_sha256=str(bundle.get("manifest_sha256", "")),
                description=bundle.get("description"),
            ),
            images=tuple(
                ImageRecord(**{k: v for k, v in i.items() if k in _IMAGE_FIELDS})
                for i in meta.get("images", [])
            ),
            activation=Activation(act["backend"], act["slot"]) if act else None,
            release=meta.get("release"),
            txid=meta.get("txid"),
            operation=str(meta.get("operation") or INSTALL),
        )

    @staticmethod
    def is_install(meta: dict[str, Any]) -> bool:
        return meta.get("operation") == INSTALL

    @property
    def staged(self) -> Path | None:
        """The staged copy of the bundle, which the install removes when finished."""
        path = Path(self.bundle.path) if self.bundle.path else None
        return path if path is not None and path.name == STAGED_NAME else None

    def history_entry(
        self, result: str, resumed: int = 0, error: str | None = None
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "operation": INSTALL,
            "txid": self.txid,
            "version": self.bundle.version,
            "compatible": self.bundle.compatible,
            "manifest_sha256": self.bundle.manifest_sha256,
            "release": self.release,
            "targets": [i.target for i in self.images],
            "images": [asdict(i) for i in self.images],
            "backend": self.backend,
            "rule": self.rule,
            "result": result,
            "duration": round(time.time() - self.started, 3) if self.started else None,
            "resumed": resumed,
        }
        if error:
            entry["error"] = error
        return entry


_IMAGE_FIELDS = {f for f in ImageRecord.__dataclass_fields__}


@dataclass
class InstallResult:
    """What ``install`` tells its caller."""

    txid: str | None
    version: str
    targets: list[str]
    slot: str | None
    activated: bool
    dry_run: bool = False
    blocks_planned: int = 0
    blocks_to_write: int = 0
    stats: dict[str, int] = field(default_factory=dict)
