"""do_scm_bundle of classes/scm-fwupdate-bundle.bbclass, run outside bitbake
with a stand-in datastore and a stand-in "scm-fwupdate bundle create"."""

import json
import os
import re
import sys
import textwrap
import types

import pytest
from layer_paths import LAYER

CLASS = LAYER / "classes" / "scm-fwupdate-bundle.bbclass"

FAKE_AGENT = """\
import json, sys
args = sys.argv[1:]
out = args[args.index("--output") + 1]
with open(out, "w") as f:
    json.dump(args, f)
"""


def task_source():
    text = CLASS.read_text()
    m = re.search(r"^python do_scm_bundle\(\) \{\n(.*?)^\}", text, re.M | re.S)
    assert m, "python do_scm_bundle() not found"
    return "def do_scm_bundle(d):\n" + textwrap.indent(textwrap.dedent(m.group(1)), "    ")


class Fatal(Exception):
    pass


def fake_bb(log):
    def fatal(msg):
        raise Fatal(msg)

    bb = types.SimpleNamespace(
        fatal=fatal,
        note=lambda msg: log.append(("note", msg)),
        warn=lambda msg: log.append(("warn", msg)),
        build=types.SimpleNamespace(exec_func=lambda name, d: log.append(("exec", name))),
        utils=types.SimpleNamespace(mkdirhier=lambda p: os.makedirs(p, exist_ok=True)),
    )
    return bb


class D:
    def __init__(self, values):
        self.values = values

    def getVar(self, name):
        return self.values.get(name)


@pytest.fixture
def env(tmp_path):
    native = tmp_path / "native"
    (native / "python3-native").mkdir(parents=True)
    (native / "python3-native" / "python3").symlink_to(sys.executable)
    (native / "scm-fwupdate").write_text(FAKE_AGENT)
    deploy = tmp_path / "deploy"
    (deploy / "fw").mkdir(parents=True)
    (deploy / "fw" / "dtb.bin").write_bytes(b"d" * 64)
    (deploy / "fw" / "uefi.bin").write_bytes(b"u" * 64)
    work = tmp_path / "work"
    work.mkdir()  # [cleandirs]
    dev_key = LAYER / "files" / "dev-keys" / "DEVELOPMENT-ONLY-ed25519.pem"
    values = {
        "SCM_BUNDLE_IMAGES": "dtb:fw/dtb.bin uefi:fw/uefi.bin",
        "SCM_BUNDLE_DESCRIPTION": "",
        "SCM_BUNDLE_KEY": str(dev_key),
        "SCM_BUNDLE_DEV_KEY": str(dev_key),
        "SCM_BUNDLE_COMPATIBLE": "qemuarm64-scm",
        "SCM_BUNDLE_VERSION": "1.2",
        "SCM_BUNDLE_NAME": "img.scmfw",
        "SCM_BUNDLE_WORKDIR": str(work),
        "MACHINE": "qemuarm64-scm",
        "DEPLOY_DIR_IMAGE": str(deploy),
        "IMGDEPLOYDIR": str(tmp_path / "imgdeploy"),
        "STAGING_BINDIR_NATIVE": str(native),
    }
    return values, tmp_path


def run(values):
    log = []
    namespace = {"bb": fake_bb(log)}
    exec(compile(task_source(), str(CLASS), "exec"), namespace)
    namespace["do_scm_bundle"](D(values))
    return log


def test_bundle_from_images(env):
    values, tmp = env
    log = run(values)
    out = tmp / "imgdeploy" / "img.scmfw"
    args = json.loads(out.read_text())
    assert args[:2] == ["bundle", "create"]
    assert args[args.index("--key") + 1] == values["SCM_BUNDLE_KEY"]
    assert args[args.index("--compatible") + 1] == "qemuarm64-scm"
    assert args[args.index("--version") + 1] == "1.2"
    assert "--description" not in args
    images = [args[i + 1] for i, a in enumerate(args) if a == "--image"]
    deploy = values["DEPLOY_DIR_IMAGE"]
    assert images == [f"dtb={deploy}/fw/dtb.bin", f"uefi={deploy}/fw/uefi.bin"]
    assert ("exec", "extend_recipe_sysroot") in log
    assert not [m for kind, m in log if kind == "warn"]


