/* The liveness check as a state machine, independent of the page: session → frames → prompts → result.
 *
 * It never decides a verdict: it shows what Vigilo answers, and the business backend fetches the signed
 * result itself. Two modes:
 *  - 'v1'  : a session the business backend created (session_id + nonce), POST …/sessions/{id}/frames;
 *  - 'seed': the seed's /api/task/detect|status|reset (user_id + a user token), one frame per detect.
 *
 * Dependencies are parameters (api, frame source factory, clock, render, notify), so tests drive it with
 * stubs; the page only forwards taps and camera events and calls setData with what `render` receives.
 */
'use strict';

var i18n = require('./i18n');

var GRACE_MS = 2500; // past a step's window with no decision (frames refused): give up locally
var STATIC_AFTER = 3; // consecutive duplicate-frame refusals: the picture is not changing
var SEED_DEFAULT_STEPS = 3;

function systemClock() {
  return {
    now: function () { return Date.now(); },
    setTimeout: function (fn, ms) { return setTimeout(fn, ms); },
    clearTimeout: function (id) { clearTimeout(id); },
    setInterval: function (fn, ms) { return setInterval(fn, ms); },
    clearInterval: function (id) { clearInterval(id); }
  };
}

/**
 * @param {object} deps
 * @param {object} deps.api          lib/api.js createApi(...)
 * @param {function} deps.makeSource () → frame source (lib/frames.js), called when the camera is ready
 * @param {function} deps.render     (viewModel) → void; the page's setData
 * @param {function} [deps.notify]   (event, payload) → void; to the business page (no verdict in it)
 * @param {function} [deps.newSession] () → Promise<{session_id, nonce}>; a fresh session for a retry
 * @param {object} [deps.clock]      now/setTimeout/clearTimeout/setInterval/clearInterval
 * @param {object} [deps.config]     miniprogram/config.js
 * @param {object} params            {mode, session_id, nonce, user_id, token, lang}
 */
