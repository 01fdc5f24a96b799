/* User-facing text of the mini-program: zh-CN (default) and English. Plain CommonJS, no wx. */
'use strict';

var TEXT = {
  'zh-CN': {
    title: '人脸活体检测',
    loading: '正在加载…',
    intro_title: '请完成人脸动作验证',
    tip_light: '请在光线充足处，正对屏幕',
    tip_clear: '请摘下帽子、口罩和墨镜',
    tip_follow: '按照提示完成动作',
    steps_preview: '共 {total} 个动作：{list}',
    steps_unknown: '按照提示依次完成动作',
    start: '开始检测',
    starting: '正在打开摄像头…',
    calibrating: '请正对屏幕，保持不动',
    step_of: '第 {step}/{total} 步',
    seconds: '{s} 秒',
    pass_title: '验证完成',
    pass_text: '动作已完成，结果将由业务方确认',
    fail_title: '验证未通过',
    fail_timeout: '未在规定时间内完成「{action}」',
    fail_static: '画面没有变化：请本人面对摄像头完成动作，不要使用照片或录像',
    fail_mismatch: '检测到与提示不符的动作，请按提示依次完成',
    fail_calibration: '未能识别到稳定的正脸，请正对屏幕、保持不动',
    fail_expired: '检测已超时，请重新发起',
    fail_cancelled: '检测已取消',
    fail_seed: '检测未通过，请重新检测',
    retry: '重新检测',
    try_again: '重试',
    back: '返回',
    retry_manual: '请返回业务页面重新发起检测',
    err_camera_title: '无法使用摄像头',
    err_denied: '活体检测需要使用前置摄像头，请允许使用摄像头后重试。',
    err_camera: '摄像头启动失败，请关闭其他使用摄像头的应用后重试。',
    help_setting: '点击下方“打开设置”，在小程序设置中允许使用摄像头。',
    help_system: '如仍无法使用：在手机“设置 → 隐私 → 相机”（iOS）或“设置 → 应用 → 微信 → 权限”（Android）中允许微信使用相机。',
    open_setting: '打开设置',
    err_privacy_title: '需要您同意隐私保护指引',
    err_privacy: '使用摄像头前需要同意本小程序的隐私保护指引。',
    err_session_title: '无法开始检测',
    err_session: '检测链接无效或已过期，请返回重新发起。',
    err_network: '网络异常，请检查网络后重试。',
    err_config: '小程序未配置服务地址（config.js 中的 apiBase）。',
    privacy_title: '隐私保护提示',
    privacy_text: '活体检测需要使用摄像头拍摄您的面部画面，画面仅用于本次检测。请阅读并同意《隐私保护指引》后继续。',
    privacy_read: '查看《隐私保护指引》',
    privacy_agree: '同意并继续',
    privacy_refuse: '拒绝',
    hint_static: '画面没有变化，请本人面对镜头',
    hint_no_face: '未检测到人脸',
    hint_multiple_faces: '请保持单人入镜',
    hint_too_small: '请靠近一点',
    hint_too_dark: '光线太暗',
    hint_too_bright: '光线太亮',
    hint_blurred: '画面模糊，请保持稳定',
    hint_off_centre: '请将脸部移到画面中央',
    hint_look_straight: '请正对镜头',
    hint_hold_still: '请保持不动',
    hint_back_to_neutral: '请先正对镜头，保持自然表情',
    hint_network: '网络不稳定，正在重试…',
    switch_to: 'English'
  },
  en: {
    title: 'Face liveness check',
    loading: 'Loading…',
    intro_title: 'Verify with a few face actions',
    tip_light: 'Find good light and face the screen',
    tip_clear: 'Take off hats, masks and sunglasses',
    tip_follow: 'Do each action when asked',
    steps_preview: '{total} action(s): {list}',
    steps_unknown: 'Do each action when asked',
    start: 'Start',
    starting: 'Opening the camera…',
    calibrating: 'Face the screen and hold still',
    step_of: 'Step {step} of {total}',
    seconds: '{s} s',
    pass_title: 'Done',
    pass_text: 'All actions done; the app that sent you here confirms the result',
    fail_title: 'Not verified',
    fail_timeout: '"{action}" was not done in time',
    fail_static: 'The picture did not change: do the actions yourself, in front of the camera, not with a photo or video',
    fail_mismatch: 'An action other than the one asked for was seen; do the actions in the order shown',
    fail_calibration: 'No steady frontal face was found; face the screen and hold still',
    fail_expired: 'The check timed out; please start again',
    fail_cancelled: 'The check was cancelled',
    fail_seed: 'The check did not pass; please try again',
    retry: 'Try again',
    try_again: 'Retry',
    back: 'Back',
    retry_manual: 'Go back to the app to start a new check',
    err_camera_title: 'Camera unavailable',
    err_denied: 'The check needs the front camera: allow camera access, then try again.',
    err_camera: 'The camera did not start: close other apps that use it and try again.',
    help_setting: 'Tap "Open settings" below and allow the camera for this mini-program.',
    help_system: 'If it still fails: allow WeChat to use the camera in Settings → Privacy → Camera (iOS) or Settings → Apps → WeChat → Permissions (Android).',
    open_setting: 'Open settings',
    err_privacy_title: 'Privacy consent needed',
    err_privacy: 'Using the camera requires agreeing to this mini-program\'s privacy policy.',
    err_session_title: 'Cannot start the check',
    err_session: 'This check is invalid or has expired; go back and start again.',
    err_network: 'Network problem; check the connection and try again.',
    err_config: 'The mini-program has no server address (apiBase in config.js).',
    privacy_title: 'Privacy notice',
    privacy_text: 'The check uses the camera to capture your face, only for this check. Please read and agree to the privacy policy to continue.',
    privacy_read: 'Read the privacy policy',
    privacy_agree: 'Agree and continue',
    privacy_refuse: 'Decline',
    hint_static: 'The picture is not changing; face the camera yourself',
    hint_no_face: 'No face detected',
    hint_multiple_faces: 'Only one person in view, please',
    hint_too_small: 'Move a little closer',
    hint_too_dark: 'Too dark; find more light',
    hint_too_bright: 'Too bright; avoid strong light',
    hint_blurred: 'Blurred; hold the phone steady',
    hint_off_centre: 'Centre your face in the frame',
    hint_look_straight: 'Look straight at the camera',
    hint_hold_still: 'Hold still for a moment',
    hint_back_to_neutral: 'First face the camera with a neutral expression',
    hint_network: 'Unstable network, retrying…',
    switch_to: '中文'
  }
};

