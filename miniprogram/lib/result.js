/* The result page's texts and what its buttons do, from {passed, key, action, lang, mode}. */
'use strict';

var i18n = require('./i18n');

var KEYS = ['pass_text', 'fail_timeout', 'fail_static', 'fail_mismatch', 'fail_calibration', 'fail_expired',
  'fail_cancelled', 'fail_seed'];

/** Query values (strings) → the result to show. Unknown keys fall back to a generic failure. */
function parse(query) {
  var q = query || {};
  var passed = q.passed === '1' || q.passed === 'true' || q.passed === true;
  var key = KEYS.indexOf(q.key) >= 0 ? q.key : passed ? 'pass_text' : 'fail_mismatch';
  return {
    passed: passed && key === 'pass_text',
    key: key,
    action: q.action ? decodeURIComponent(q.action) : '',
    lang: i18n.pickLang(q.lang) || i18n.DEFAULT_LANG,
    mode: q.mode === 'seed' ? 'seed' : 'v1',
    sid: q.sid || ''
  };
}

function model(result, note) {
  var lang = result.lang;
  return {
    lang: lang,
    passed: result.passed,
    badge: result.passed ? 'badge-pass' : 'badge-fail',
    title: i18n.t(lang, result.passed ? 'pass_title' : 'fail_title'),
    text: i18n.t(lang, result.key, { action: result.action }),
    showRetry: !result.passed,
    retry: i18n.t(lang, 'retry'),
    back: i18n.t(lang, 'back'),
    switchTo: i18n.t(lang, 'switch_to'),
    note: note ? i18n.t(lang, note) : ''
  };
}

/** The result page's URL for a finished flow. */
function url(flowResult, extra) {
  var parts = [
    'passed=' + (flowResult.passed ? '1' : '0'),
    'key=' + encodeURIComponent(flowResult.key),
    'action=' + encodeURIComponent(flowResult.action || ''),
    'lang=' + encodeURIComponent(extra.lang),
    'mode=' + encodeURIComponent(extra.mode)
  ];
  if (extra.sid) parts.push('sid=' + encodeURIComponent(extra.sid));
  return '/pages/result/index?' + parts.join('&');
}

module.exports = { parse: parse, model: model, url: url, KEYS: KEYS };