function createFlow(deps, params) {
  var api = deps.api;
  var clock = deps.clock || systemClock();
  var config = deps.config || {};
  var notify = deps.notify || function () {};
  var maxErrors = config.maxErrors || 6;
  var explicitLang = i18n.pickLang(params.lang);

  var S = {
    mode: params.mode === 'seed' ? 'seed' : 'v1',
    sid: params.session_id || '',
    nonce: params.nonce || '',
    userId: params.user_id || '',
    token: params.token || '',
    lang: explicitLang || i18n.pickLang(config.defaultLang) || i18n.DEFAULT_LANG
  };
  reset();

  function reset() {
    S.screen = 'loading';
    S.challenge = null;
    S.source = null;
    S.seq = 0;
    S.lastCaptured = 0;
    S.running = false;
    S.finished = false;
    S.starting = false;
    S.phase = 'created';
    S.step = 0;
    S.stepStartedAt = null;
    S.calibStartedAt = null;
    S.dupes = 0;
    S.errors = 0;
    S.lastView = null;
    S.hintCode = null;
    S.hintText = null;
    S.resultKey = null;
    S.passed = false;
    S.errorKind = null;
    S.errorMessage = null;
    S.note = null;
    S.timer = null;
    S.ticker = null;
    S.countdown = '';
    S.timerPct = 100;
  }

  function t(key, vars) { return i18n.t(S.lang, key, vars); }

  // ---- view model -------------------------------------------------------------------------------
  function steps() { return (S.challenge && S.challenge.steps) || null; }

  function total() {
    var list = steps();
    if (list) return list.length;
    var view = S.lastView;
    return (view && view.total) || (S.challenge && S.challenge.total) || SEED_DEFAULT_STEPS;
  }

  function stepLabel(index) {
    var list = steps();
    if (list && list[index - 1]) return i18n.localized(list[index - 1].prompt, S.lang);
    return (S.lastView && S.lastView.prompt) || '';
  }

  function completedCount() {
    var view = S.lastView;
    if (!view) return 0;
    if (view.passed) return total();
    return Math.round((view.progress || 0) * total());
  }

  function stepItems() {
    var list = steps();
    if (!list) return [];
    var done = completedCount();
    return list.map(function (step, i) {
      var cls = i < done ? 'done' : i === done && S.phase === 'in_progress' ? 'current' : '';
      return { label: (i + 1) + '. ' + i18n.bare(i18n.localized(step.prompt, S.lang)), cls: cls };
    });
  }

  function preview() {
    var list = steps();
    if (!list) return t('steps_unknown');
    var names = list.map(function (s) { return i18n.bare(i18n.localized(s.prompt, S.lang)); });
    return t('steps_preview', { total: list.length, list: names.join(S.lang === 'en' ? ', ' : '、') });
  }

  function promptText() {
    if (S.phase === 'in_progress' && S.step >= 1) return stepLabel(S.step);
    return t('calibrating');
  }

  function hintText() {
    if (S.hintCode && i18n.has(S.hintCode)) return t(S.hintCode);
    return S.hintText || '';
  }

  function progressPct() {
    var view = S.lastView;
    if (!view) return 0;
    if (view.passed) return 100;
    return Math.round((view.progress || 0) * 100);
  }

  var CAMERA_ERRORS = { denied: 'err_denied', camera: 'err_camera', privacy: 'err_privacy' };

  function errorModel() {
    var kind = S.errorKind;
    if (!kind) return { title: '', text: '', help: [], openSetting: false, retry: false };
    var camera = CAMERA_ERRORS[kind] !== undefined;
    var title = kind === 'privacy' ? t('err_privacy_title') : camera ? t('err_camera_title') : t('err_session_title');
    var text;
    if (camera) text = t(CAMERA_ERRORS[kind]);
    else if (kind === 'session' || kind === 'config') text = S.errorMessage || t(kind === 'config' ? 'err_config' : 'err_session');
    else text = S.errorMessage || t('err_network');
    return {
      title: title,
      text: text,
      help: kind === 'denied' || kind === 'camera' ? [t('help_setting'), t('help_system')] : [],
      openSetting: kind === 'denied',
      retry: kind !== 'session' && kind !== 'locked' && kind !== 'config'
    };
  }

  function viewModel() {
    var err = errorModel();
    var lang = S.lang;
    return {
      screen: S.screen,
      lang: lang,
      mode: S.mode,
      text: {
        title: t('title'),
        loading: t('loading'),
        introTitle: t('intro_title'),
        tips: [t('tip_light'), t('tip_clear'), t('tip_follow')],
        start: S.starting ? t('starting') : t('start'),
        switchTo: t('switch_to'),
        tryAgain: t('try_again'),
        openSetting: t('open_setting'),
        back: t('back')
      },
      stepsPreview: preview(),
      starting: S.starting,
      prompt: promptText(),
      hint: hintText(),
      countdown: S.countdown,
      timerPct: S.timerPct,
      progressPct: progressPct(),
      progressText: t('step_of', { step: Math.min(Math.max(S.step, 1), total()), total: total() }),
      steps: stepItems(),
      error: err,
      note: S.note ? t(S.note) : ''
    };
  }

  function render() { deps.render(viewModel()); }

  // ---- loading ----------------------------------------------------------------------------------
  function setError(kind, serverMessage) {
    stop();
    S.errorKind = kind;
    S.errorMessage = serverMessage || null;
    S.screen = 'error';
    render();
    notify('error', { code: kind, session_id: S.sid || null });
  }

  function errorKindFor(status) {
    return status === 401 || status === 403 || status === 404 || status === 410 ? 'session' : 'network';
  }

  function load() {
    S.screen = 'loading';
    render();
    if (!config.apiBase) return Promise.resolve(setError('config'));
    return S.mode === 'seed' ? loadSeed() : loadV1();
  }

  function loadV1() {
    var ready = S.sid && S.nonce ? Promise.resolve(null) : freshSession();
    return ready.then(function () {
      if (!S.sid || !S.nonce) return setError('session');
      return api.challenge(S.sid, S.nonce).then(function (answer) {
        if (answer.status !== 200) return setError(errorKindFor(answer.status), answer.data.message);
        var challenge = answer.data;
        S.challenge = challenge;
        if (!explicitLang) S.lang = i18n.pickLang(challenge.locale) || S.lang;
        notify('ready', { session_id: S.sid, steps: challenge.steps.length });
        if (challenge.state && challenge.state.done) {
          S.step = challenge.state.step;
          return finish(challenge.state, challenge.state.state === 'in_progress' ? 'in_progress' : 'calibrating');
        }
        S.screen = 'intro';
        render();
      });
    }).catch(function (err) {
      setError(err && err.kind === 'session' ? 'session' : 'network');
    });
  }

  function freshSession() {
    if (!deps.newSession) return Promise.resolve(null);
    return deps.newSession().then(function (created) {
      S.sid = (created && created.session_id) || '';
      S.nonce = (created && created.nonce) || '';
    });
  }

  function seedRules() {
    var fps = config.seedFps || 2;
    return { fps: fps, max_fps: Math.max(fps, 10) };
  }

  function loadSeed() {
    return api.seedStatus(S.userId, S.token).then(function (answer) {
      if (answer.status !== 200) return setError(errorKindFor(answer.status), answer.data.message);
      var data = answer.data;
      S.challenge = { steps: null, total: data.total_steps || SEED_DEFAULT_STEPS, upload: seedRules() };
      S.sid = data.session_id || '';
      if (data.passed) return finish(seedView(data), 'in_progress');
      S.screen = 'intro';
      render();
    }, function () {
      setError('network');
    });
  }

  // ---- capture ----------------------------------------------------------------------------------
  /** Start tapped and the camera allowed: show the camera; capture begins when it is ready. */
  function start() {
    if (S.screen !== 'intro' && S.screen !== 'error') return;
    S.errorKind = null;
    S.starting = true;
    S.screen = 'capture';
    S.phase = 'calibrating';
    render();
    notify('started', { session_id: S.sid || null });
  }

  /** The <camera> reported initdone (or the page's fallback timer fired). */
  function cameraReady() {
    if (S.running || S.finished || S.source || S.screen !== 'capture') return Promise.resolve();
    S.source = deps.makeSource();
    return S.source.start().then(function () {
      S.starting = false;
      S.running = true;
      render();
      S.ticker = clock.setInterval(tick, 200);
      schedule(0);
    }, function () {
      setError('camera');
    });
  }

  function cameraError(kind) {
    setError(kind === 'privacy' ? 'privacy' : kind === 'camera' ? 'camera' : 'denied');
  }

  function schedule(delay) {
    if (!S.running) return;
    S.timer = clock.setTimeout(captureAndSend, Math.max(0, delay));
  }

  function interval() {
    var rules = (S.challenge && S.challenge.upload) || seedRules();
    return 1000 / Math.max(1, rules.fps);
  }

  function minGap() {
    var rules = (S.challenge && S.challenge.upload) || seedRules();
    return 1000 / Math.max(1, rules.max_fps || rules.fps);
  }

  function captureAndSend() {
    if (!S.running) return Promise.resolve();
    var startedAt = clock.now();
    var wait = S.lastCaptured + minGap() - startedAt;
    if (S.lastCaptured && wait > 0) {
      schedule(wait + 1);
      return Promise.resolve();
    }
    var mirrored = !!(S.challenge && S.challenge.mirrored);
    return S.source.grab(mirrored).then(function (frame) {
      if (!S.running) return null;
      var capturedAt = Math.max(frame.capturedAt || startedAt, S.lastCaptured + 1);
      S.lastCaptured = capturedAt;
      S.seq += 1;
      return send(frame, S.seq, capturedAt);
    }, function () {
      countError('camera');
    }).then(function () {
      if (S.running) schedule(startedAt + interval() - clock.now());
    });
  }

  function send(frame, seq, capturedAt) {
    var sent = S.mode === 'seed'
      ? api.seedDetect(S.userId, frame.image, S.token)
      : api.sendFrame(S.sid, S.nonce, { image: frame.image, path: frame.path, seq: seq, captured_at: capturedAt });
    return sent.then(function (answer) {
      if (S.mode === 'seed') onSeedAnswer(answer, capturedAt);
      else onAnswer(answer, capturedAt);
    }, function () {
      countError('network');
    });
  }

  function countError(kind, serverMessage) {
    S.errors += 1;
    if (S.errors >= maxErrors) {
      setError(kind, serverMessage);
      return;
    }
    if (kind === 'network' && S.errors >= 2) {
      S.hintCode = 'hint_network';
      render();
    }
  }

  function onAnswer(answer, capturedAt) {
    var status = answer.status;
    var data = answer.data || {};
    if (status === 200) {
      S.errors = 0;
      S.dupes = 0;
      onView(data, capturedAt);
      return null;
    }
    var code = data.code;
    if (code === 'liveness_duplicate_frame' || code === 'liveness_replayed_frame') {
      onDuplicate(capturedAt);
      return null;
    }
    if (code === 'liveness_session_closed' || code === 'liveness_session_expired') {
      S.running = false;
      return api.getSession(S.sid, S.nonce).then(function (again) {
        if (again.status === 200) onView(again.data, capturedAt);
        else if (code === 'liveness_session_expired') finish({ state: 'expired', progress: 0 }, S.phase);
        else setError('session', again.data && again.data.message);
      }, function () {
        if (code === 'liveness_session_expired') finish({ state: 'expired', progress: 0 }, S.phase);
        else setError('network');
      });
    }
    if (status === 401 || status === 403 || status === 404) {
      setError('session', data.message);
      return null;
    }
    if (code === 'liveness_locked') {
      setError('locked', data.message);
      return null;
    }
    // 429 frame rate, 409 order, 413 size, 422 skew or an unreadable frame: the next frame tries again.
    countError('network', data.message);
    return null;
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
        notify('step', { session_id: S.sid, step: view.step, total: view.total, action: view.action });
      }
      S.phase = 'in_progress';
      S.step = view.step;
    }
    S.hintCode = view.hint_code || null;
    S.hintText = null;
    if (view.done) {
      finish(view, before);
      return;
    }
    render();
  }

  // ---- seed answers -----------------------------------------------------------------------------
  /** The seed's {success, message, next_task, current_step, total_steps, task_description, passed, done}. */
  function seedView(data) {
    var totalSteps = data.total_steps || SEED_DEFAULT_STEPS;
    var state = data.passed ? 'passed' : data.done ? 'failed' : data.next_task ? 'in_progress' : 'calibrating';
    return {
      state: state,
      step: Math.min((data.current_step || 0) + 1, totalSteps),
      total: totalSteps,
      action: data.next_task || null,
      prompt: data.task_description || '',
      progress: data.passed ? 1 : (data.current_step || 0) / totalSteps,
      done: !!(data.done || data.passed),
      passed: !!data.passed,
      message: data.message || ''
    };
  }

  function onDuplicate(capturedAt) {
    S.errors = 0;
    S.dupes += 1;
    if (S.calibStartedAt === null) S.calibStartedAt = capturedAt;
    if (S.dupes >= STATIC_AFTER) {
      S.hintCode = 'hint_static';
      render();
    }
  }

  function onSeedAnswer(answer, capturedAt) {
    var data = answer.data || {};
    if (answer.status !== 200) {
      if (answer.status === 401 || answer.status === 403 || answer.status === 404) setError('session', data.message);
      else if (data.code === 'liveness_duplicate_frame' || data.code === 'liveness_replayed_frame') {
        onDuplicate(capturedAt);
        // The seed flow has no step windows to count down: give up after ~10 s of a frozen picture.
        if (S.dupes >= Math.max(STATIC_AFTER, 10 * (config.seedFps || 2))) giveUp();
      } else countError('network', data.message);
      return;
    }
    S.errors = 0;
    S.dupes = 0;
    if (data.session_id) S.sid = data.session_id;
    var view = seedView(data);
    S.lastView = view;
    var before = S.phase;
    if (view.state === 'in_progress' && (S.phase !== 'in_progress' || view.step !== S.step)) {
      S.stepStartedAt = capturedAt;
      notify('step', { step: view.step, total: view.total, action: view.action });
    }
    S.phase = view.state === 'in_progress' ? 'in_progress' : S.phase === 'created' ? 'calibrating' : S.phase;
    if (view.state === 'in_progress') S.step = view.step;
    // The seed's message is a hint when it is neither the prompt nor a success ("检测成功,进入下一步").
    S.hintCode = null;
    S.hintText = !data.success && data.message && data.message !== data.task_description ? data.message : null;
    if (view.done) {
      finish(view, before);
      return;
    }
    render();
  }

  // ---- countdown and the end --------------------------------------------------------------------
  function windowMs() {
    var list = steps();
    if (S.phase === 'in_progress' && list && S.step >= 1) return list[S.step - 1].window_ms;
    if (S.phase !== 'in_progress' && S.challenge && S.challenge.calibration_ms) return S.challenge.calibration_ms;
    return null;
  }

  function remainingMs(now) {
    var win = windowMs();
    if (win === null) return null;
    if (S.phase === 'in_progress' && S.stepStartedAt !== null) return win - (now - S.stepStartedAt);
    if (S.phase !== 'in_progress' && S.calibStartedAt !== null) return win - (now - S.calibStartedAt);
    return null;
  }

  function tick() {
    if (!S.running) return;
    var left = remainingMs(clock.now());
    var countdown = '';
    var pct = 100;
    if (left !== null) {
      countdown = t('seconds', { s: Math.max(0, Math.ceil(left / 1000)) });
      pct = Math.round(Math.max(0, Math.min(100, (left / windowMs()) * 100)));
    }
    if (countdown !== S.countdown || Math.abs(pct - S.timerPct) >= 2) {
      S.countdown = countdown;
      S.timerPct = pct;
      render();
    }
    if (left !== null && left < -GRACE_MS) giveUp(); // frames are not being accepted
  }

  function giveUp() {
    if (S.finished) return Promise.resolve();
    var reason = S.dupes >= STATIC_AFTER ? 'static' : S.phase === 'in_progress' ? 'timeout' : 'calibration';
    var phase = S.phase;
    stop();
    if (S.mode === 'seed') return Promise.resolve(finish({ state: 'failed', progress: 0 }, phase, reason));
    return api.cancel(S.sid, S.nonce).then(function (answer) {
      var view = answer.status === 200 ? answer.data : S.lastView || { state: 'cancelled', progress: 0 };
      finish(view, phase, reason);
    }, function () {
      finish({ state: 'cancelled', progress: 0 }, phase, reason);
    });
  }

  function failureKey(view, phaseBefore, localReason) {
    if (localReason) return 'fail_' + localReason;
    if (view.state === 'expired') return 'fail_expired';
    if (view.state === 'cancelled') return 'fail_cancelled';
    if (S.mode === 'seed') return 'fail_seed';
    if (phaseBefore !== 'in_progress') return 'fail_calibration';
    var left = S.stepStartedAt !== null ? remainingMs(S.lastCaptured) : null;
    if (left !== null && left <= 400) return 'fail_timeout';
    return 'fail_mismatch';
  }

  function finish(view, phaseBefore, localReason) {
    if (S.finished) return;
    S.finished = true;
    stop();
    S.lastView = view;
    S.passed = !!view.passed;
    S.resultKey = view.passed ? 'pass_text' : failureKey(view, phaseBefore, localReason);
    if (view.passed) S.step = total();
    S.screen = 'result';
    render();
    // No verdict in the event: the business backend fetches the signed result.
    notify('finished', { session_id: S.sid || null });
  }

  function stop() {
    S.running = false;
    S.starting = false;
    if (S.timer !== null) clock.clearTimeout(S.timer);
    if (S.ticker !== null) clock.clearInterval(S.ticker);
    S.timer = null;
    S.ticker = null;
    if (S.source) {
      S.source.stop();
      S.source = null;
    }
  }

  /** What the result page shows: {passed, key, action} (the action whose step failed, for fail_timeout). */
  function result() {
    if (!S.resultKey) return null;
    var action = S.step >= 1 ? i18n.bare(stepLabel(Math.min(S.step, total()))) : '';
    return { passed: S.passed, key: S.resultKey, action: action };
  }

  // ---- retry and language -----------------------------------------------------------------------
  /** The error screen's retry: the same session again (network), or a re-check of the camera. */
  function retryError() {
    var kind = S.errorKind;
    S.errorKind = null;
    if (kind === 'denied' || kind === 'camera' || kind === 'privacy') {
      S.screen = 'intro';
      render();
      return Promise.resolve();
    }
    stop();
    // The same session: seq and capture times must keep increasing, or the server refuses the frames.
    var keep = { sid: S.sid, nonce: S.nonce, seq: S.seq, lastCaptured: S.lastCaptured };
    reset();
    S.sid = keep.sid;
    S.nonce = keep.nonce;
    S.seq = keep.seq;
    S.lastCaptured = keep.lastCaptured;
    return load();
  }

  function setLang(lang) {
    S.lang = i18n.pickLang(lang) || i18n.DEFAULT_LANG;
    explicitLang = S.lang;
    render();
  }

  function toggleLang() { setLang(S.lang === 'en' ? 'zh-CN' : 'en'); }

  function destroy() { stop(); }

  return {
    load: load,
    start: start,
    cameraReady: cameraReady,
    cameraError: cameraError,
    captureAndSend: captureAndSend,
    tick: tick,
    giveUp: giveUp,
    retryError: retryError,
    setLang: setLang,
    toggleLang: toggleLang,
    destroy: destroy,
    result: result,
    viewModel: viewModel,
    state: function () { return S; },
    lang: function () { return S.lang; }
  };
}

module.exports = { createFlow: createFlow, GRACE_MS: GRACE_MS, STATIC_AFTER: STATIC_AFTER };
