# qcom_scm_bundle.bbclass: a recipe that builds one signed scm-fwupdate
# firmware bundle (the shape of meta-rauc's bundle.bbclass: the bundle is a
# recipe of its own, not a task of an image). Example:
# recipes-core/bundles/core-bundle-qcom-scm.bb.
#
#   inherit qcom_scm_bundle
#   QCOM_SCM_BUNDLE_IMAGES = "uefisecapp:my-fw/uefisec.mbn UEFI:my-fw/uefi.elf"
#   QCOM_SCM_BUNDLE_DEPENDS = "my-firmware:do_deploy"
#
#   QCOM_SCM_BUNDLE_IMAGES     space-separated "target:file" pairs, in install
#                              order; "target" is a partition name or a slot
#                              group (e.g. "uefisecapp" for uefisecapp_a/_b,
#                              "UEFI" for UEFI/UEFI_BACKUP); files are relative
#                              to DEPLOY_DIR_IMAGE (or absolute)
#   QCOM_SCM_BUNDLE_DEPENDS    tasks that deploy those files
#   QCOM_SCM_BUNDLE_COMPATIBLE must equal the device's "compatible" in
#                              /etc/scm-fwupdate.yaml (default: MACHINE)
#   QCOM_SCM_BUNDLE_VERSION    bundle version (default: DISTRO_VERSION)
#   QCOM_SCM_BUNDLE_DESCRIPTION optional text recorded in the manifest
#   QCOM_SCM_BUNDLE_KEY        ed25519 private key (PEM) used to sign. Default:
#                              the layer's public DEVELOPMENT-ONLY key, with a
#                              warning on every machine but qemuarm64-scm.
#   QCOM_SCM_BUNDLE_NAME       file name in DEPLOY_DIR_IMAGE
#                              (default: <recipe>-<machine>.scmfw)
#
# do_bundle runs "scm-fwupdate bundle create --key --compatible --version
# --image TARGET=FILE ... --output" from scm-fwupdate-native; bundles are
# deterministic (same inputs and key, same bytes). do_deploy puts the bundle
# in DEPLOY_DIR_IMAGE.

LICENSE ?= "MIT"

QCOM_SCM_BUNDLE_IMAGES ??= ""
QCOM_SCM_BUNDLE_DEPENDS ??= ""
QCOM_SCM_BUNDLE_COMPATIBLE ??= "${MACHINE}"
QCOM_SCM_BUNDLE_VERSION ??= "${DISTRO_VERSION}"
QCOM_SCM_BUNDLE_DEV_KEY = "${QCOM_SCM_LAYERDIR}/files/dev-keys/DEVELOPMENT-ONLY-ed25519.pem"
QCOM_SCM_BUNDLE_KEY ??= "${QCOM_SCM_BUNDLE_DEV_KEY}"
QCOM_SCM_BUNDLE_DESCRIPTION ??= ""
QCOM_SCM_BUNDLE_NAME ??= "${PN}-${MACHINE}.scmfw"

DEPENDS += "scm-fwupdate-native python3-native python3-cryptography-native python3-pyyaml-native"
INHIBIT_DEFAULT_DEPS = "1"
S = "${UNPACKDIR}"
B = "${WORKDIR}/bundle"
# A bundle holds the firmware of one machine; nothing is packaged.
PACKAGE_ARCH = "${MACHINE_ARCH}"

inherit deploy nopackages

do_configure[noexec] = "1"
do_compile[noexec] = "1"
do_install[noexec] = "1"
deltask do_populate_sysroot

python do_bundle() {
    import os
    import subprocess

    images = (d.getVar('QCOM_SCM_BUNDLE_IMAGES') or '').split()
    if not images:
        bb.fatal('qcom_scm_bundle: QCOM_SCM_BUNDLE_IMAGES is empty: no firmware to bundle for %s'
                 % d.getVar('MACHINE'))
    key = d.getVar('QCOM_SCM_BUNDLE_KEY')
    if not os.path.exists(key):
        bb.fatal('qcom_scm_bundle: QCOM_SCM_BUNDLE_KEY %s does not exist' % key)
    if os.path.realpath(key) == os.path.realpath(d.getVar('QCOM_SCM_BUNDLE_DEV_KEY')) \
            and d.getVar('MACHINE') != 'qemuarm64-scm':
        bb.warn('qcom_scm_bundle: signing with the public DEVELOPMENT-ONLY key; '
                'set QCOM_SCM_BUNDLE_KEY to your own key for %s' % d.getVar('MACHINE'))

    deploy = d.getVar('DEPLOY_DIR_IMAGE')
    args = ['--compatible', d.getVar('QCOM_SCM_BUNDLE_COMPATIBLE'),
            '--version', d.getVar('QCOM_SCM_BUNDLE_VERSION')]
    if d.getVar('QCOM_SCM_BUNDLE_DESCRIPTION'):
        args += ['--description', d.getVar('QCOM_SCM_BUNDLE_DESCRIPTION')]
    for item in images:
        target, sep, path = item.partition(':')
        if not sep or not target or not path:
            bb.fatal('qcom_scm_bundle: "%s" in QCOM_SCM_BUNDLE_IMAGES is not target:file' % item)
        src = path if os.path.isabs(path) else os.path.join(deploy, path)
        if not os.path.exists(src):
            bb.fatal('qcom_scm_bundle: %s (for %s) not found; is it in QCOM_SCM_BUNDLE_DEPENDS?'
                     % (src, target))
        args += ['--image', '%s=%s' % (target, src)]

    out = os.path.join(d.getVar('B'), d.getVar('QCOM_SCM_BUNDLE_NAME'))
    # Through python3-native: the script's shebang (nativepython3) is only on
    # PATH in recipes that inherit python3native.
    native = d.getVar('STAGING_BINDIR_NATIVE')
    cmd = [os.path.join(native, 'python3-native', 'python3'),
           os.path.join(native, 'scm-fwupdate'), 'bundle', 'create', '--key', key]
    cmd += args + ['--output', out]
    bb.note('Running %s' % ' '.join(cmd))
    try:
        subprocess.check_output(cmd, cwd=d.getVar('B'), stderr=subprocess.STDOUT)
    except subprocess.CalledProcessError as e:
        bb.fatal('scm-fwupdate bundle create failed:\n%s' % e.output.decode(errors='replace'))
}
# The key is hashed by content (file-checksums), not by its absolute path.
do_bundle[vardepsexclude] += "QCOM_SCM_BUNDLE_KEY QCOM_SCM_BUNDLE_DEV_KEY"
do_bundle[file-checksums] += "${QCOM_SCM_BUNDLE_KEY}:True"
do_bundle[depends] += "${QCOM_SCM_BUNDLE_DEPENDS}"
do_bundle[cleandirs] = "${B}"
do_bundle[doc] = "Builds a signed scm-fwupdate bundle from QCOM_SCM_BUNDLE_IMAGES"
addtask bundle after do_configure before do_deploy

do_deploy() {
    install -m 0644 ${B}/${QCOM_SCM_BUNDLE_NAME} ${DEPLOYDIR}/${QCOM_SCM_BUNDLE_NAME}
}
addtask deploy after do_bundle before do_build
