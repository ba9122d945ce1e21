# qcom_scm_source.bbclass: where the recipes that build this project's own
# software (the agent, tz-emulator, its device tree overlays) take it from.
#
# A recipe names the paths of the project's repository it needs and finds
# them under ${QCOM_SCM_S}, laid out as in the repository:
#
#   inherit qcom_scm_source
#   PV = "0.1.0+git"
#   QCOM_SCM_SOURCE_PATHS = "agent tests/agent"
#   S = "${QCOM_SCM_S}"
#
# Default: the project's canonical repository, QCOM_SCM_GIT_URI, at
# QCOM_SCM_SRCREV (a fixed commit, no AUTOREV; PKGV gets "+git" and the
# commit appended). The layer needs nothing outside its own directory.
#
# In-tree development build (opt-in, EXTERNALSRC-style for all these recipes
# at once):
#
#   QCOM_SCM_EXTERNALSRC = "/path/to/a/checkout/of/the/repository"
#
# The recipes then fetch QCOM_SCM_SOURCE_PATHS from that checkout with
# file:// (same layout in ${QCOM_SCM_S}): the task signatures follow the
# content of those files and nothing is built in, or written to, the
# checkout. The configuration fragment qcom-scm/in-tree sets it to the
# checkout the layer lives in; this repository's kas/qemuarm64-scm.yml and
# its bitbake-setup configuration for that board enable the fragment.

# The project's canonical repository and the revision the layer builds.
QCOM_SCM_GIT_URI ??= "git://github.com/meta-qcom-scm/meta-qcom-scm.git;protocol=https;branch=main"
QCOM_SCM_SRCREV ??= "8126db6c4a502a7488ddb9f94b9ce93cb731fb81"
QCOM_SCM_EXTERNALSRC ??= ""
# Task signatures depend on whether the in-tree build is on, not on where the
# checkout is (the file:// checksums follow the content).
QCOM_SCM_EXTERNALSRC[vardepvalue] = "${@'in-tree' if d.getVar('QCOM_SCM_EXTERNALSRC') else ''}"
QCOM_SCM_SOURCE_PATHS ??= ""
QCOM_SCM_S = "${UNPACKDIR}/qcom-scm"

SRC_URI = "${@qcom_scm_src_uri(d)}"
SRCREV = "${QCOM_SCM_SRCREV}"
# The checkout is searched for the file:// paths only in the in-tree build;
# FILESEXTRAPATHS in a class (not a bbappend) is how the recipes find it.
# nooelint: oelint.vars.fileextrapaths, oelint.vars.outofcontext
FILESEXTRAPATHS:prepend := "${@(d.getVar('QCOM_SCM_EXTERNALSRC') + ':') if d.getVar('QCOM_SCM_EXTERNALSRC') else ''}"

def qcom_scm_src_uri(d):
    import os
    srcdir = d.getVar('QCOM_SCM_EXTERNALSRC')
    if not srcdir:
        return d.getVar('QCOM_SCM_GIT_URI') + ';destsuffix=qcom-scm'
    paths = d.getVar('QCOM_SCM_SOURCE_PATHS').split()
    missing = [p for p in paths if not os.path.exists(os.path.join(srcdir, p))]
    if missing:
        bb.fatal('QCOM_SCM_EXTERNALSRC = "%s" is not a checkout of the project\'s repository '
                 '(no %s): point it at one, or unset it to build QCOM_SCM_SRCREV'
                 % (srcdir, ', '.join(missing)))
    return ' '.join('file://%s;subdir=qcom-scm' % p for p in paths)

