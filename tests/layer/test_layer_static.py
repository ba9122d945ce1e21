"""Static checks of what yocto-check-layer and the layer's design require."""

import re
import textwrap
import types

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from layer_paths import LAYER, REPO

LAYER_CONF = (LAYER / "conf" / "layer.conf").read_text()
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def var(text, name):
    m = re.search(rf'^{re.escape(name)}\s*(?:\?\?=|\?=|:=|=)\s*"([^"]*)"', text, re.M)
    return m.group(1) if m else None


# -- README / SECURITY / licence ------------------------------------------------


def test_readme_fields():
    readme = (LAYER / "README.md").read_text()
    assert re.search(r"(?im)^#+\s*maintainers?\b", readme), "README: no Maintainer section"
    assert EMAIL.search(readme), "README: no email address"
    assert re.search(r"(?i)\bpatch(es)?\b", readme), "README: no patch submission info"
    assert re.search(r"(?im)^#+\s*dependencies", readme), "README: no Dependencies section"
    assert "wrynose" in readme
    # yocto-check-layer skips the checks above when the README mentions
    # another README: keep them effective.
    assert "readme" not in readme.lower(), "README mentions another README"


def test_security_md():
    security = (LAYER / "SECURITY.md").read_text()
    assert EMAIL.search(security), "SECURITY.md: no contact address"
    assert re.search(r"(?i)report", security)


def test_licence_file():
    assert "Permission is hereby granted" in (LAYER / "COPYING.MIT").read_text()


# -- layer.conf ---------------------------------------------------------------------


def test_layer_conf():
    assert re.search(r'^BBFILE_COLLECTIONS \+= "qcom-scm"$', LAYER_CONF, re.M)
    assert var(LAYER_CONF, "LAYERSERIES_COMPAT_qcom-scm") == "wrynose"
    assert var(LAYER_CONF, "LAYERDEPENDS_qcom-scm").split() == ["core"]
    assert re.search(r"^addpylib \$\{LAYERDIR\}/lib oeqa$", LAYER_CONF, re.M)
    assert re.search(r'^INHERIT \+= "qcom_scm_sanity"$', LAYER_CONF, re.M)
    # meta-qcom's collection name is "qcom".
    assert "qcom:${LAYERDIR}/dynamic-layers/qcom/" in LAYER_CONF


def test_layer_conf_changes_nothing_global():
    """Adding the layer must not change other recipes' signatures."""
    forbidden = r"^(DISTRO_FEATURES|MACHINE_FEATURES|IMAGE_INSTALL|PREFERRED_\w+|BBMASK)\b"
    offenders = re.findall(forbidden, LAYER_CONF, re.M)
    assert not offenders, offenders
    # The one global class only handles an event (a warning): no task, no signature.
    assert re.findall(r"^INHERIT\b.*", LAYER_CONF, re.M) == ['INHERIT += "qcom_scm_sanity"']


def test_classes_are_in_their_new_directories():
    assert not (LAYER / "classes").exists(), "legacy classes/ directory"
    assert sorted(p.name for p in (LAYER / "classes-recipe").glob("*.bbclass")) == [
        "qcom_scm_bundle.bbclass",
        "qcom_scm_source.bbclass",
    ]
    assert sorted(p.name for p in (LAYER / "classes-global").glob("*.bbclass")) == [
        "qcom_scm_sanity.bbclass"
    ]


def layer_variables():
    names = set()
    for path in LAYER.rglob("*"):
        if path.suffix in {".bb", ".bbappend", ".bbclass", ".inc", ".conf"}:
            names |= set(
                re.findall(
                    r"^([A-Z][A-Z0-9_]*)(?:\[\w-]+\])?(?::\S+)?\s*(?:\?\?=|\?=|:=|\+=|=)",
                    path.read_text(),
                    re.M,
                )
            )
    return names


def test_one_variable_prefix():
    """The layer's own variables all start with QCOM_SCM_; the old SCM_ names
    are declared renamed (bitbake stops with "has been renamed to")."""
    ours = {n for n in layer_variables() if "SCM" in n}
    assert ours and all(n.startswith("QCOM_SCM_") for n in ours), sorted(ours)
    renamed = dict(re.findall(r'^BB_RENAMED_VARIABLES\[(\w+)\] = "(\w+)"$', LAYER_CONF, re.M))
    for old, new in renamed.items():
        if old.startswith("SCM_"):
            assert new == "QCOM_" + old and new in ours, (old, new)


def sanity_handler():
    text = (LAYER / "classes-global" / "qcom_scm_sanity.bbclass").read_text()
    assert re.search(
        r'^qcom_scm_feature_check\[eventmask\] = "bb\.event\.SanityCheck"$', text, re.M
    )
    m = re.search(r"^python qcom_scm_feature_check\(\) \{\n(.*?)^\}", text, re.M | re.S)
    source = "def handler(e):\n" + textwrap.indent(textwrap.dedent(m.group(1)), "    ")
    warnings = []
    namespace = {"bb": types.SimpleNamespace(warn=warnings.append)}
    exec(compile(source, "qcom_scm_sanity.bbclass", "exec"), namespace)

    def run(**values):
        data = types.SimpleNamespace(getVar=values.get)
        namespace["handler"](types.SimpleNamespace(data=data))
        return list(warnings), warnings.clear()

    return run


