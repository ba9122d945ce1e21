require ${@bb.utils.contains('DISTRO_FEATURES', 'qcom-scm', 'linux-yocto-qcom-scm.inc', '', d)}
