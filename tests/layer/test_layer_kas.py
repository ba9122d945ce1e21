"""kas files: schema-valid, includes resolve, every repository pinned by a
kas lock file (kas/<file>.lock.yml, checked offline against kas's own include
handler and lock file writer)."""

import os
import re
import types
from pathlib import Path

import jsonschema
import pytest
import yaml
from layer_paths import KAS_DIR, REPO

configschema = pytest.importorskip("kas.configschema")

KAS_FILES = sorted(KAS_DIR.glob("*.yml"))
LOCK_FILES = sorted(KAS_DIR.glob("*.lock.yml"))
CONFIG_FILES = [p for p in KAS_FILES if p not in LOCK_FILES]
SHA = re.compile(r"[0-9a-f]{40}")
# Compositions documented in docs/yocto.md and the kas file headers.
COMPOSITIONS = [
    "kas/qemuarm64-scm.yml",
    "kas/base.yml:kas/qemuarm64-scm.yml",
    "kas/qemuarm64-scm.yml:kas/testimage.yml",
    "kas/base.yml:kas/qemuarm64-scm.yml:kas/testimage.yml",
    "kas/qemuarm64-scm.yml:kas/testimage.yml:kas/allow-write.yml",
    "kas/base.yml:kas/radxa-dragon-q6a.yml",
    "kas/radxa-dragon-q6a.yml",
    "kas/radxa-dragon-q6a.yml:kas/scmi-optee.yml",
]


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def ids(paths):
    return [p.name for p in paths]


def test_there_are_kas_files():
    names = {p.name for p in KAS_FILES}
    assert {"base.yml", "qemuarm64-scm.yml", "testimage.yml", "radxa-dragon-q6a.yml"} <= names
    assert {"base.lock.yml", "radxa-dragon-q6a.lock.yml", "scmi-optee.lock.yml"} <= names


@pytest.mark.parametrize("path", KAS_FILES, ids=ids(KAS_FILES))
def test_schema(path):
    validator = jsonschema.Draft7Validator(configschema.CONFIGSCHEMA)
    errors = sorted(validator.iter_errors(load(path)), key=lambda e: list(e.path))
    assert not errors, "\n".join(
        f"{path.name}: {'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors
    )


@pytest.mark.parametrize("path", KAS_FILES, ids=ids(KAS_FILES))
def test_header(path):
    header = load(path)["header"]
    assert header["version"] >= 14, f"{path.name}: header version {header['version']} < 14"


def compose(spec):
    """Load a ':'-separated composition the way kas does (local includes
    relative to the repository root, depth first). Returns the list of
    loaded files and of repo includes (repo, file, from)."""
    loaded, repo_includes = [], []

    def visit(rel, parent):
        path = REPO / rel
        assert path.is_file(), f"{parent}: include {rel} does not exist"
        if rel in (r for r, _ in loaded):
            return
        data = load(path)
        for inc in data.get("header", {}).get("includes", []) or []:
            if isinstance(inc, str):
                visit(inc, rel)
            else:
                repo_includes.append((inc["repo"], inc["file"], rel))
        loaded.append((rel, data))

    for part in spec.split(":"):
        visit(part, "<command line>")
    return loaded, repo_includes


@pytest.mark.parametrize("path", KAS_FILES, ids=ids(KAS_FILES))
def test_local_includes_exist(path):
    compose(str(path.relative_to(REPO)))


@pytest.mark.parametrize("spec", COMPOSITIONS)
def test_composition(spec):
    loaded, repo_includes = compose(spec)
    repos, machine = {}, None
    for _, data in loaded:
        for name, repo in (data.get("repos") or {}).items():
            repos.setdefault(name, {}).update(repo or {})
        machine = data.get("machine", machine)
    for repo, file, parent in repo_includes:
        assert repo in repos, f"{parent}: include of {file} names repo {repo!r}, not defined"
    assert machine and machine != "unset", f"{spec}: no machine"
    # Our layer is the repository the kas files live in (no url).
    assert "url" not in repos["meta-qcom-scm"]
    assert "meta-qcom-scm" in repos["meta-qcom-scm"]["layers"]
    assert (REPO / "meta-qcom-scm" / "conf" / "layer.conf").is_file()


