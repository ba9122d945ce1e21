SUMMARY = "Device tree of qemuarm64-scm: QEMU's virt tree with SCM and SCMI overlays"
DESCRIPTION = "Dumps the device tree QEMU generates for the machine's QB_* \
               settings and applies tz-emulator/dts/qcom-scm.dtso (the \
               /firmware/scm node, psci, and what secure=on needs) and \
               tz-emulator/dts/scmi-optee.dtso (OP-TEE, SCMI over OP-TEE, \
               their shared memory). runqemu passes the result with -dtb (QB_DTB)."
SECTION = "bsp"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

DEPENDS = "dtc-native qemu-system-native"

# The overlays in tz-emulator/dts/ of the project's repository
# (classes-recipe/qcom_scm_source.bbclass).
inherit qcom_scm_source
PV = "1.0+git"
QCOM_SCM_SOURCE_PATHS = "tz-emulator/dts/qcom-scm.dtso tz-emulator/dts/scmi-optee.dtso"
S = "${QCOM_SCM_S}/tz-emulator/dts"

COMPATIBLE_MACHINE = "qemuarm64-scm"
# Built for, and from the settings of, one machine.
PACKAGE_ARCH = "${MACHINE_ARCH}"

inherit deploy nopackages

do_configure[noexec] = "1"

# The tree depends on the CPU, the CPU count and the RAM size: dump it with
# the options runqemu uses (QB_MACHINE, QB_CPU, QB_SMP, QB_MEM).
do_compile() {
    qemu-system-aarch64 ${QB_MACHINE},dumpdtb=${B}/qemu-virt.dtb \
        ${QB_CPU} ${QB_SMP} ${QB_MEM} -nographic -nodefaults
    dtc -@ -I dts -O dtb -o ${B}/qcom-scm.dtbo ${S}/qcom-scm.dtso
    dtc -@ -I dts -O dtb -o ${B}/scmi-optee.dtbo ${S}/scmi-optee.dtso
    fdtoverlay -i ${B}/qemu-virt.dtb -o ${B}/${MACHINE}.dtb \
        ${B}/qcom-scm.dtbo ${B}/scmi-optee.dtbo
}

do_deploy() {
    install -m 0644 ${B}/${MACHINE}.dtb ${DEPLOYDIR}/${MACHINE}.dtb
}

addtask deploy after do_compile before do_build
