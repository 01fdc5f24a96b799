/* Test doubles for the WeChat runtime: a scripted Vigilo behind wx.request / wx.uploadFile, a camera
 * context whose takePhoto returns numbered files, and the permission APIs. Only wx is stubbed: the page,
 * lib/flow.js, lib/api.js and the frame sources are the real code.
 */
const path = require('path');
const simulate = require('miniprogram-simulate');

const ROOT = path.join(__dirname, '..');
const BASE = 'https://vigilo.test';

const STEPS = [
  { index: 1, action: 'blink', prompt: { 'zh-CN': '请眨眼', en: 'Blink your eyes' }, window_ms: 5000 },
  { index: 2, action: 'turn_left', prompt: { 'zh-CN': '请向左转头', en: 'Turn your head left' }, window_ms: 5000 }
];

function view(overrides) {
  return Object.assign({
    session_id: 'sid-1', state: 'calibrating', step: 1, total: 2, action: 'blink', prompt: '请眨眼',
    progress: 0, hint: null, hint_code: null, done: false, passed: false, frames: 1, expires_at: 0,
    completed: null
  }, overrides);
}

function challenge(overrides) {
  return Object.assign({
    session_id: 'sid-1', locale: 'zh-CN', mirrored: false, expires_at: 0, steps: STEPS,
    calibration_ms: 3000,
    upload: { fps: 10, max_fps: 30, max_bytes: 2097152, max_pixels: 4000000, max_frames: 200,
      formats: ['image/jpeg'] },
    state: view({ state: 'created', frames: 0 }), return_url: null, message_origins: []
  }, overrides);
}

/** A scripted server: routes answer {status, data} or `null` for a network failure. */
function server() {
  const routes = [];
  const calls = [];
  function route(method, pattern, answer) {
    routes.unshift({ method, pattern, answer });
  }
  function answerFor(call) {
    const found = routes.find((r) => r.method === call.method && r.pattern.test(call.url));
    if (!found) return { status: 599, data: { code: 'no_route', message: call.method + ' ' + call.url } };
    return typeof found.answer === 'function' ? found.answer(call) : found.answer;
  }
  function request(options) {
    const call = { method: options.method || 'GET', url: options.url, data: options.data, header: options.header || {} };
    calls.push(call);
    const answer = answerFor(call);
    Promise.resolve().then(() => {
      if (answer === null) options.fail({ errMsg: 'request:fail timeout' });
      else options.success({ statusCode: answer.status, data: answer.data, header: {} });
    });
  }
  function uploadFile(options) {
    const call = { method: 'UPLOAD', url: options.url, filePath: options.filePath, name: options.name,
      formData: options.formData, header: options.header || {} };
    calls.push(call);
    const answer = answerFor(Object.assign({}, call, { method: 'POST' }));
    Promise.resolve().then(() => {
      if (answer === null) options.fail({ errMsg: 'uploadFile:fail' });
      else options.success({ statusCode: answer.status, data: JSON.stringify(answer.data) });
    });
  }
  function of(method, pattern) {
    return calls.filter((c) => c.method === method && pattern.test(c.url));
  }
  return { route, calls, request, uploadFile, of };
}

/** Frames answered in order; the last answer repeats. */
function sequence(answers) {
  let i = 0;
  return () => answers[Math.min(i++, answers.length - 1)];
}

function installWx(srv, options) {
  const opts = options || {};
  const photos = { taken: [], compressed: [] };
  let n = 0;
  const camera = {
    takePhoto: jest.fn((o) => {
      n += 1;
      photos.taken.push(o);
      Promise.resolve().then(() => (opts.photoFails ? o.fail({ errMsg: 'takePhoto:fail' }) : o.success({ tempImagePath: 'wxfile://tmp/photo-' + n + '.jpg' })));
    }),
    onCameraFrame: jest.fn()
  };
  Object.assign(wx, {
    request: jest.fn(srv.request),
    uploadFile: jest.fn(srv.uploadFile),
    createCameraContext: jest.fn(() => camera),
    compressImage: jest.fn((o) => {
      photos.compressed.push(o);
      Promise.resolve().then(() => o.success({ tempFilePath: o.src.replace('.jpg', '-small.jpg') }));
    }),
    getFileSystemManager: () => ({
      readFile: (o) => Promise.resolve().then(() => o.success({ data: Buffer.from(o.filePath).toString('base64') }))
    }),
    getSetting: jest.fn((o) => o.success({ authSetting: opts.authSetting || { 'scope.camera': true } })),
    authorize: jest.fn((o) => (opts.authorizeError ? o.fail(opts.authorizeError) : o.success({}))),
    openSetting: jest.fn((o) => o.success({ authSetting: { 'scope.camera': !!opts.settingAllows } })),
    login: jest.fn((o) => o.success({ code: 'login-code-1' })),
    redirectTo: jest.fn(),
    navigateBack: jest.fn(),
    setNavigationBarTitle: jest.fn(),
    exitMiniProgram: jest.fn(),
    openPrivacyContract: jest.fn(),
    onNeedPrivacyAuthorization: opts.privacy ? jest.fn(opts.privacy) : undefined
  });
  return { camera, photos };
}

function fakeApp(channel, params) {
  const app = { globalData: { liveness: channel ? { channel, params: params || {} } : null } };
  global.getApp = () => app;
  return app;
}

function channel() {
  const events = [];
  return { events, emit: (event, payload) => events.push({ event, payload }) };
}

const loaded = {};

/** A fresh instance of a page. Each definition is loaded once per test file: jest's require does not let
 *  miniprogram-simulate re-run a page's Component() call. */
function render(page) {
  if (!loaded[page]) loaded[page] = simulate.load(path.join(ROOT, 'pages', page, 'index'), { rootPath: ROOT });
  const id = loaded[page];
  const comp = simulate.render(id);
  comp.attach(document.createElement('parent-wrapper'));
  return comp;
}

function text(comp, selector) {
  const node = comp.querySelector(selector);
  return node ? node.dom.textContent.trim() : null;
}

/** Lets the promise chains and timers of the flow run for `ms` of fake time. */
async function run(ms) {
  await jest.advanceTimersByTimeAsync(ms);
}

function frameBodies(srv) {
  return srv.of('POST', /\/frames$/).map((c) => c.data);
}

module.exports = { BASE, STEPS, view, challenge, server, sequence, installWx, fakeApp, channel, render, text, run, frameBodies };
