SUMMARY = "Public keys scm-fwupdate trusts to sign firmware bundles (its keyring)"
DESCRIPTION = "Installs the ed25519 public keys listed in \
               QCOM_SCM_FWUPDATE_TRUSTED_KEYS into /etc/scm-fwupdate/keyring. Empty by \
               default: a product sets its own key; the qemuarm64-scm machine \
               trusts the public, insecure development key of this layer."
SECTION = "base"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

# The layer's development key (public, insecure: files/dev-keys/README.md).
# FILESEXTRAPATHS in a recipe is deliberate: the key directory is part of
# the layer, not of a recipe directory.
# nooelint: oelint.vars.fileextrapaths, oelint.vars.outofcontext
FILESEXTRAPATHS:prepend := "${QCOM_SCM_LAYERDIR}/files/dev-keys:"
SRC_URI = "${@' '.join('file://' + k for k in d.getVar('QCOM_SCM_FWUPDATE_TRUSTED_KEYS').split())}"

# Space-separated file names of PEM public keys, found through FILESPATH:
# a product adds its key directory with a bbappend
#   FILESEXTRAPATHS:prepend := "${THISDIR}/keys:"
# and sets QCOM_SCM_FWUPDATE_TRUSTED_KEYS = "product-ed25519.pub.pem".
QCOM_SCM_FWUPDATE_TRUSTED_KEYS ??= ""

S = "${UNPACKDIR}"

# The key list is a machine or distro choice; nothing is compiled.
PACKAGE_ARCH = "${MACHINE_ARCH}"
INHIBIT_DEFAULT_DEPS = "1"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${sysconfdir}/scm-fwupdate/keyring
    for key in ${QCOM_SCM_FWUPDATE_TRUSTED_KEYS}; do
        install -m 0644 ${UNPACKDIR}/$key ${D}${sysconfdir}/scm-fwupdate/keyring/
    done
}

ALLOW_EMPTY:${PN} = "1"
# Only the key directory: nothing else is installed.
# nooelint: oelint.var.filesoverride
FILES:${PN} = "${sysconfdir}/scm-fwupdate/keyring"
