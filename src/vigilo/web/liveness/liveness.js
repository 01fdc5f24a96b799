/* Vigilo H5 liveness page: camera -> frames -> the session API; prompts, progress, hints, countdown, result.
 *
 * Opened by the business app as  /liveness/#session_id=...&nonce=...&return_url=...&lang=en
 * (the fragment is never sent to a server or in a Referer). The page shows what the server answers; it never
 * decides or reports a verdict: the business backend fetches the signed result itself.
 *
 * Plain ES2015 without modules, so that older in-app WebViews (WeChat) run it.
 */
(function () {
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
      start: '开始检测',
      starting: '正在打开摄像头…',
      calibrating: '请正对屏幕，保持不动',
      step_of: '第 {step}/{total} 步',
      seconds: '{s} 秒',
      pass_title: '验证完成',
      pass_text: '动作已完成，结果将由业务方确认',
      returning: '正在返回…',
      fail_title: '验证未通过',
      fail_timeout: '未在规定时间内完成「{action}」',
      fail_static: '画面没有变化：请本人面对摄像头完成动作，不要使用照片或录像',
      fail_mismatch: '检测到与提示不符的动作，请按提示依次完成',
      fail_calibration: '未能识别到稳定的正脸，请正对屏幕、保持不动',
      fail_expired: '检测已超时，请重新发起',
      fail_cancelled: '检测已取消',
      retry: '重新检测',
      try_again: '重试',
      back: '返回',
      retry_manual: '请返回业务页面重新发起检测',
      err_camera_title: '无法使用摄像头',
      err_insecure: '摄像头只能在安全连接（HTTPS）下使用，请通过 https:// 地址打开本页面。',
      err_denied: '活体检测需要使用前置摄像头，请允许本页面访问摄像头后重试。',
      err_nocamera: '没有找到可用的摄像头。',
      err_busy: '摄像头正被其他应用使用，请关闭后重试。',
      help_browser: '浏览器：点击地址栏左侧的锁形图标 → 网站设置 → 摄像头 → 允许，然后刷新页面。',
      help_wechat: '微信：在手机“设置 → 隐私 → 相机”（iOS）或“设置 → 应用 → 微信 → 权限”（Android）中允许微信使用相机，然后重新打开本页面。',
      help_https: '本页面必须通过 HTTPS 打开；嵌入（iframe）时需要 allow="camera"。',
      err_session_title: '无法开始检测',
      err_session: '检测链接无效或已过期，请返回重新发起。',
      err_network: '网络异常，请检查网络后重试。',
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
      start: 'Start',
      starting: 'Opening the camera…',
      calibrating: 'Face the screen and hold still',
      step_of: 'Step {step} of {total}',
      seconds: '{s} s',
      pass_title: 'Done',
      pass_text: 'All actions done; the app that sent you here confirms the result',
      returning: 'Returning…',
      fail_title: 'Not verified',
      fail_timeout: '"{action}" was not done in time',
      fail_static: 'The picture did not change: do the actions yourself, in front of the camera, not with a photo or video',
      fail_mismatch: 'An action other than the one asked for was seen; do the actions in the order shown',
      fail_calibration: 'No steady frontal face was found; face the screen and hold still',
      fail_expired: 'The check timed out; please start again',
      fail_cancelled: 'The check was cancelled',
      retry: 'Try again',
      try_again: 'Retry',
      back: 'Back',
      retry_manual: 'Go back to the app to start a new check',
      err_camera_title: 'Camera unavailable',
      err_insecure: 'The camera works only over a secure connection (HTTPS): open this page with an https:// address.',
      err_denied: 'The check needs the front camera: allow this page to use the camera, then try again.',
      err_nocamera: 'No camera was found.',
      err_busy: 'Another app is using the camera: close it and try again.',
      help_browser: 'Browser: tap the lock icon left of the address → Site settings → Camera → Allow, then reload.',
      help_wechat: 'WeChat: allow WeChat to use the camera in Settings → Privacy → Camera (iOS) or Settings → Apps → WeChat → Permissions (Android), then reopen this page.',
      help_https: 'This page must be opened over HTTPS; an embedding iframe needs allow="camera".',
      err_session_title: 'Cannot start the check',
      err_session: 'This link is invalid or has expired; go back and start again.',
      err_network: 'Network problem; check the connection and try again.',
      hint_static: 'The picture is not changing; face the camera yourself',
      hint_no_face: 'No face detected',
      hint_multiple_faces: 'Only one person in view, please',
      hint_too_small: 'Move a little closer',
      hint_too_dark: 'Too dark; find more light',
      hint_too_bright: 'Too bright; avoid strong light',
      hint_blurred: 'Blurred; hold the camera steady',
      hint_off_centre: 'Centre your face in the frame',
      hint_look_straight: 'Look straight at the camera',
      hint_hold_still: 'Hold still for a moment',
      hint_back_to_neutral: 'First face the camera with a neutral expression',
      switch_to: '中文'
    }
  };

  var API = '../api/v1/liveness/sessions/';
  var GRACE_MS = 2500; // past a step's window with no decision (frames refused): give up locally
  var STATIC_AFTER = 3; // consecutive duplicate-frame refusals: the picture is not changing
  var MAX_ERRORS = 8; // consecutive failed uploads before the network error screen
  var MAX_HEIGHT = 480; // frames are sent at most this tall (JPEG)

  function readParams() {
    var out = {};
    var parts = [window.location.search.replace(/^\?/, ''), window.location.hash.replace(/^#/, '')];
    parts.forEach(function (text) {
      text.split('&').forEach(function (pair) {
        if (!pair) return;
        var i = pair.indexOf('=');
        var key = decodeURIComponent(i < 0 ? pair : pair.slice(0, i));
        var value = i < 0 ? '' : decodeURIComponent(pair.slice(i + 1).replace(/\+/g, ' '));
        out[key] = value;
      });
    });
    return out;
  }

  var params = readParams();
  var S = {
    sid: params.session_id || params.sid || '',
    nonce: params.nonce || '',
    lang: null,
    challenge: null,
    returnUrl: null,
    origins: ['*'],
    stream: null,
    seq: 0,
    lastCaptured: 0,
    running: false,
    finished: false,
    phase: 'created',
    step: 0,
    stepStartedAt: null,
    calibStartedAt: null,
    dupes: 0,
    errors: 0,
    lastView: null,
    hintCode: null,
    timer: null,
    ticker: null
  };
  // Keep the nonce out of the address bar and history once read.
  if (window.history && window.history.replaceState && window.location.hash) {
    try { window.history.replaceState(null, '', window.location.pathname); } catch (e) { /* ignore */ }
  }

  function $(id) { return document.getElementById(id); }

  function t(key, vars) {
    var table = TEXT[S.lang] || TEXT['zh-CN'];
    var text = table[key] !== undefined ? table[key] : (TEXT['zh-CN'][key] !== undefined ? TEXT['zh-CN'][key] : key);
    if (vars) {
      Object.keys(vars).forEach(function (k) { text = text.split('{' + k + '}').join(String(vars[k])); });
    }
    return text;
  }

  function pickLang(value) {
    if (!value) return null;
    value = String(value).toLowerCase();
    if (value.indexOf('zh') === 0) return 'zh-CN';
    if (value.indexOf('en') === 0) return 'en';
    return null;
  }

  function setLang(lang) {
    S.lang = lang;
    document.documentElement.lang = lang;
    document.title = t('title');
    var nodes = document.querySelectorAll('[data-t]');
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = t(nodes[i].getAttribute('data-t'));
    $('lang').textContent = t('switch_to');
    renderDynamic();
    renderError();
  }

  function show(screen) { $('app').setAttribute('data-screen', screen); }

  // ---- messages to the business app -------------------------------------------------------------
  function notify(type, extra) {
    if (window.parent === window) return;
    var payload = { source: 'vigilo-liveness', type: type, session_id: S.sid };
    if (extra) Object.keys(extra).forEach(function (k) { payload[k] = extra[k]; });
    S.origins.forEach(function (origin) {
      try { window.parent.postMessage(payload, origin); } catch (e) { /* another origin: dropped */ }
    });
  }

  function returnTo(event) {
    if (!S.returnUrl) return false;
    var sep = S.returnUrl.indexOf('?') < 0 ? '?' : '&';
    window.location.href = S.returnUrl + sep + 'session_id=' + encodeURIComponent(S.sid) + '&event=' + event;
    return true;
  }

  // ---- API --------------------------------------------------------------------------------------
  function call(method, path, body) {
    var headers = { 'X-Session-Nonce': S.nonce, 'Accept-Language': S.lang || 'zh-CN' };
    return fetch(API + encodeURIComponent(S.sid) + path, {
      method: method,
      headers: headers,
      body: body,
      cache: 'no-store',
      credentials: 'omit'
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  // ---- screens ----------------------------------------------------------------------------------
  function showError(kind, serverMessage) {
    stopCamera();
    S.running = false;
    S.errorKind = kind;
    S.errorMessage = serverMessage;
    renderError();
    $('app').setAttribute('data-error', kind);
    show('error');
    notify('error', { code: kind });
  }

  function renderError() {
    var kind = S.errorKind;
    var serverMessage = S.errorMessage;
    if (!kind) return;
    var camera = kind === 'insecure' || kind === 'denied' || kind === 'nocamera' || kind === 'busy';
    $('error-title').textContent = camera ? t('err_camera_title') : t('err_session_title');
    var text = {
      insecure: t('err_insecure'),
      denied: t('err_denied'),
      nocamera: t('err_nocamera'),
      busy: t('err_busy'),
      session: t('err_session'),
      network: t('err_network')
    }[kind] || serverMessage || t('err_network');
    $('error-text').textContent = serverMessage && !camera && kind !== 'session' ? serverMessage : text;
    var help = $('help');
    help.innerHTML = '';
    if (camera) {
      ['help_https', 'help_browser', 'help_wechat'].forEach(function (key) {
        var li = document.createElement('li');
        li.textContent = t(key);
        help.appendChild(li);
      });
    }
    $('error-retry').hidden = kind === 'session' || kind === 'locked';
  }

  function stepLabel(step) {
    return step.prompt[S.lang] || step.prompt['zh-CN'];
  }

  function renderSteps() {
    var list = $('steps');
    list.innerHTML = '';
    if (!S.challenge) return;
    var view = S.lastView;
    var completed = view ? Math.round(view.progress * S.challenge.steps.length) : 0;
    S.challenge.steps.forEach(function (step, i) {
      var li = document.createElement('li');
      li.textContent = (i + 1) + '. ' + stepLabel(step).replace(/^请/, '');
      if (i < completed) li.className = 'done';
      else if (i === completed && S.phase === 'in_progress') li.className = 'current';
      list.appendChild(li);
    });
    var total = S.challenge.steps.length;
    $('steps-preview').textContent = t('steps_preview', {
      total: total,
      list: S.challenge.steps.map(function (s) { return stepLabel(s).replace(/^请/, ''); }).join(S.lang === 'en' ? ', ' : '、')
    });
  }

  function renderDynamic() {
    if (!S.challenge) return;
    renderSteps();
    var view = S.lastView;
    var total = S.challenge.steps.length;
    var progress = view ? view.progress : 0;
    $('progress-bar').style.width = Math.round(progress * 100) + '%';
    $('progress-bar').parentNode.setAttribute('aria-valuenow', String(Math.round(progress * 100)));
    if (S.phase === 'in_progress' && S.step >= 1) {
      $('prompt').textContent = stepLabel(S.challenge.steps[S.step - 1]);
      $('progress-text').textContent = t('step_of', { step: S.step, total: total });
    } else if (!S.finished) {
      $('prompt').textContent = t('calibrating');
      $('progress-text').textContent = t('step_of', { step: 1, total: total });
    }
    $('hint').textContent = S.hintCode ? t(S.hintCode) : '';
    if (S.resultKey) renderResult();
  }

  function remainingMs(now) {
    if (!S.challenge) return null;
    if (S.phase === 'in_progress' && S.stepStartedAt !== null && S.step >= 1) {
      return S.challenge.steps[S.step - 1].window_ms - (now - S.stepStartedAt);
    }
    if (S.calibStartedAt !== null) return S.challenge.calibration_ms - (now - S.calibStartedAt);
    return null;
  }

  function windowMs() {
    if (S.phase === 'in_progress' && S.step >= 1) return S.challenge.steps[S.step - 1].window_ms;
    return S.challenge.calibration_ms;
  }

  function tick() {
    if (!S.running) return;
    var left = remainingMs(Date.now());
    if (left === null) {
      $('countdown').textContent = '';
      return;
    }
    $('countdown').textContent = t('seconds', { s: Math.max(0, Math.ceil(left / 1000)) });
    $('timer-bar').style.width = Math.max(0, Math.min(100, (left / windowMs()) * 100)) + '%';
    if (left < -GRACE_MS) giveUp(); // frames are not being accepted (a frozen picture, a dead network)
  }

  // ---- camera -----------------------------------------------------------------------------------
  function stopCamera() {
    if (S.stream) {
      S.stream.getTracks().forEach(function (track) { track.stop(); });
      S.stream = null;
    }
    if (S.ticker) {
      clearInterval(S.ticker);
      S.ticker = null;
    }
    if (S.timer) {
      clearTimeout(S.timer);
      S.timer = null;
    }
  }

  function cameraErrorKind(err) {
    var name = err && err.name;
    if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') return 'nocamera';
    if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') return 'busy';
    return 'denied'; // NotAllowedError, PermissionDeniedError, SecurityError
  }

  function startCamera() {
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError('insecure');
      return;
    }
    $('start').disabled = true;
    $('start').textContent = t('starting');
    navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } }
    }).then(function (stream) {
      S.stream = stream;
      var video = $('video');
      video.srcObject = stream;
      var played = video.play();
      if (played && played.catch) played.catch(function () { /* autoplay muted: fine */ });
      return new Promise(function (resolve) {
        (function wait() {
          if (video.videoWidth > 0 && video.readyState >= 2) resolve();
          else setTimeout(wait, 50);
        })();
      });
    }).then(function () {
      $('start').disabled = false;
      $('start').textContent = t('start');
      show('capture');
      S.running = true;
      S.phase = 'calibrating';
      renderDynamic();
      notify('started');
      S.ticker = setInterval(tick, 200);
      schedule(0);
    }).catch(function (err) {
      $('start').disabled = false;
      $('start').textContent = t('start');
      showError(cameraErrorKind(err));
    });
  }

  function schedule(delay) {
    if (!S.running) return;
    S.timer = setTimeout(captureAndSend, Math.max(0, delay));
  }

  function interval() { return 1000 / Math.max(1, S.challenge.upload.fps); }

  function grab() {
    var video = $('video');
    var width = video.videoWidth;
    var height = video.videoHeight;
    var scale = height > MAX_HEIGHT ? MAX_HEIGHT / height : 1;
    var canvas = $('canvas');
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    var ctx = canvas.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    if (S.challenge.mirrored) ctx.setTransform(-1, 0, 0, 1, canvas.width, 0); // the session said: mirrored
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    return canvas;
  }

  function toJpeg(canvas) {
    return new Promise(function (resolve) {
      if (canvas.toBlob) {
        canvas.toBlob(function (blob) { resolve(blob); }, 'image/jpeg', 0.85);
      } else {
        var data = atob(canvas.toDataURL('image/jpeg', 0.85).split(',')[1]);
        var bytes = new Uint8Array(data.length);
        for (var i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i);
        resolve(new Blob([bytes], { type: 'image/jpeg' }));
      }
    });
  }

  function captureAndSend() {
    if (!S.running) return;
    var minGap = 1000 / Math.max(1, S.challenge.upload.max_fps);
    var capturedAt = Date.now();
    if (capturedAt - S.lastCaptured < minGap) {
      schedule(minGap - (capturedAt - S.lastCaptured) + 1);
      return;
    }
    var canvas = grab();
    S.lastCaptured = capturedAt;
    S.seq += 1;
    var seq = S.seq;
    toJpeg(canvas).then(function (blob) {
      var form = new FormData();
      form.append('file', blob, 'frame.jpg');
      form.append('seq', String(seq));
      form.append('captured_at', String(capturedAt));
      return call('POST', '/frames', form);
    }).then(function (answer) {
      S.errors = 0;
      onAnswer(answer, capturedAt);
    }, function () {
      S.errors += 1;
      if (S.errors >= MAX_ERRORS) showError('network');
    }).then(function () {
      if (S.running) schedule(capturedAt + interval() - Date.now());
    });
  }

  function onAnswer(answer, capturedAt) {
    var status = answer.status;
    var data = answer.data || {};
    if (status === 200) {
      S.dupes = 0;
      onView(data, capturedAt);
      return;
    }
    var code = data.code;
    if (code === 'liveness_duplicate_frame' || code === 'liveness_replayed_frame') {
      S.dupes += 1;
      if (S.calibStartedAt === null) S.calibStartedAt = capturedAt;
      if (S.dupes >= STATIC_AFTER) {
        S.hintCode = 'hint_static';
        renderDynamic();
      }
      return;
    }
    if (code === 'liveness_session_closed' || code === 'liveness_session_expired') {
      call('GET', '').then(function (again) {
        if (again.status === 200) onView(again.data, capturedAt);
        else showError('session');
      });
      S.running = false;
      return;
    }
    if (status === 403 || status === 404) {
      showError('session');
      return;
    }
    if (code === 'liveness_locked') {
      showError('locked', data.message);
      return;
    }
    // 429 frame rate, 409 order, 422 skew or an unreadable frame: the next frame tries again.
    S.errors += 1;
    if (S.errors >= MAX_ERRORS) showError('network', data.message);
  }

  function onView(view, capturedAt) {
    S.lastView = view;
    var before = S.phase;
    if (view.state === 'calibrating' || view.state === 'created') {
      if (S.calibStartedAt === null) S.calibStartedAt = capturedAt;
      S.phase = 'calibrating';
    } else if (view.state === 'in_progress') {
      if (S.phase !== 'in_progress' || view.step !== S.step) {
        S.stepStartedAt = capturedAt; // the server started this step's window with this frame
        notify('step', { step: view.step, total: view.total, action: view.action });
      }
      S.phase = 'in_progress';
      S.step = view.step;
    }
    S.hintCode = view.hint_code || null;
    if (view.done) {
      finish(view, before);
      return;
    }
    renderDynamic();
  }

  function giveUp() {
    if (S.finished) return;
    var reason = S.dupes >= STATIC_AFTER ? 'static' : S.phase === 'in_progress' ? 'timeout' : 'calibration';
    S.running = false;
    stopCamera();
    call('DELETE', '').then(function (answer) {
      var view = answer.status === 200 ? answer.data : S.lastView || { state: 'cancelled', progress: 0 };
      finish(view, S.phase, reason);
    }, function () {
      finish({ state: 'cancelled', progress: 0 }, S.phase, reason);
    });
  }

  function failureKey(view, phaseBefore, localReason) {
    if (localReason) return 'fail_' + localReason;
    if (view.state === 'expired') return 'fail_expired';
    if (view.state === 'cancelled') return 'fail_cancelled';
    if (phaseBefore !== 'in_progress') return 'fail_calibration';
    var left = S.stepStartedAt !== null ? remainingMs(S.lastCaptured) : null;
    if (left !== null && left <= 400) return 'fail_timeout';
    return 'fail_mismatch';
  }

  function finish(view, phaseBefore, localReason) {
    if (S.finished) return;
    S.finished = true;
    S.running = false;
    stopCamera();
    S.lastView = view;
    S.passed = !!view.passed;
    S.resultKey = view.passed ? 'pass_text' : failureKey(view, phaseBefore, localReason);
    if (view.passed) S.step = S.challenge.steps.length;
    renderDynamic();
    show('result');
    // No verdict in the message: the business backend fetches the signed result.
    notify('finished', { state: 'done' });
    if (view.passed && S.returnUrl) {
      $('result-note').textContent = t('returning');
      setTimeout(function () { returnTo('finished'); }, 1500);
    }
  }

  function renderResult() {
    if (!S.resultKey) return;
    var icon = $('result-icon');
    icon.className = 'badge ' + (S.passed ? 'badge-pass' : 'badge-fail');
    $('result-title').textContent = S.passed ? t('pass_title') : t('fail_title');
    var action = S.step >= 1 && S.challenge ? stepLabel(S.challenge.steps[Math.min(S.step, S.challenge.steps.length) - 1]) : '';
    $('result-text').textContent = t(S.resultKey, { action: action.replace(/^请/, '') });
    $('retry').hidden = S.passed;
    $('back').hidden = !S.returnUrl && window.parent === window;
    $('app').setAttribute('data-result', S.passed ? 'pass' : S.resultKey);
  }

  function retry() {
    notify('retry');
    if (returnTo('retry')) return;
    if (window.parent === window) $('result-note').textContent = t('retry_manual');
  }

  // ---- start ------------------------------------------------------------------------------------
  function init() {
    S.lang = pickLang(params.lang) || 'zh-CN';
    setLang(S.lang);
    $('lang').addEventListener('click', function () { setLang(S.lang === 'en' ? 'zh-CN' : 'en'); });
    $('start').addEventListener('click', startCamera);
    $('retry').addEventListener('click', retry);
    $('back').addEventListener('click', function () {
      notify('closed');
      returnTo('finished');
    });
    $('error-retry').addEventListener('click', function () { show('intro'); });
    if (!S.sid || !S.nonce) {
      showError('session');
      return;
    }
    var query = params.return_url ? '?return_url=' + encodeURIComponent(params.return_url) : '';
    call('GET', '/challenge' + query).then(function (answer) {
      if (answer.status !== 200) {
        showError(answer.status === 403 || answer.status === 404 ? 'session' : 'network', answer.data.message);
        return;
      }
      var challenge = answer.data;
      S.challenge = challenge;
      S.returnUrl = challenge.return_url;
      if (challenge.message_origins && challenge.message_origins.length) S.origins = challenge.message_origins;
      if (!pickLang(params.lang)) setLang(pickLang(challenge.locale) || 'zh-CN');
      renderDynamic();
      notify('ready', { steps: challenge.steps.length });
      if (challenge.state.done) {
        S.step = challenge.state.step;
        finish(challenge.state, challenge.state.state === 'in_progress' ? 'in_progress' : 'calibrating');
        return;
      }
      show('intro');
    }, function () {
      showError('network');
    });
  }

  init();
})();
