SUMMARY = "A console image with the SCM firmware update agent"
DESCRIPTION = "core-image-minimal plus scm-fwupdate, mtd-utils and an ssh \
               server. Firmware bundles are recipes of their own \
               (recipes-core/bundles/, classes-recipe/qcom_scm_bundle.bbclass)."
SECTION = "images"
LICENSE = "MIT"

inherit core-image features_check

REQUIRED_DISTRO_FEATURES = "qcom-scm systemd"

IMAGE_FEATURES += "ssh-server-dropbear"

IMAGE_INSTALL = "\
    ${CORE_IMAGE_EXTRA_INSTALL} \
    packagegroup-core-boot \
    packagegroup-qcom-scm \
    scm-fwupdate-keys \
"
