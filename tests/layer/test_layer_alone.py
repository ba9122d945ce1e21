"""The layer on its own, as a layer index, a vendoring project or
yocto-check-layer sees it: copied alone to a temporary directory, it refers
to nothing outside that directory except through the documented in-tree
override (QCOM_SCM_EXTERNALSRC, set by conf/fragments/in-tree.conf), its
recipes fetch the project's repository at a fixed commit, and the static
rules of yocto-check-layer hold on the copy."""

import re
import shutil
import subprocess
import textwrap
import tomllib

import pytest
from layer_paths import LAYER, REPO

# The one place that may point outside the layer: the in-tree override.
OVERRIDE = "conf/fragments/in-tree.conf"
SOURCE_CLASS = "classes-recipe/qcom_scm_source.bbclass"
TEXT_SUFFIXES = {".bb", ".bbappend", ".bbclass", ".inc", ".conf", ".cfg", ".py", ".md"}
METADATA_SUFFIXES = {".bb", ".bbappend", ".bbclass", ".inc", ".conf"}
# A path that leaves the directory it is resolved from, the layer's parent
# taken from LAYERDIR, or (in build metadata; the oeqa cases name paths on the
# target) an absolute path to a build host's directories.
ESCAPES = [
    (
        re.compile(r"os\.path\.dirname\([^)]*LAYERDIR"),
        "the layer's parent directory",
        TEXT_SUFFIXES,
    ),
    (re.compile(r"\$\{(?:QCOM_SCM_)?LAYERDIR\}/\.\."), "a path above the layer", TEXT_SUFFIXES),
    (re.compile(r"\$\{QCOM_SCM_REPODIR\}"), "the repository around the layer", METADATA_SUFFIXES),
    (
        re.compile(r"(?<![\w$}.])/(?:home|work|tmp|root|srv|opt|mnt)/"),
        "an absolute host path",
        METADATA_SUFFIXES,
    ),
]
RELATIVE = re.compile(
    r"(?:\$\{(?:THISDIR|LAYERDIR|QCOM_SCM_LAYERDIR|FILE_DIRNAME)\}/)?(?:\.\./)+[\w./-]*"
)


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    top = tmp_path_factory.mktemp("alone")
    copy = top / "meta-qcom-scm"
    shutil.copytree(LAYER, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return copy


def text_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)


def escapes(root):
    """(file, line, what) for every reference that leaves root."""
    found = []
    for path in text_files(root):
        rel = str(path.relative_to(root))
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for pattern, what, suffixes in ESCAPES:
                if path.suffix in suffixes and pattern.search(line):
                    found.append((rel, number, what))
            for m in RELATIVE.finditer(line):
                token = m.group(0)
                base = path.parent
                if token.startswith("${") and "LAYERDIR" in token:
                    base = root
                target = (base / token.split("}/", 1)[-1]).resolve()
                if not target.is_relative_to(root.resolve()):
                    found.append((rel, number, f"{token} leaves the layer"))
    return found


def test_copy_refers_to_nothing_outside_but_the_override(alone):
    found = escapes(alone)
    assert [(f, what) for f, _, what in found] == [(OVERRIDE, "the layer's parent directory")], (
        found
    )


def test_override_is_set_in_one_place(alone):
    """Only the fragment sets QCOM_SCM_EXTERNALSRC; the class gives it an empty default."""
    setters = []
    for path in text_files(alone):
        for line in path.read_text().splitlines():
            if re.match(r"QCOM_SCM_EXTERNALSRC(:\S+)?\s*(\?\?=|\?=|:=|=|\+=)", line):
                setters.append((str(path.relative_to(alone)), line.split("=", 1)[1].strip()))
    assert setters == [
        (SOURCE_CLASS, '""'),
        (OVERRIDE, "\"${@os.path.dirname(d.getVar('QCOM_SCM_LAYERDIR'))}\""),
    ]