def test_pins_live_in_the_lock_files():
    """The kas files follow branches; the commits are in kas/*.lock.yml only."""
    for path in CONFIG_FILES:
        for name, repo in (load(path).get("repos") or {}).items():
            assert "commit" not in (repo or {}), f"{path.name}: {name} pins a commit"


@pytest.fixture(scope="module")
def kas_context(tmp_path_factory):
    context = pytest.importorskip("kas.context")
    os.environ.setdefault("KAS_WORK_DIR", str(tmp_path_factory.mktemp("kas")))
    return context.create_global_context(types.SimpleNamespace(no_color=True))


def kas_merged(spec):
    """The composition as kas merges it, lock files included, without checking
    anything out (repo includes of other repositories stay unresolved)."""
    from kas.includehandler import IncludeHandler

    handler = IncludeHandler([str(REPO / part) for part in spec.split(":")], use_lock=True)
    config, _missing = handler.get_config(repos={})
    locks = (config.get("overrides") or {}).get("repos") or {}
    return config, locks


@pytest.mark.parametrize("spec", COMPOSITIONS)
def test_lock_pins_every_repository(kas_context, spec):
    config, locks = kas_merged(spec)
    for name, repo in config["repos"].items():
        if (repo or {}).get("url"):
            assert SHA.fullmatch(str(locks.get(name, {}).get("commit"))), (
                f"{spec}: repo {name} is not pinned by a lock file"
            )
    stale = sorted(set(locks) - set(config["repos"]))
    assert not stale, f"{spec}: lock entries for repositories it does not have: {stale}"


@pytest.mark.parametrize("lock", LOCK_FILES, ids=ids(LOCK_FILES))
def test_lock_file_is_what_kas_lock_writes(lock):
    """kas lock adds the floating repositories a file defines, in the order it
    defines them, to the lock file next to it, and writes it with its Dump
    plugin: regenerate that from the recorded commits and compare bytes. (kas
    lock itself needs checkouts, which CI does not have.)"""
    from kas.plugins.dump import LOCKFILE_VERSION_MIN, Dump, IoTarget

    config = KAS_DIR / (lock.name.removesuffix(".lock.yml") + ".yml")
    floating = [n for n, r in (load(config).get("repos") or {}).items() if (r or {}).get("url")]
    commits = load(lock)["overrides"]["repos"]
    assert list(commits) == floating, (
        f"{lock.name} locks {list(commits)}, {config.name} defines {floating}"
    )
    expected = {
        "header": {"version": LOCKFILE_VERSION_MIN},
        "overrides": {"repos": {n: {"commit": commits[n]["commit"]} for n in floating}},
    }
    target = lock.parent / ".regenerated"
    try:
        Dump.dump_config(expected, IoTarget(target=str(target), managed=True), "yaml", 2, False)
        assert target.read_text() == lock.read_text(), f"{lock.name} is not in kas lock's format"
    finally:
        target.unlink(missing_ok=True)


def test_base_enables_the_feature():
    header = load(KAS_DIR / "base.yml")["local_conf_header"]
    text = "\n".join(header.values())
    assert re.search(r'^OE_FRAGMENTS \+= "qcom-scm/feature"$', text, re.M)
    fragment = (REPO / "meta-qcom-scm" / "conf" / "fragments" / "feature.conf").read_text()
    assert re.search(r'^DISTRO_FEATURES:append = " qcom-scm systemd"$', fragment, re.M)


def test_emulated_board_builds_this_checkout():
    """The in-tree override: set for the emulated board, not for the real one."""
    board = "\n".join(load(KAS_DIR / "qemuarm64-scm.yml")["local_conf_header"].values())
    assert re.search(r'^OE_FRAGMENTS \+= "qcom-scm/in-tree"$', board, re.M)
    for path in CONFIG_FILES:
        if path.name != "qemuarm64-scm.yml":
            assert "qcom-scm/in-tree" not in path.read_text(), path.name


def test_yaml_language_server_hint():
    for path in CONFIG_FILES:
        first = Path(path).read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path.name
