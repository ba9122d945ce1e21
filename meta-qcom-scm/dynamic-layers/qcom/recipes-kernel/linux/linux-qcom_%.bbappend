require ${@bb.utils.contains('DISTRO_FEATURES', 'qcom-scm', 'linux-qcom-qcom-scm.inc', '', d)}
