SUMMARY = "Signed firmware bundle of the emulated board (qemuarm64-scm)"
DESCRIPTION = "The next firmware version that scm-nor-image wrote (an A/B \
               slot group and a primary/_BACKUP pair), signed with the \
               DEVELOPMENT-ONLY key the board's keyring accepts: what the \
               oeqa install cases put on the board. A product writes its own \
               bundle recipe like this one (classes-recipe/qcom_scm_bundle.bbclass)."
SECTION = "firmware"
LICENSE = "MIT"

# Nothing to fetch: the firmware comes from scm-nor-image's deploy.
SRC_URI = ""

inherit qcom_scm_bundle

COMPATIBLE_MACHINE = "qemuarm64-scm"

QCOM_SCM_BUNDLE_IMAGES ?= "\
    uefisecapp:scm-fw/uefisecapp.bin \
    XBL_CONFIG:scm-fw/XBL_CONFIG.bin \
"
QCOM_SCM_BUNDLE_DEPENDS ?= "scm-nor-image:do_deploy"
