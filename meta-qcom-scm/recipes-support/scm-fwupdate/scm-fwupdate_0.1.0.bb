SUMMARY = "Power-fail-safe A/B boot firmware updates on Qualcomm SCM-backed SPI-NOR"
DESCRIPTION = "scm-fwupdate installs signed firmware bundles into the boot \
               SPI-NOR that Qualcomm TrustZone owns (reached through the \
               qcom_scm_storage MTD driver): A/B and primary/_BACKUP partitions, \
               resume after power loss, mark-good after a successful boot."
SECTION = "devel/python"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

# Source: the agent lives in the same repository as this layer (agent/ and
# tests/agent/ next to meta-qcom-scm/). QCOM_SCM_REPODIR is set in
# conf/layer.conf, so a build always packages the agent of the checkout the
# layer comes from: no SRCREV to bump, and the fetch signature follows the
# content of those files (file-checksums). A layer used outside this
# repository points SRC_URI at a git tag instead, e.g. in a bbappend:
#   SRC_URI = "git://example.com/meta-qcom-scm.git;protocol=https;branch=main;subdir=src"
#   SRCREV = "<commit>"
#   S = "${UNPACKDIR}/src/agent"
# FILESEXTRAPATHS in a recipe (not a bbappend) is deliberate: it is how the
# recipe finds the repository it ships with.
# nooelint: oelint.vars.fileextrapaths, oelint.vars.outofcontext
FILESEXTRAPATHS:prepend := "${QCOM_SCM_REPODIR}:"
SRC_URI = "\
    file://agent \
    file://tests/agent;subdir=agent \
"
S = "${UNPACKDIR}/agent"

inherit python_setuptools_build_meta systemd ptest-python-pytest

# The unit tests, shipped as ${PN}-ptest (unpacked to ${S}/tests/agent).
PTEST_PYTEST_DIR = "tests/agent"

do_install:append:class-target() {
    install -d ${D}${systemd_system_unitdir}
    for unit in scm-fwupdate-resume.service scm-fwupdate-mark-good.service \
                scm-fwupdate-inbox.path scm-fwupdate-inbox.service; do
        install -m 0644 ${S}/systemd/$unit ${D}${systemd_system_unitdir}/$unit
    done
    install -d ${D}${sysconfdir}
    install -m 0644 ${S}/etc/scm-fwupdate.yaml ${D}${sysconfdir}/scm-fwupdate.yaml
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
