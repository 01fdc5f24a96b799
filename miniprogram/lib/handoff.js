/* Talking to the business page that opened the check (wx.navigateTo with `events`).
 *
 * Events: ready, started, step, error, finished {session_id}, retry {session_id}, closed. None carries a
 * verdict: the business backend fetches the signed result from Vigilo. The channel is kept on the app
 * (getApp().globalData) so that the result page, reached by redirectTo, can still use it.
 */
'use strict';

function remember(app, channel, params) {
  if (!app) return;
  app.globalData = app.globalData || {};
  app.globalData.liveness = { channel: channel || null, params: params || {} };
}

function stored(app) {
  return (app && app.globalData && app.globalData.liveness) || { channel: null, params: {} };
}

function emit(app, event, payload) {
  var channel = stored(app).channel;
  if (!channel || typeof channel.emit !== 'function') return false;
  try {
    channel.emit(event, Object.assign({ source: 'vigilo-liveness' }, payload || {}));
    return true;
  } catch (e) {
    return false; // the opener is gone
  }
}

module.exports = { remember: remember, stored: stored, emit: emit };
