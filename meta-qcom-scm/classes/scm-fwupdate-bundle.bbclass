# nooelint: oelint.bbclass.underscores
# (the dash in the class name is the layer's documented interface,
# "inherit scm-fwupdate-bundle", kept for compatibility)
#
# scm-fwupdate-bundle.bbclass: build a signed scm-fwupdate firmware bundle
# from firmware images at image build time.
#
# Inherit it in an image recipe (or add it to IMAGE_CLASSES) and set:
#
#   SCM_BUNDLE_IMAGES     space-separated "target:file" pairs, in install
#                         order; "target" is a partition name or a slot group
#                         (e.g. "uefisecapp" for uefisecapp_a/_b, "UEFI" for
#                         UEFI/UEFI_BACKUP); files are relative to
#                         DEPLOY_DIR_IMAGE (or absolute).
#   SCM_BUNDLE_DEPENDS    tasks that deploy those files, e.g.
#                         "scm-nor-image:do_deploy"
#   SCM_BUNDLE_COMPATIBLE must equal the device's "compatible" in
#                         /etc/scm-fwupdate.yaml (default: MACHINE)
#   SCM_BUNDLE_VERSION    bundle version (default: DISTRO_VERSION)
#   SCM_BUNDLE_DESCRIPTION optional text recorded in the manifest
#   SCM_BUNDLE_KEY        ed25519 private key (PEM) used to sign. Default:
#                         the layer's public DEVELOPMENT-ONLY key, with a
#                         warning on every machine but qemuarm64-scm.
#   SCM_BUNDLE_NAME       output name in DEPLOY_DIR_IMAGE
#
# The bundle is written by "scm-fwupdate bundle create --key --compatible
# --version --image TARGET=FILE ... --output" from scm-fwupdate-native;
# bundles are deterministic (same inputs and key, same bytes).

SCM_BUNDLE_IMAGES ??= ""
SCM_BUNDLE_DEPENDS ??= ""
SCM_BUNDLE_COMPATIBLE ??= "${MACHINE}"
SCM_BUNDLE_VERSION ??= "${DISTRO_VERSION}"
SCM_BUNDLE_DEV_KEY = "${QCOM_SCM_LAYERDIR}/files/dev-keys/DEVELOPMENT-ONLY-ed25519.pem"
SCM_BUNDLE_KEY ??= "${SCM_BUNDLE_DEV_KEY}"
SCM_BUNDLE_DESCRIPTION ??= ""
SCM_BUNDLE_NAME ??= "${IMAGE_LINK_NAME}.scmfw"

SCM_BUNDLE_WORKDIR = "${WORKDIR}/scm-bundle"

DEPENDS += "scm-fwupdate-native python3-native python3-pyyaml-native python3-cryptography-native"

python do_scm_bundle() {
    import os
    import subprocess

    # Stage scm-fwupdate-native (do_scm_bundle[depends]) into the sysroot.
    bb.build.exec_func('extend_recipe_sysroot', d)

    images = (d.getVar('SCM_BUNDLE_IMAGES') or '').split()
    if not images:
        # e.g. a real board whose firmware comes from the vendor: nothing to pack.
        bb.note('scm-fwupdate-bundle: SCM_BUNDLE_IMAGES is empty, no bundle for %s'
                % d.getVar('MACHINE'))
        return

    key = d.getVar('SCM_BUNDLE_KEY')
    if not os.path.exists(key):
        bb.fatal('scm-fwupdate-bundle: SCM_BUNDLE_KEY %s does not exist' % key)
    if os.path.realpath(key) == os.path.realpath(d.getVar('SCM_BUNDLE_DEV_KEY')) \
            and d.getVar('MACHINE') != 'qemuarm64-scm':
        bb.warn('scm-fwupdate-bundle: signing with the public DEVELOPMENT-ONLY key; '
                'set SCM_BUNDLE_KEY to your own key for %s' % d.getVar('MACHINE'))

    deploy = d.getVar('DEPLOY_DIR_IMAGE')
    args = ['--compatible', d.getVar('SCM_BUNDLE_COMPATIBLE'),
            '--version', d.getVar('SCM_BUNDLE_VERSION')]
    if d.getVar('SCM_BUNDLE_DESCRIPTION'):
        args += ['--description', d.getVar('SCM_BUNDLE_DESCRIPTION')]
    for item in images:
        target, sep, path = item.partition(':')
        if not sep or not target or not path:
            bb.fatal('scm-fwupdate-bundle: "%s" in SCM_BUNDLE_IMAGES is not target:file' % item)
        src = path if os.path.isabs(path) else os.path.join(deploy, path)
        if not os.path.exists(src):
            bb.fatal('scm-fwupdate-bundle: %s (for %s) not found; is it in SCM_BUNDLE_DEPENDS?'
                     % (src, target))
        args += ['--image', '%s=%s' % (target, src)]

    outdir = d.getVar('IMGDEPLOYDIR')
    bb.utils.mkdirhier(outdir)
    out = os.path.join(outdir, d.getVar('SCM_BUNDLE_NAME'))
    # Through python3-native: the script's shebang (nativepython3) is only on
    # PATH in recipes that inherit python3native.
    native = d.getVar('STAGING_BINDIR_NATIVE')
    cmd = [os.path.join(native, 'python3-native', 'python3'),
           os.path.join(native, 'scm-fwupdate'), 'bundle', 'create', '--key', key]
    cmd += args + ['--output', out]
    bb.note('Running %s' % ' '.join(cmd))
    try:
        subprocess.check_output(cmd, cwd=d.getVar('SCM_BUNDLE_WORKDIR'), stderr=subprocess.STDOUT)
    except subprocess.CalledProcessError as e:
        bb.fatal('scm-fwupdate bundle create failed:\n%s' % e.output.decode(errors='replace'))
}
# The key is hashed by content (file-checksums), not by its absolute path.
do_scm_bundle[vardepsexclude] += "SCM_BUNDLE_KEY SCM_BUNDLE_DEV_KEY"
do_scm_bundle[file-checksums] += "${SCM_BUNDLE_KEY}:True"
do_scm_bundle[depends] += "scm-fwupdate-native:do_populate_sysroot ${SCM_BUNDLE_DEPENDS}"
do_scm_bundle[cleandirs] = "${SCM_BUNDLE_WORKDIR}"
do_scm_bundle[doc] = "Builds a signed scm-fwupdate bundle from SCM_BUNDLE_IMAGES"
# IMGDEPLOYDIR is copied to DEPLOY_DIR_IMAGE by do_image_complete.
addtask scm_bundle after do_image before do_image_complete