@pytest.mark.parametrize(
    ("values", "warns"),
    [
        ({"DISTRO_FEATURES": "systemd"}, True),
        ({"DISTRO_FEATURES": "systemd qcom-scm"}, False),
        ({"DISTRO_FEATURES": "qcom-scm-foo"}, True),
        ({"DISTRO_FEATURES": "", "QCOM_SCM_SKIP_FEATURE_CHECK": "1"}, False),
    ],
)
def test_sanity_warns_without_the_feature(values, warns):
    got, _ = sanity_handler()(**values)
    assert bool(got) == warns, got
    if warns:
        assert "qcom-scm" in got[0] and "QCOM_SCM_SKIP_FEATURE_CHECK" in got[0]


# -- patches ------------------------------------------------------------------------


def patches():
    return sorted(LAYER.rglob("*.patch"))


def test_every_patch_has_upstream_status():
    pattern = re.compile(
        r"^Upstream-Status: (Pending|Submitted|Accepted|Backport|Denied|Inappropriate"
        r"|Inactive-Upstream)",
        re.M,
    )
    missing = [str(p.relative_to(REPO)) for p in patches() if not pattern.search(p.read_text())]
    assert not missing, "no Upstream-Status: " + ", ".join(missing)


# -- DISTRO_FEATURE gating ----------------------------------------------------------


def bbappends():
    return sorted(LAYER.rglob("*.bbappend"))


def test_bbappends_are_gated():
    assert bbappends()
    gate = re.compile(
        r"^require \$\{@bb\.utils\.contains\('DISTRO_FEATURES', 'qcom-scm', "
        r"'[\w.-]+\.inc', '', d\)\}$"
    )
    for path in bbappends():
        lines = [x for x in path.read_text().splitlines() if x.strip()]
        assert len(lines) == 1 and gate.match(lines[0]), f"{path.name}: not a gated one-liner"
        inc = re.search(r"'([\w.-]+\.inc)'", lines[0]).group(1)
        assert (path.parent / inc).is_file(), f"{path.name}: {inc} missing"


def test_kernel_bbappend_names_match_meta_qcom():
    names = {p.name for p in (LAYER / "dynamic-layers" / "qcom").rglob("*.bbappend")}
    assert names == {"linux-qcom_%.bbappend", "linux-qcom-next_%.bbappend"}


def test_kernel_files_referenced_exist():
    files = LAYER / "recipes-kernel" / "linux" / "files"
    inc = (LAYER / "recipes-kernel" / "linux" / "qcom-scm-kernel.inc").read_text()
    fragments = var(inc, "QCOM_SCM_KERNEL_FRAGMENTS").split()
    if not files.is_dir():
        pytest.skip("recipes-kernel/linux/files/ not there yet (kernel series in progress)")
    missing = [f for f in fragments if not (files / f).is_file()]
    assert not missing, f"fragments missing from {files}: {missing}"
    assert sorted((files / "qcom-scm-storage").glob("*.patch")), "no patches in the series"


# -- write opt-in -------------------------------------------------------------------


def test_writes_are_opt_in():
    recipe = next(LAYER.rglob("qcom-scm-storage-config_*.bb")).read_text()
    assert var(recipe, "QCOM_SCM_STORAGE_ALLOW_WRITE") == "0"
    machine = (LAYER / "conf" / "machine" / "qemuarm64-scm.conf").read_text()
    assert var(machine, "QCOM_SCM_STORAGE_ALLOW_WRITE") == "0"


# -- machine ------------------------------------------------------------------------


def test_machine_runqemu_settings():
    conf = (LAYER / "conf" / "machine" / "qemuarm64-scm.conf").read_text()
    assert "require conf/machine/qemuarm64.conf" in conf
    assert var(conf, "QB_MACHINE") == "-machine virt,secure=on"
    assert var(conf, "QB_DEFAULT_BIOS") == "tz-emulator.bin"
    assert var(conf, "QB_DTB")
    assert "-semihosting-config enable=on,target=native" in conf


# -- agent recipe vs. the agent -----------------------------------------------------


def test_agent_units_and_config_exist():
    recipe = next(LAYER.glob("recipes-support/scm-fwupdate/scm-fwupdate_*.bb")).read_text()
    units = set(re.findall(r"scm-fwupdate-[\w-]+\.(?:service|path)", recipe))
    assert units
    systemd = REPO / "agent" / "systemd"
    if not systemd.is_dir():
        pytest.skip("agent/systemd/ not there yet")
    missing = sorted(u for u in units if not (systemd / u).is_file())
    assert not missing, f"units named by the recipe but not in agent/systemd: {missing}"
    assert (REPO / "agent" / "etc" / "scm-fwupdate.yaml").is_file()


# -- development keys ---------------------------------------------------------------


def test_development_key_is_marked_and_consistent():
    keys = LAYER / "files" / "dev-keys"
    private = keys / "DEVELOPMENT-ONLY-ed25519.pem"
    public = keys / "DEVELOPMENT-ONLY-ed25519.pub.pem"
    note = (keys / "README.md").read_text()
    assert "INSECURE" in note and "PUBLIC" in note
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert pub == public.read_bytes()
    # Only the emulated board trusts it.
    trusting = [
        p.relative_to(LAYER)
        for p in LAYER.rglob("*.conf")
        if "DEVELOPMENT-ONLY-ed25519.pub.pem" in p.read_text()
    ]
    assert [str(p) for p in trusting] == ["conf/machine/qemuarm64-scm.conf"]
