"""do_bundle of classes-recipe/qcom_scm_bundle.bbclass, run outside bitbake
with a stand-in datastore and a stand-in "scm-fwupdate bundle create", and
the example bundle recipe's shape."""

import json
import re
import sys
import textwrap
import types

import pytest
from layer_paths import LAYER

CLASS = LAYER / "classes-recipe" / "qcom_scm_bundle.bbclass"
RECIPE = LAYER / "recipes-core" / "bundles" / "core-bundle-qcom-scm_1.0.bb"

FAKE_AGENT = """\
import json, sys
args = sys.argv[1:]
out = args[args.index("--output") + 1]
with open(out, "w") as f:
    json.dump(args, f)
"""


def task_source():
    text = CLASS.read_text()
    m = re.search(r"^python do_bundle\(\) \{\n(.*?)^\}", text, re.M | re.S)
    assert m, "python do_bundle() not found"
    return "def do_bundle(d):\n" + textwrap.indent(textwrap.dedent(m.group(1)), "    ")


class Fatal(Exception):
    pass


def fake_bb(log):
    def fatal(msg):
        raise Fatal(msg)

    bb = types.SimpleNamespace(
        fatal=fatal,
        note=lambda msg: log.append(("note", msg)),
        warn=lambda msg: log.append(("warn", msg)),
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
    work = tmp_path / "bundle"
    work.mkdir()  # B, [cleandirs]
    dev_key = LAYER / "files" / "dev-keys" / "DEVELOPMENT-ONLY-ed25519.pem"
    values = {
        "QCOM_SCM_BUNDLE_IMAGES": "dtb:fw/dtb.bin uefi:fw/uefi.bin",
        "QCOM_SCM_BUNDLE_DESCRIPTION": "",
        "QCOM_SCM_BUNDLE_KEY": str(dev_key),
        "QCOM_SCM_BUNDLE_DEV_KEY": str(dev_key),
        "QCOM_SCM_BUNDLE_COMPATIBLE": "qemuarm64-scm",
        "QCOM_SCM_BUNDLE_VERSION": "1.2",
        "QCOM_SCM_BUNDLE_NAME": "img.scmfw",
        "B": str(work),
        "MACHINE": "qemuarm64-scm",
        "DEPLOY_DIR_IMAGE": str(deploy),
        "STAGING_BINDIR_NATIVE": str(native),
    }
    return values, tmp_path


def run(values):
    log = []
    namespace = {"bb": fake_bb(log)}
    exec(compile(task_source(), str(CLASS), "exec"), namespace)
    namespace["do_bundle"](D(values))
    return log


def test_bundle_from_images(env):
    values, tmp = env
    log = run(values)
    out = tmp / "bundle" / "img.scmfw"
    args = json.loads(out.read_text())
    assert args[:2] == ["bundle", "create"]
    assert args[args.index("--key") + 1] == values["QCOM_SCM_BUNDLE_KEY"]
    assert args[args.index("--compatible") + 1] == "qemuarm64-scm"
    assert args[args.index("--version") + 1] == "1.2"
    assert "--description" not in args
    images = [args[i + 1] for i, a in enumerate(args) if a == "--image"]
    deploy = values["DEPLOY_DIR_IMAGE"]
    assert images == [f"dtb={deploy}/fw/dtb.bin", f"uefi={deploy}/fw/uefi.bin"]
    assert not [m for kind, m in log if kind == "warn"]


def test_description(env):
    values, tmp = env
    values["QCOM_SCM_BUNDLE_DESCRIPTION"] = "nightly"
    run(values)
    args = json.loads((tmp / "bundle" / "img.scmfw").read_text())
    assert args[args.index("--description") + 1] == "nightly"


def test_dev_key_warns_on_other_machines(env):
    values, _ = env
    values["MACHINE"] = "radxa-dragon-q6a"
    log = run(values)
    assert any("DEVELOPMENT-ONLY" in m for kind, m in log if kind == "warn")


def test_nothing_to_bundle_is_fatal(env):
    values, tmp = env
    values["QCOM_SCM_BUNDLE_IMAGES"] = ""
    with pytest.raises(Fatal, match="is empty"):
        run(values)
    assert not list((tmp / "bundle").iterdir())


@pytest.mark.parametrize(
    ("images", "message"),
    [("dtb", "not target:file"), ("dtb:fw/missing.bin", "not found")],
)
def test_bad_images_are_fatal(env, images, message):
    values, _ = env
    values["QCOM_SCM_BUNDLE_IMAGES"] = images
    with pytest.raises(Fatal, match=message):
        run(values)


def test_missing_key_is_fatal(env):
    values, tmp = env
    values["QCOM_SCM_BUNDLE_KEY"] = str(tmp / "nope.pem")
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
    values["QCOM_SCM_BUNDLE_IMAGES"] = (
        "uefisecapp:scm-fw/uefisecapp.bin XBL_CONFIG:scm-fw/XBL_CONFIG.bin"
    )
    values["QCOM_SCM_BUNDLE_COMPATIBLE"] = "radxa,dragon-q6a"
    values["QCOM_SCM_BUNDLE_VERSION"] = "6.0"
    run(values)
    bundle = tmp / "bundle" / "img.scmfw"
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


def test_bundle_is_a_recipe_of_its_own():
    """meta-rauc's shape: a bundle recipe inherits the class; no image does."""
    text = CLASS.read_text()
    assert re.search(r"^addtask bundle after do_configure before do_deploy$", text, re.M)
    assert re.search(r"^addtask deploy after do_bundle before do_build$", text, re.M)
    assert "${DEPLOYDIR}/${QCOM_SCM_BUNDLE_NAME}" in text
    recipe = RECIPE.read_text()
    assert re.search(r"^inherit qcom_scm_bundle$", recipe, re.M)
    assert re.search(r'^COMPATIBLE_MACHINE = "qemuarm64-scm"$', recipe, re.M)
    assert "scm-nor-image:do_deploy" in recipe
    images = [p for p in LAYER.rglob("*.bb") if "/images/" in str(p)]
    assert images
    for image in images:
        assert not re.search(r"^inherit .*\bqcom_scm_bundle\b", image.read_text(), re.M), image.name
    # The oeqa cases find the bundle where the recipe deploys it.
    machine = (LAYER / "conf" / "machine" / "qemuarm64-scm.conf").read_text()
    assert '"${DEPLOY_DIR_IMAGE}/core-bundle-qcom-scm-${MACHINE}.scmfw"' in machine
    assert 'QCOM_SCM_BUNDLE_NAME ??= "${PN}-${MACHINE}.scmfw"' in text
    assert "core-bundle-qcom-scm:do_deploy" in machine
