SUMMARY = "Qualcomm SCM SPI-NOR firmware update support"
DESCRIPTION = "The scm-fwupdate agent, mtd-utils and the write opt-in \
               configuration of the qcom_scm_storage driver."
SECTION = "base"
LICENSE = "MIT"

inherit packagegroup

RDEPENDS:${PN} = "\
    mtd-utils \
    qcom-scm-storage-config \
    scm-fwupdate \
"