var DEFAULT_LANG = 'zh-CN';

/** 'zh-CN' / 'en' for a language tag ('zh', 'zh_CN', 'en-US', …), or null. */
function pickLang(value) {
  if (!value) return null;
  var text = String(value).toLowerCase();
  if (text.indexOf('zh') === 0) return 'zh-CN';
  if (text.indexOf('en') === 0) return 'en';
  return null;
}

/** The text for `key` in `lang` (falling back to zh-CN, then the key), with `{name}` placeholders filled. */
function t(lang, key, vars) {
  var table = TEXT[lang] || TEXT[DEFAULT_LANG];
  var text = table[key] !== undefined ? table[key] : TEXT[DEFAULT_LANG][key];
  if (text === undefined) text = key;
  if (vars) {
    Object.keys(vars).forEach(function (name) {
      text = text.split('{' + name + '}').join(String(vars[name]));
    });
  }
  return text;
}

function has(key) {
  return TEXT[DEFAULT_LANG][key] !== undefined;
}

/** A server prompt object {"zh-CN": …, "en": …} (or a plain string) in `lang`. */
function localized(value, lang) {
  if (!value) return '';
  if (typeof value === 'string') return value;
  return value[lang] || value[DEFAULT_LANG] || '';
}

/** "请眨眼" → "眨眼" for lists and sentences. */
function bare(promptText) {
  return String(promptText || '').replace(/^请/, '');
}

module.exports = { TEXT: TEXT, DEFAULT_LANG: DEFAULT_LANG, pickLang: pickLang, t: t, has: has, localized: localized, bare: bare };
