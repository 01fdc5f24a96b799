/* Camera permission (scope.camera) and the privacy agreement (隐私保护指引), given the wx API. */
'use strict';

function denied(kind, res) {
  var err = new Error((res && res.errMsg) || kind);
  err.kind = kind;
  return err;
}

/** True when an authorize failure is the privacy agreement missing rather than the person saying no. */
function isPrivacyError(res) {
  var code = res && res.errno;
  var msg = String((res && res.errMsg) || '');
  return code === 104 || code === 112 || msg.indexOf('privacy') >= 0;
}

/**
 * Resolves when the camera may be used; rejects with err.kind 'denied' (the person said no, or said no
 * before: only the settings page can change that) or 'privacy' (the privacy agreement was not accepted).
 */
function ensureCamera(wx) {
  return new Promise(function (resolve, reject) {
    wx.getSetting({
      success: function (res) {
        var state = res.authSetting ? res.authSetting['scope.camera'] : undefined;
        if (state === true) return resolve();
        if (state === false) return reject(denied('denied'));
        wx.authorize({
          scope: 'scope.camera',
          success: function () { resolve(); },
          fail: function (err) { reject(denied(isPrivacyError(err) ? 'privacy' : 'denied', err)); }
        });
      },
      fail: function () { resolve(); } // no answer: let the <camera> component ask
    });
  });
}

/** Opens the mini-program's settings page; resolves true when the camera is allowed afterwards. */
function openSettings(wx) {
  return new Promise(function (resolve) {
    wx.openSetting({
      success: function (res) { resolve(!!(res.authSetting && res.authSetting['scope.camera'])); },
      fail: function () { resolve(false); }
    });
  });
}

module.exports = { ensureCamera: ensureCamera, openSettings: openSettings, isPrivacyError: isPrivacyError };