def source_functions():
    """qcom_scm_src_uri() of the class, runnable with a stand-in datastore."""
    text = (LAYER / SOURCE_CLASS).read_text()
    m = re.search(r"^def qcom_scm_src_uri\(d\):\n(?:(?:    .*)?\n)+", text, re.M)
    assert m, "def qcom_scm_src_uri(d) not found"

    class Fatal(Exception):
        pass

    def fatal(msg):
        raise Fatal(msg)

    namespace = {"bb": type("bb", (), {"fatal": staticmethod(fatal)})}
    exec(compile(textwrap.dedent(m.group(0)), SOURCE_CLASS, "exec"), namespace)
    return namespace["qcom_scm_src_uri"], Fatal


def class_default(name):
    text = (LAYER / SOURCE_CLASS).read_text()
    return re.search(rf'^{name} \?\?= "([^"]*)"$', text, re.M).group(1)


class D(dict):
    def getVar(self, name):
        return self.get(name)


def source_recipes(root):
    recipes = {}
    for path in sorted(root.rglob("*.bb")):
        text = path.read_text()
        m = re.search(r'^QCOM_SCM_SOURCE_PATHS = "([^"]*)"$', text, re.M)
        if m:
            recipes[path.name] = (text, m.group(1).split())
    return recipes


def test_recipes_from_the_repository_fetch_git_at_a_commit(alone):
    recipes = source_recipes(alone)
    assert set(recipes) == {"scm-fwupdate_git.bb", "tz-emulator_git.bb", "scm-virt-dtb_git.bb"}
    src_uri, _ = source_functions()
    uri = class_default("QCOM_SCM_GIT_URI")
    srcrev = class_default("QCOM_SCM_SRCREV")
    assert uri == "git://github.com/meta-qcom-scm/meta-qcom-scm.git;protocol=https;branch=main"
    assert re.fullmatch(r"[0-9a-f]{40}", srcrev)
    for name, (text, paths) in recipes.items():
        assert re.search(r"^inherit qcom_scm_source$", text, re.M), name
        assert re.search(r'^PV = "[\d.]+\+git"$', text, re.M), f"{name}: PV is not <version>+git"
        assert re.search(r'^S = "\$\{QCOM_SCM_S\}[\w/-]*"$', text, re.M), name
        default = src_uri(
            D(QCOM_SCM_EXTERNALSRC="", QCOM_SCM_GIT_URI=uri, QCOM_SCM_SOURCE_PATHS=" ".join(paths))
        )
        assert default == uri + ";destsuffix=qcom-scm", name
    for path in text_files(alone):
        assert not re.search(r"=\s*\"\$\{AUTOREV\}\"", path.read_text()), path.name
    # The project's URL is stated once.
    holders = [
        p for p in text_files(alone) if "github.com/meta-qcom-scm/meta-qcom-scm" in p.read_text()
    ]
    assert [str(p.relative_to(alone)) for p in holders if p.suffix != ".md"] == [SOURCE_CLASS]


def test_override_on_the_copy_fails_clearly(alone):
    """The in-tree fragment on a layer that is not in a checkout: a clear error."""
    src_uri, fatal = source_functions()
    _, paths = source_recipes(alone)["scm-fwupdate_git.bb"]
    with pytest.raises(fatal, match="is not a checkout of the project's repository"):
        src_uri(D(QCOM_SCM_EXTERNALSRC=str(alone.parent), QCOM_SCM_SOURCE_PATHS=" ".join(paths)))


def test_override_in_this_checkout_takes_its_files():
    src_uri, _ = source_functions()
    for name, (_, paths) in source_recipes(LAYER).items():
        uris = src_uri(D(QCOM_SCM_EXTERNALSRC=str(REPO), QCOM_SCM_SOURCE_PATHS=" ".join(paths)))
        assert uris.split() == [f"file://{p};subdir=qcom-scm" for p in paths], name
        for p in paths:
            assert (REPO / p).exists(), f"{name}: {p} missing from the repository"


def git(*args):
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
    )


