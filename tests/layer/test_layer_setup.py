"""bitbake-setup configurations (kas/*.conf.json), checked with the real
bitbake-setup package without fetching anything: its own loading and
non-interactive selection of each configuration, BitBake's fetcher resolving
every source (a revision that is not a fixed commit would need the network
and fails), its "list" command on a registry made of them, and the same pins
as the kas lock files."""

import json
import re
import subprocess
import sys
import types

import pytest
import yaml
from layer_paths import KAS_DIR, LAYER

setup = pytest.importorskip("bitbake_setup.__main__")
bb_fetch = pytest.importorskip("bb.fetch")

CONFIGS = sorted(KAS_DIR.glob("*.conf.json"))
MACHINES = {p.stem for p in (LAYER / "conf" / "machine").glob("*.conf")}
FRAGMENTS = {
    "qcom-scm/" + str(p.relative_to(LAYER / "conf" / "fragments").with_suffix(""))
    for p in (LAYER / "conf" / "fragments").rglob("*.conf")
}


def ids(paths):
    return [p.name for p in paths]


def test_there_are_configurations():
    assert {p.name for p in CONFIGS} == {"qemuarm64-scm.conf.json", "radxa-dragon-q6a.conf.json"}


@pytest.fixture
def datastore(tmp_path):
    settings = {"default": {"dl-dir": str(tmp_path / "downloads")}}
    return setup.init_bb_cache(str(tmp_path), settings, types.SimpleNamespace(no_network=True))


def obtain(path, tmp_path, datastore):
    """bitbake-setup init's reading and selection, as for
    "bitbake-setup init --non-interactive <file> <name>", up to the fetch."""
    name = json.loads(path.read_text())["bitbake-setup"]["configurations"][0]["name"]
    args = types.SimpleNamespace(
        config=[str(path), name], non_interactive=True, skip_selection=None
    )
    return setup.obtain_config(str(tmp_path), None, args, {"sources": {}}, datastore)


@pytest.mark.parametrize("path", CONFIGS, ids=ids(CONFIGS))
def test_configuration_loads_and_selects(path, tmp_path, datastore):
    config = obtain(path, tmp_path, datastore)
    assert config["name"] == path.name.removesuffix(".conf.json")
    chosen = config["bitbake-config"]
    assert chosen["name"] == config["name"]
    assert config["data"]["version"] == "1.0"
    sources = config["data"]["sources"]
    for layer in chosen["bb-layers"]:
        assert layer.split("/")[0] in sources, f"{path.name}: {layer} is in no source"
    # The layer comes from the checkout the configuration lives in (like the
    # kas files' repository without a url).
    assert [(path.parent / p).resolve() for p in chosen["bb-layers-file-relative"]] == [LAYER]
    fragments = chosen["oe-fragments"]
    ours = {f for f in fragments if f.startswith("qcom-scm/")}
    assert ours <= FRAGMENTS, f"{path.name}: unknown fragments {sorted(ours - FRAGMENTS)}"
    assert "qcom-scm/feature" in ours
    machines = [f.split("/", 1)[1] for f in fragments if f.startswith("machine/")]
    assert machines == [config["name"]]
    # The emulated board is ours; the real one is meta-qcom-3rdparty's.
    assert (config["name"] in MACHINES) == (config["name"] == "qemuarm64-scm")
    # In-tree build for the emulated board only, as in the kas files.
    assert ("qcom-scm/in-tree" in ours) == (config["name"] == "qemuarm64-scm")
    # The real board's kernel, as kas's meta-qcom ci/linux-qcom-next.yml sets it.
    assert ("qcom-scm/linux-qcom-next" in ours) == (config["name"] == "radxa-dragon-q6a")


def fetch_uri(name, remote):
    """The URL bitbake-setup's checkout_layers() hands to BitBake's fetcher."""
    prot, host, path, user, pswd, params = bb_fetch.decodeurl(remote["uri"])
    url = bb_fetch.encodeurl(("git", host, path, user, pswd, params))
    return f"{url};protocol={prot};rev={remote['rev']};branch={remote['branch']};destsuffix={name}"


@pytest.mark.parametrize("path", CONFIGS, ids=ids(CONFIGS))
def test_sources_resolve_without_network(path, datastore):
    for name, source in json.loads(path.read_text())["sources"].items():
        remote = source["git-remote"]
        assert re.fullmatch(r"[0-9a-f]{40}", remote["rev"]), f"{name}: rev is not a commit"
        uri = fetch_uri(name, remote)
        fetcher = bb_fetch.Fetch([uri], datastore)
        assert fetcher.ud[uri].revision == remote["rev"]


def kas_pins():
    """url -> commit from the kas files and their lock files."""
    pins = {}
    for lock in KAS_DIR.glob("*.lock.yml"):
        config = yaml.safe_load(
            (KAS_DIR / (lock.name.removesuffix(".lock.yml") + ".yml")).read_text()
        )
        for name, entry in yaml.safe_load(lock.read_text())["overrides"]["repos"].items():
            url = config["repos"][name]["url"]
            pins[url.removesuffix(".git")] = entry["commit"]
    return pins


@pytest.mark.parametrize("path", CONFIGS, ids=ids(CONFIGS))
def test_same_revisions_as_kas(path):
    pins = kas_pins()
    for name, source in json.loads(path.read_text())["sources"].items():
        remote = source["git-remote"]
        uri = remote["uri"].removesuffix(".git")
        assert uri in pins, f"{path.name}: {name} ({uri}) is not in the kas files"
        assert remote["rev"] == pins[uri], f"{path.name}: {name} differs from the kas lock"


def test_list_command(tmp_path):
    """bitbake-setup's list command on a local registry of the two files: no fetch."""
    registry = tmp_path / "registry"
    (registry / "configurations").mkdir(parents=True)
    for path in CONFIGS:
        (registry / "configurations" / path.name).symlink_to(path)
    cmd = [sys.executable, "-m", "bitbake_setup", "--color", "never"]
    cmd += ["--setting", "default", "registry", str(registry), "list"]
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    listed = re.findall(r"^(\S+)\t", p.stdout, re.M)
    assert listed == [p.name.removesuffix(".conf.json") for p in CONFIGS]
