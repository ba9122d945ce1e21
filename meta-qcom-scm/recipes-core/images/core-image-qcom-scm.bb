SUMMARY = "A console image with the SCM firmware update agent"
DESCRIPTION = "core-image-minimal plus scm-fwupdate, mtd-utils and an ssh \
               server, and a signed firmware bundle built next to it \
               (classes/scm-fwupdate-bundle.bbclass)."
SECTION = "images"
LICENSE = "MIT"

inherit core-image features_check scm-fwupdate-bundle

REQUIRED_DISTRO_FEATURES = "qcom-scm systemd"

IMAGE_FEATURES += "ssh-server-dropbear"

IMAGE_INSTALL = "\
    ${CORE_IMAGE_EXTRA_INSTALL} \
    packagegroup-core-boot \
    packagegroup-qcom-scm \
    scm-fwupdate-keys \
"

# The emulated board: bundle the next firmware version that scm-nor-image
# wrote (an A/B slot group, a primary/_BACKUP pair ...), signed with the
# DEVELOPMENT-ONLY key its keyring accepts.
SCM_BUNDLE_IMAGES:qemuarm64-scm ?= "\
    uefisecapp:scm-fw/uefisecapp.bin \
    XBL_CONFIG:scm-fw/XBL_CONFIG.bin \
"
SCM_BUNDLE_DEPENDS:qemuarm64-scm ?= "scm-nor-image:do_deploy"