def test_srcrev_is_a_commit_of_this_repository_with_the_sources():
    if git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout")
    srcrev = class_default("QCOM_SCM_SRCREV")
    if git("cat-file", "-e", f"{srcrev}^{{commit}}").returncode != 0:
        if git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
            pytest.skip("shallow clone: QCOM_SCM_SRCREV is not in it")
        pytest.fail(f"QCOM_SCM_SRCREV {srcrev} is not a commit of this repository")
    assert git("merge-base", "--is-ancestor", srcrev, "HEAD").returncode == 0, (
        "QCOM_SCM_SRCREV is not in the history of HEAD"
    )
    for name, (_, paths) in source_recipes(LAYER).items():
        for p in paths:
            assert git("cat-file", "-e", f"{srcrev}:{p}").returncode == 0, (
                f"{name}: {p} is not in QCOM_SCM_SRCREV"
            )


def test_agent_pv_follows_pyproject():
    pyproject = REPO / "agent" / "pyproject.toml"
    version = tomllib.loads(pyproject.read_text())["project"]["version"]
    text = (LAYER / "recipes-support" / "scm-fwupdate" / "scm-fwupdate_git.bb").read_text()
    assert f'PV = "{version}+git"' in text


# -- yocto-check-layer's static rules, on the copy -------------------------------


def var(text, name):
    m = re.search(rf'^{re.escape(name)}\s*(?:\?\?=|\?=|:=|=)\s*"([^"]*)"', text, re.M)
    return m.group(1) if m else None


def test_check_layer_static_rules_on_the_copy(alone):
    conf = (alone / "conf" / "layer.conf").read_text()
    # A layer: conf/layer.conf with its collection, pattern and series.
    assert re.search(r'^BBFILE_COLLECTIONS \+= "qcom-scm"$', conf, re.M)
    assert var(conf, "BBFILE_PATTERN_qcom-scm") == "^${LAYERDIR}/"
    assert var(conf, "LAYERSERIES_COMPAT_qcom-scm") == "wrynose"
    assert var(conf, "LAYERDEPENDS_qcom-scm").split() == ["core"]
    # BBFILES only below the layer.
    bbfiles = re.findall(r"\$\{LAYERDIR\}/[^\s\"\\]+", conf)
    assert bbfiles and all(".." not in b for b in bbfiles)
    # README with maintainer, patch submission and an email; SECURITY.md.
    readme = (alone / "README.md").read_text()
    assert re.search(r"(?im)^#+\s*maintainers?\b", readme)
    assert re.search(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", readme)
    assert re.search(r"(?i)\bpatch", readme)
    assert (alone / "SECURITY.md").is_file()
    # Every patch carries Upstream-Status.
    for patch in alone.rglob("*.patch"):
        assert re.search(r"^Upstream-Status: ", patch.read_text(), re.M), patch.name


def test_nothing_changes_without_the_distro_feature(alone):
    """Adding the layer: bbappends are gated one-liners, layer.conf sets no
    global that changes other recipes (the sanity handler only warns)."""
    for path in alone.rglob("*.bbappend"):
        lines = [x for x in path.read_text().splitlines() if x.strip()]
        gate = (
            r"require \$\{@bb\.utils\.contains\('DISTRO_FEATURES', 'qcom-scm', "
            r"'[\w.-]+\.inc', '', d\)\}"
        )
        assert len(lines) == 1 and re.fullmatch(gate, lines[0]), path.name
    conf = (alone / "conf" / "layer.conf").read_text()
    forbidden = r"^(DISTRO_FEATURES|MACHINE_FEATURES|IMAGE_INSTALL|PREFERRED_\w+|BBMASK)\b"
    assert not re.findall(forbidden, conf, re.M)
    assert re.findall(r"^INHERIT\b.*$", conf, re.M) == ['INHERIT += "qcom_scm_sanity"']
    sanity = (alone / "classes-global" / "qcom_scm_sanity.bbclass").read_text()
    # An event handler, no task and no variable other recipes read.
    assert "addtask" not in sanity and re.search(
        r"^addhandler qcom_scm_feature_check$", sanity, re.M
    )
    assert not re.findall(r"^[A-Z][A-Z0-9_]*(?::\S+)?\s*(?:\?\?=|\?=|:=|\+=|=)", sanity, re.M)
