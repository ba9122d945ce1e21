SUMMARY = "Write access opt-in for the Qualcomm SCM storage MTD driver"
DESCRIPTION = "The qcom_scm_storage driver is read-only unless loaded with \
               allow_write=1: a bricked boot SPI-NOR can only be recovered with \
               the vendor's programmer. With QCOM_SCM_STORAGE_ALLOW_WRITE = 1 this \
               package installs /etc/modprobe.d/qcom-scm-storage.conf setting it; \
               otherwise it is empty."
SECTION = "kernel/modules"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

# Nothing to fetch: the file is generated from QCOM_SCM_STORAGE_ALLOW_WRITE.
SRC_URI = ""
S = "${UNPACKDIR}"

inherit allarch

# Read-only stays the default. Set to "1" in local.conf or the distro to let
# the update agent write the NOR.
QCOM_SCM_STORAGE_ALLOW_WRITE ??= "0"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    if [ "${QCOM_SCM_STORAGE_ALLOW_WRITE}" = "1" ]; then
        install -d ${D}${sysconfdir}/modprobe.d
        printf '%s\n' \
            '# Installed because QCOM_SCM_STORAGE_ALLOW_WRITE = "1" (meta-qcom-scm).' \
            'options qcom_scm_storage allow_write=1' \
            > ${D}${sysconfdir}/modprobe.d/qcom-scm-storage.conf
    fi
}

ALLOW_EMPTY:${PN} = "1"
# Only the modprobe.d file: nothing else is installed.
# nooelint: oelint.var.filesoverride
FILES:${PN} = "${sysconfdir}/modprobe.d/qcom-scm-storage.conf"
CONFFILES:${PN} = "${sysconfdir}/modprobe.d/qcom-scm-storage.conf"
