SUMMARY = "Emulated Qualcomm TrustZone (EL3 firmware) for QEMU virt,secure=on"
DESCRIPTION = "Bare-metal EL3 firmware that answers the Qualcomm SCM calls \
               (storage service for the SPI-NOR, kept in a host file through \
               semihosting) and PSCI, then enters Linux at EL1. QEMU loads it \
               with -bios (QB_DEFAULT_BIOS of qemuarm64-scm)."
SECTION = "bootloaders"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

# tz-emulator/ of the project's repository (classes-recipe/qcom_scm_source.bbclass).
# Only the sources: a developer's tz-emulator/build/ is neither fetched in
# the in-tree build nor part of the signature.
inherit qcom_scm_source
PV = "0.1+git"
QCOM_SCM_SOURCE_PATHS = "tz-emulator/Makefile tz-emulator/payload tz-emulator/src"
S = "${QCOM_SCM_S}/tz-emulator"
B = "${WORKDIR}/build"

COMPATIBLE_MACHINE = "qemuarm64-scm"
# Built for, and from the settings of, one machine.
PACKAGE_ARCH = "${MACHINE_ARCH}"

inherit deploy nopackages

QCOM_SCM_TZ_EMULATOR_BINARY ?= "tz-emulator.bin"

# Bare metal: the target cross compiler is used without the C library, so
# OE's hardening and sysroot flags stay out.
# tz-emulator/Makefile sets its own CFLAGS (freestanding, -mgeneral-regs-only,
# -mstrict-align ...) with ":=" and builds into $(BUILD).
do_compile() {
    unset CFLAGS CPPFLAGS CXXFLAGS LDFLAGS
    oe_runmake -C ${S} CROSS_COMPILE=${TARGET_PREFIX} BUILD=${B} ${B}/${QCOM_SCM_TZ_EMULATOR_BINARY}
}

do_deploy() {
    install -m 0644 ${B}/${QCOM_SCM_TZ_EMULATOR_BINARY} ${DEPLOYDIR}/${QCOM_SCM_TZ_EMULATOR_BINARY}
}

addtask deploy after do_compile before do_build
