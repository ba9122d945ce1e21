SUMMARY = "Factory image of the emulated 32 MiB SPI-NOR (Qualcomm-like GPT)"
DESCRIPTION = "Generates the NOR store of qemuarm64-scm with \
               scm-fwupdate-native's image generator (4096-byte sector GPT, \
               primary and _BACKUP pairs, _a/_b slot groups, firmware version \
               QCOM_SCM_NOR_FIRMWARE_VERSION) and the next firmware version, one \
               file per target, that a qcom_scm_bundle recipe packs into a \
               bundle."
SECTION = "bsp"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

DEPENDS = "python3-cryptography-native python3-pyyaml-native scm-fwupdate-native"

# Everything comes from scm-fwupdate-native.
SRC_URI = ""
S = "${UNPACKDIR}"

COMPATIBLE_MACHINE = "qemuarm64-scm"
# Built for one machine (the NOR of the emulated board).
PACKAGE_ARCH = "${MACHINE_ARCH}"

inherit python3native deploy nopackages

QCOM_SCM_NOR_IMAGE_NAME ?= "scm-nor-${MACHINE}.img"
# Firmware version written into the factory image; the files in scm-fw/ are
# version + 1.
QCOM_SCM_NOR_FIRMWARE_VERSION ?= "1"

do_configure[noexec] = "1"

do_compile() {
    rm -rf ${B}/scm-fw
    ${PYTHON} -m scm_fwupdate.imagegen --output ${B}/nor.img \
        --version ${QCOM_SCM_NOR_FIRMWARE_VERSION} --images-dir ${B}/scm-fw
}

do_deploy() {
    install -m 0644 ${B}/nor.img ${DEPLOYDIR}/${QCOM_SCM_NOR_IMAGE_NAME}
    install -d ${DEPLOYDIR}/scm-fw
    install -m 0644 ${B}/scm-fw/*.bin ${DEPLOYDIR}/scm-fw/
}

addtask deploy after do_compile before do_build
