/* The result screen. It shows what the check showed the person; the verdict that counts is the signed
 * result the business backend fetches from Vigilo.
 */
var config = require('../../config');
var handoff = require('../../lib/handoff');
var resultLib = require('../../lib/result');

function app() {
  return typeof getApp === 'function' ? getApp() : null;
}

function stackDepth() {
  return typeof getCurrentPages === 'function' ? getCurrentPages().length : 1;
}

Component({
  data: { vm: null },

  methods: {
    onLoad: function (query) {
      this.result = resultLib.parse(query);
      this.note = null;
      this.show();
    },

    show: function () {
      this.setData({ vm: resultLib.model(this.result, this.note) });
    },

    onToggleLang: function () {
      this.result.lang = this.result.lang === 'en' ? 'zh-CN' : 'en';
      this.show();
    },

    /** A new check: sessions are single-use, so a new session (seed: a reset) is needed. */
    onRetry: function () {
      var r = this.result;
      var stored = handoff.stored(app()).params;
      if (r.mode === 'seed') {
        var user = stored.user_id ? '&user_id=' + encodeURIComponent(stored.user_id) : '';
        wx.redirectTo({ url: '/pages/liveness/index?mode=seed&reset=1&lang=' + r.lang + user });
        return 'seed';
      }
      if (config.sessionEndpoint) {
        wx.redirectTo({ url: '/pages/liveness/index?mode=v1&lang=' + r.lang });
        return 'endpoint';
      }
      var told = handoff.emit(app(), 'retry', { session_id: r.sid || null });
      if (told && stackDepth() > 1) {
        wx.navigateBack({ delta: 1 });
        return 'back';
      }
      this.note = 'retry_manual';
      this.show();
      return 'manual';
    },

    onBack: function () {
      handoff.emit(app(), 'closed', { session_id: this.result.sid || null });
      if (stackDepth() > 1) wx.navigateBack({ delta: 1 });
      else if (typeof wx.exitMiniProgram === 'function') wx.exitMiniProgram({});
    }
  }
});
