/* The liveness page: thin glue between WeChat (camera, taps, navigation) and lib/flow.js.
 *
 * Opened by a business page with  wx.navigateTo({url: '/pages/liveness/index?session_id=…&nonce=…', events})
 * (v1), or with  ?mode=seed&user_id=…&token=…  (the seed's /api/task flow). Optional: lang=zh-CN|en.
 */
var config = require('../../config');
var createApi = require('../../lib/api').createApi;
var createFlow = require('../../lib/flow').createFlow;
var frames = require('../../lib/frames');
var permission = require('../../lib/permission');
var handoff = require('../../lib/handoff');
var resultLib = require('../../lib/result');

var READY_FALLBACK_MS = 1500; // base libraries without <camera bindinitdone>

function app() {
  return typeof getApp === 'function' ? getApp() : null;
}

function login() {
  return new Promise(function (resolve) {
    wx.login({
      success: function (res) { resolve(res.code || ''); },
      fail: function () { resolve(''); }
    });
  });
}

Component({
  data: { vm: null, privacy: null },

  methods: {
    onLoad: function (query) {
      var q = query || {};
      var page = this;
      var mode = q.mode === 'seed' || q.mode === 'v1' ? q.mode : config.flow;
      var params = {
        mode: mode,
        session_id: q.session_id || q.sid || '',
        nonce: q.nonce || '',
        user_id: q.user_id ? decodeURIComponent(q.user_id) : '',
        token: q.token || config.appKey || '',
        lang: q.lang || ''
      };
      var channel = typeof this.getOpenerEventChannel === 'function' ? this.getOpenerEventChannel() : null;
      var previous = handoff.stored(app());
      handoff.remember(app(), channel && channel.emit ? channel : previous.channel, {
        mode: mode, user_id: params.user_id, token: q.token || previous.params.token || '', lang: params.lang
      });
      if (!q.token && previous.params.token) params.token = previous.params.token;

      var api = createApi({
        wx: wx,
        base: config.apiBase,
        timeout: config.requestTimeoutMs,
        lang: function () { return page.flow ? page.flow.lang() : 'zh-CN'; }
      });
      this.api = api;
      this.flow = createFlow({
        api: api,
        config: config,
        render: function (vm) { page.setData({ vm: vm }); },
        notify: function (event, payload) { page.onFlowEvent(event, payload); },
        makeSource: function () {
          return frames.createSource(config.frameSource, {
            wx: wx,
            camera: wx.createCameraContext(),
            transport: config.transport,
            maxHeight: config.maxFrameHeight,
            jpegQuality: config.jpegQuality
          });
        },
        newSession: config.sessionEndpoint ? function () {
          return login().then(function (code) {
            return api.newSession(config.sessionEndpoint, { code: code });
          }).then(function (answer) {
            if (answer.status >= 200 && answer.status < 300) return answer.data;
            var err = new Error('session endpoint: HTTP ' + answer.status);
            err.kind = 'session';
            throw err;
          });
        } : null
      }, params);

      this.watchPrivacy();
      var first = mode === 'seed' && q.reset === '1'
        ? api.seedReset(params.user_id, params.token).catch(function () { return null; })
        : Promise.resolve();
      this.ready = first.then(function () { return page.flow.load(); });
      return this.ready;
    },

    onUnload: function () {
      if (this.readyTimer) clearTimeout(this.readyTimer);
      if (this.flow) this.flow.destroy();
    },

    onFlowEvent: function (event, payload) {
      handoff.emit(app(), event, payload);
      if (event !== 'finished') return;
      var result = this.flow.result();
      var state = this.flow.state();
      wx.redirectTo({ url: resultLib.url(result, { lang: state.lang, mode: state.mode, sid: state.sid }) });
    },

    // ---- taps -------------------------------------------------------------------------------------
    onStart: function () {
      var page = this;
      return permission.ensureCamera(wx).then(function () {
        page.flow.start();
        page.readyTimer = setTimeout(function () { page.flow.cameraReady(); }, READY_FALLBACK_MS);
      }, function (err) {
        page.flow.cameraError(err.kind);
      });
    },

    onToggleLang: function () {
      this.flow.toggleLang();
      wx.setNavigationBarTitle({ title: this.data.vm.text.title });
    },

    onErrorRetry: function () {
      return this.flow.retryError();
    },

    onOpenSetting: function () {
      var page = this;
      return permission.openSettings(wx).then(function (allowed) {
        if (allowed) return page.flow.retryError();
        return null;
      });
    },

    // ---- camera -----------------------------------------------------------------------------------
    onCameraReady: function () {
      if (this.readyTimer) clearTimeout(this.readyTimer);
      return this.flow.cameraReady();
    },

    onCameraError: function () {
      this.flow.cameraError('denied');
    },

    onCameraStop: function () {
      var state = this.flow.state();
      if (state.running || state.starting) this.flow.cameraError('camera');
    },

    // ---- privacy agreement (隐私保护指引) -----------------------------------------------------------
    watchPrivacy: function () {
      var page = this;
      if (typeof wx.onNeedPrivacyAuthorization !== 'function') return;
      wx.onNeedPrivacyAuthorization(function (resolve) {
        page.privacyResolve = resolve;
        var lang = page.flow.lang();
        var t = require('../../lib/i18n').t;
        page.setData({
          privacy: {
            title: t(lang, 'privacy_title'),
            text: t(lang, 'privacy_text'),
            read: t(lang, 'privacy_read'),
            agree: t(lang, 'privacy_agree'),
            refuse: t(lang, 'privacy_refuse')
          }
        });
      });
    },

    onReadPrivacy: function () {
      if (typeof wx.openPrivacyContract === 'function') wx.openPrivacyContract({});
    },

    onAgreePrivacy: function () {
      if (this.privacyResolve) this.privacyResolve({ buttonId: 'privacy-agree', event: 'agree' });
      this.privacyResolve = null;
      this.setData({ privacy: null });
    },

    onRefusePrivacy: function () {
      if (this.privacyResolve) this.privacyResolve({ event: 'disagree' });
      this.privacyResolve = null;
      this.setData({ privacy: null });
    }
  }
});
