/* Calls to Vigilo (and, optionally, to your business backend) over wx.request / wx.uploadFile.
 *
 * Every call resolves to {status, data} for any HTTP answer (4xx/5xx included: Vigilo's errors are
 * {"code", "message", "detail"?}) and rejects only when no answer came back (network, timeout, domain not
 * allowed), with an Error whose `kind` is 'network'. The functions take the wx API as a parameter so that
 * tests can stub it.
 */
'use strict';

var V1 = '/api/v1/liveness/sessions/';
var SEED = '/api/task/';

function trimBase(base) {
  return String(base || '').replace(/\/+$/, '');
}

function networkError(res) {
  var err = new Error((res && res.errMsg) || 'request:fail');
  err.kind = 'network';
  return err;
}

function parseJson(data) {
  if (typeof data !== 'string') return data || {};
  try {
    return JSON.parse(data);
  } catch (e) {
    return {};
  }
}

/**
 * @param {object} options
 * @param {object} options.wx       the wx API (request, uploadFile)
 * @param {string} options.base     Vigilo's base URL, e.g. https://vigilo.example.cn
 * @param {function} options.lang   returns the current language ('zh-CN' / 'en') for Accept-Language
 * @param {number} [options.timeout] request timeout, ms
 */
function createApi(options) {
  var wx = options.wx;
  var base = trimBase(options.base);
  var timeout = options.timeout || 15000;
  var lang = options.lang || function () { return 'zh-CN'; };

  function request(method, url, body, header) {
    return new Promise(function (resolve, reject) {
      var headers = Object.assign({ 'Accept-Language': lang() }, header || {});
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      wx.request({
        url: url,
        method: method,
        data: body,
        header: headers,
        timeout: timeout,
        dataType: 'json',
        success: function (res) {
          resolve({ status: res.statusCode, data: parseJson(res.data) });
        },
        fail: function (res) {
          reject(networkError(res));
        }
      });
    });
  }

  function upload(url, filePath, fields, header) {
    return new Promise(function (resolve, reject) {
      wx.uploadFile({
        url: url,
        filePath: filePath,
        name: 'file',
        formData: fields,
        header: Object.assign({ 'Accept-Language': lang() }, header || {}),
        timeout: timeout,
        success: function (res) {
          resolve({ status: res.statusCode, data: parseJson(res.data) });
        },
        fail: function (res) {
          reject(networkError(res));
        }
      });
    });
  }

  function session(sid) {
    return base + V1 + encodeURIComponent(sid);
  }

  function nonceHeader(nonce) {
    return { 'X-Session-Nonce': nonce };
  }

  return {
    request: request,

    /** v1: steps (both prompts, windows), upload rules, mirrored, state. */
    challenge: function (sid, nonce) {
      return request('GET', session(sid) + '/challenge', undefined, nonceHeader(nonce));
    },

    /** v1: one frame. `frame` is {image (base64), seq, captured_at} or, for multipart, {path, seq, captured_at}. */
    sendFrame: function (sid, nonce, frame) {
      if (frame.path && !frame.image) {
        var fields = { seq: String(frame.seq), captured_at: String(frame.captured_at) };
        return upload(session(sid) + '/frames', frame.path, fields, nonceHeader(nonce));
      }
      var body = { image: frame.image, seq: frame.seq, captured_at: frame.captured_at };
      return request('POST', session(sid) + '/frames', body, nonceHeader(nonce));
    },

    getSession: function (sid, nonce) {
      return request('GET', session(sid), undefined, nonceHeader(nonce));
    },

    cancel: function (sid, nonce) {
      return request('DELETE', session(sid), undefined, nonceHeader(nonce));
    },

    /** Seed flow: `token` is a user token from your backend (or, in closed networks only, an app key). */
    seedStatus: function (userId, token) {
      var query = userId ? '?user_id=' + encodeURIComponent(userId) : '';
      return request('GET', base + SEED + 'status' + query, undefined, bearer(token));
    },

    seedDetect: function (userId, image, token) {
      var body = { image_data: image };
      if (userId) body.user_id = userId;
      return request('POST', base + SEED + 'detect', body, bearer(token));
    },

    seedReset: function (userId, token) {
      return request('POST', base + SEED + 'reset', userId ? { user_id: userId } : {}, bearer(token));
    },

    /** Your backend's endpoint that creates a Vigilo session for the signed-in user → {session_id, nonce}.
     *  `body` carries the wx.login code, which your backend exchanges for the openid (code2Session). */
    newSession: function (url, body) {
      return request('POST', url, body || {});
    }
  };
}

function bearer(token) {
  return token ? { Authorization: 'Bearer ' + token } : {};
}

module.exports = { createApi: createApi, V1: V1, SEED: SEED };