def test_description(env):
    values, tmp = env
    values["SCM_BUNDLE_DESCRIPTION"] = "nightly"
    run(values)
    args = json.loads((tmp / "imgdeploy" / "img.scmfw").read_text())
    assert args[args.index("--description") + 1] == "nightly"


def test_dev_key_warns_on_other_machines(env):
    values, _ = env
    values["MACHINE"] = "radxa-dragon-q6a"
    log = run(values)
    assert any("DEVELOPMENT-ONLY" in m for kind, m in log if kind == "warn")


def test_nothing_to_bundle_is_a_note(env):
    values, tmp = env
    values["SCM_BUNDLE_IMAGES"] = ""
    log = run(values)
    assert not (tmp / "imgdeploy").exists()
    assert any(kind == "note" for kind, _ in log)


@pytest.mark.parametrize(
    ("images", "message"),
    [("dtb", "not target:file"), ("dtb:fw/missing.bin", "not found")],
)
def test_bad_images_are_fatal(env, images, message):
    values, _ = env
    values["SCM_BUNDLE_IMAGES"] = images
    with pytest.raises(Fatal, match=message):
        run(values)


def test_missing_key_is_fatal(env):
    values, tmp = env
    values["SCM_BUNDLE_KEY"] = str(tmp / "nope.pem")
    with pytest.raises(Fatal, match="does not exist"):
        run(values)


AGENT_SRC = LAYER.parent / "agent" / "src"
REAL_AGENT = f"""\
import sys
sys.path.insert(0, {str(AGENT_SRC)!r})
from scm_fwupdate.cli import main
sys.exit(main())
"""


def test_real_agent_installs_the_bundle(env):
    """The class drives the real "scm-fwupdate bundle create"; the agent
    installs the result into a NOR image made by the image generator, as
    scm-nor-image does at build time."""
    import subprocess

    if not (AGENT_SRC / "scm_fwupdate" / "imagegen.py").is_file():
        pytest.skip("agent not there yet")
    values, tmp = env
    native = tmp / "native"
    (native / "scm-fwupdate").write_text(REAL_AGENT)
    agent = [sys.executable, str(native / "scm-fwupdate")]
    deploy = tmp / "deploy"
    nor = tmp / "nor.img"
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(AGENT_SRC)!r}); "
            "from scm_fwupdate.imagegen import main; sys.exit(main())",
            "--output",
            str(nor),
            "--images-dir",
            str(deploy / "scm-fw"),
        ],
        check=True,
        capture_output=True,
    )
    values["SCM_BUNDLE_IMAGES"] = (
        "uefisecapp:scm-fw/uefisecapp.bin XBL_CONFIG:scm-fw/XBL_CONFIG.bin"
    )
    values["SCM_BUNDLE_COMPATIBLE"] = "radxa,dragon-q6a"
    values["SCM_BUNDLE_VERSION"] = "6.0"
    run(values)
    bundle = tmp / "imgdeploy" / "img.scmfw"
    keyring = tmp / "keyring"
    keyring.mkdir()
    pub = LAYER / "files" / "dev-keys" / "DEVELOPMENT-ONLY-ed25519.pub.pem"
    (keyring / pub.name).write_bytes(pub.read_bytes())
    config = tmp / "scm-fwupdate.yaml"
    config.write_text(
        f'device: "{nor}"\nkeyring: "{keyring}"\nstate_dir: "{tmp / "state"}"\n'
        f'lock: "{tmp / "lock"}"\n'
    )
    common = [*agent, "--config", str(config)]
    subprocess.run([*common, "install", "--progress", "none", str(bundle)], check=True)
    subprocess.run([*common, "verify"], check=True, capture_output=True)
    status = subprocess.run([*common, "status"], check=True, capture_output=True, text=True).stdout
    assert re.search(r"(?m)^installed:\s+6\.0$", status), status
