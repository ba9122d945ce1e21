# qcom_scm_sanity.bbclass: inherited by conf/layer.conf. Adding the layer
# changes nothing until DISTRO_FEATURES has "qcom-scm"; say so when it does
# not (meta-rauc's sanity-meta-rauc.bbclass does the same for "rauc").
# QCOM_SCM_SKIP_FEATURE_CHECK = "1" silences the warning.

addhandler qcom_scm_feature_check
qcom_scm_feature_check[eventmask] = "bb.event.SanityCheck"
qcom_scm_feature_check[doc] = "Warns when DISTRO_FEATURES lacks qcom-scm"
python qcom_scm_feature_check() {
    if e.data.getVar('QCOM_SCM_SKIP_FEATURE_CHECK') == '1':
        return
    if 'qcom-scm' not in (e.data.getVar('DISTRO_FEATURES') or '').split():
        bb.warn('You have included the meta-qcom-scm layer, but "qcom-scm" is not in '
                'DISTRO_FEATURES: the layer changes nothing. Add '
                'DISTRO_FEATURES:append = " qcom-scm" (see the layer\'s README.md), or set '
                'QCOM_SCM_SKIP_FEATURE_CHECK = "1".')
}
