SUMMARY = "Power-fail-safe A/B boot firmware updates on Qualcomm SCM-backed SPI-NOR"
DESCRIPTION = "scm-fwupdate installs signed firmware bundles into the boot \
               SPI-NOR that Qualcomm TrustZone owns (reached through the \
               qcom_scm_storage MTD driver): A/B and primary/_BACKUP partitions, \
               resume after power loss, mark-good after a successful boot."
SECTION = "devel/python"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

# The agent (agent/) and its tests (tests/agent/) from the project's
# repository, or from a checkout with QCOM_SCM_EXTERNALSRC
# (classes-recipe/qcom_scm_source.bbclass). PV follows agent/pyproject.toml.
inherit qcom_scm_source
PV = "0.1.0+git"
QCOM_SCM_SOURCE_PATHS = "agent tests/agent"
S = "${QCOM_SCM_S}"
PEP517_SOURCE_PATH = "${S}/agent"

inherit python_setuptools_build_meta systemd ptest-python-pytest

# The unit tests, shipped as ${PN}-ptest.
PTEST_PYTEST_DIR = "tests/agent"

do_install:append:class-target() {
    install -d ${D}${systemd_system_unitdir}
    for unit in scm-fwupdate-resume.service scm-fwupdate-mark-good.service \
                scm-fwupdate-inbox.path scm-fwupdate-inbox.service; do
        install -m 0644 ${S}/agent/systemd/$unit ${D}${systemd_system_unitdir}/$unit
    done
    install -d ${D}${sysconfdir}
    install -m 0644 ${S}/agent/etc/scm-fwupdate.yaml ${D}${sysconfdir}/scm-fwupdate.yaml
}

FILES:${PN} += "${systemd_system_unitdir}"
CONFFILES:${PN} = "${sysconfdir}/scm-fwupdate.yaml"

RDEPENDS:${PN} = "\
    mtd-utils \
    python3-core \
    python3-cryptography \
    python3-pyyaml \
"
RDEPENDS:${PN}:class-native = "\
    python3-cryptography-native \
    python3-pyyaml-native \
"
RDEPENDS:${PN}-ptest += "python3-hypothesis"

SYSTEMD_SERVICE:${PN} = "\
    scm-fwupdate-inbox.path \
    scm-fwupdate-mark-good.service \
    scm-fwupdate-resume.service \
"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

# scm-fwupdate-native provides the NOR image generator and "bundle create"
# for recipes-bsp/scm-nor-image and classes-recipe/qcom_scm_bundle.bbclass.
BBCLASSEXTEND = "native"
