"""kas files: schema-valid, includes resolve, repositories pinned."""

import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from layer_paths import KAS_DIR, REPO

configschema = pytest.importorskip("kas.configschema")

KAS_FILES = sorted(KAS_DIR.glob("*.yml"))
# Compositions documented in docs/yocto.md and the kas file headers.
COMPOSITIONS = [
    "kas/qemuarm64-scm.yml",
    "kas/base.yml:kas/qemuarm64-scm.yml",
    "kas/qemuarm64-scm.yml:kas/testimage.yml",
    "kas/base.yml:kas/qemuarm64-scm.yml:kas/testimage.yml",
    "kas/qemuarm64-scm.yml:kas/testimage.yml:kas/allow-write.yml",
    "kas/base.yml:kas/radxa-dragon-q6a.yml",
    "kas/radxa-dragon-q6a.yml",
]


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def ids(paths):
    return [p.name for p in paths]


def test_there_are_kas_files():
    names = {p.name for p in KAS_FILES}
    assert {"base.yml", "qemuarm64-scm.yml", "testimage.yml", "radxa-dragon-q6a.yml"} <= names


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
    for name, repo in repos.items():
        if repo.get("url"):
            assert re.fullmatch(r"[0-9a-f]{40}", str(repo.get("commit", ""))), (
                f"{spec}: repo {name} is not pinned to a commit"
            )


def test_base_enables_the_feature():
    header = load(KAS_DIR / "base.yml")["local_conf_header"]
    text = "\n".join(header.values())
    assert re.search(r'DISTRO_FEATURES:append = "[^"]*\bqcom-scm\b', text)
    assert "systemd" in text


def test_yaml_language_server_hint():
    for path in KAS_FILES:
        first = Path(path).read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path.name
