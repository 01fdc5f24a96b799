/* The liveness page (pages/liveness) driven through miniprogram-simulate against a scripted Vigilo. */
const h = require('./helpers');
const config = require('../config');

const SAVED = Object.assign({}, config);
const FRAMES = /\/api\/v1\/liveness\/sessions\/sid-1\/frames$/;
const CHALLENGE = /\/api\/v1\/liveness\/sessions\/sid-1\/challenge$/;
const SESSION = /\/api\/v1\/liveness\/sessions\/sid-1$/;

let srv;
let ch;

beforeEach(() => {
  jest.useFakeTimers({ now: 1764637200000 });
  Object.assign(config, SAVED, { apiBase: h.BASE });
  srv = h.server();
  srv.route('GET', CHALLENGE, { status: 200, data: h.challenge() });
  ch = h.channel();
  h.fakeApp(ch);
});

afterEach(() => {
  jest.useRealTimers();
});

async function open(query, wxOptions) {
  const env = h.installWx(srv, wxOptions);
  const page = h.render('liveness');
  await page.instance.onLoad(Object.assign({ session_id: 'sid-1', nonce: 'nonce-1' }, query || {}));
  await h.run(0);
  return { page, env };
}

async function startCapture(page) {
  await page.instance.onStart();
  await page.instance.onCameraReady();
  await h.run(0);
}

describe('v1 session flow', () => {
  test('intro lists the steps from the challenge', async () => {
    const { page } = await open();
    expect(page.data.vm.screen).toBe('intro');
    expect(h.text(page, '#steps-preview')).toBe('共 2 个动作：眨眼、向左转头');
    const call = srv.of('GET', CHALLENGE)[0];
    expect(call.url).toBe(h.BASE + '/api/v1/liveness/sessions/sid-1/challenge');
    expect(call.header['X-Session-Nonce']).toBe('nonce-1');
    expect(call.header['Accept-Language']).toBe('zh-CN');
  });

  test('prompts, hints, progress and countdown follow the answers, then the result page opens', async () => {
    srv.route('POST', FRAMES, h.sequence([
      { status: 200, data: h.view({ state: 'calibrating' }) },
      { status: 200, data: h.view({ state: 'in_progress', hint_code: 'hint_no_face', hint: '未检测到人脸' }) },
      { status: 200, data: h.view({ state: 'in_progress' }) },
      { status: 200, data: h.view({ state: 'in_progress', step: 2, action: 'turn_left', progress: 0.5, completed: 'blink' }) },
      { status: 200, data: h.view({ state: 'passed', step: 2, progress: 1, done: true, passed: true, completed: 'turn_left' }) }
    ]));
    const { page, env } = await open();
    await startCapture(page);
    expect(page.data.vm.screen).toBe('capture');
    expect(h.text(page, '#prompt')).toBe('请正对屏幕，保持不动');
    expect(page.data.vm.progressPct).toBe(0);

    await h.run(100); // second frame: step 1 starts, with a quality hint
    expect(h.text(page, '#prompt')).toBe('请眨眼');
    expect(h.text(page, '#hint')).toBe('未检测到人脸');
    expect(h.text(page, '#progress-text')).toBe('第 1/2 步');
    await h.run(100); // third frame: still step 1, the hint is gone, the step's window counts down
    expect(page.data.vm.countdown).toBe('5 秒');
    expect(page.data.vm.timerPct).toBe(98);
    expect(h.text(page, '#hint')).toBe('');
    expect(page.data.vm.steps.map((s) => s.cls)).toEqual(['current', '']);

    await h.run(100); // step 2, half way
    expect(h.text(page, '#prompt')).toBe('请向左转头');
    expect(page.data.vm.progressPct).toBe(50);
    expect(page.querySelector('#progress-bar').dom.getAttribute('style')).toContain('width: 50%');
    expect(page.data.vm.steps.map((s) => s.cls)).toEqual(['done', 'current']);

    await h.run(100); // passed
    expect(wx.redirectTo).toHaveBeenCalledTimes(1);
    expect(wx.redirectTo.mock.calls[0][0].url).toBe(
      '/pages/result/index?passed=1&key=pass_text&action=' + encodeURIComponent('向左转头') + '&lang=zh-CN&mode=v1&sid=sid-1');

    const bodies = h.frameBodies(srv);
    expect(bodies.length).toBe(5);
    expect(bodies.map((b) => b.seq)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 1; i < bodies.length; i++) expect(bodies[i].captured_at).toBeGreaterThan(bodies[i - 1].captured_at);
    expect(Buffer.from(bodies[0].image, 'base64').toString()).toBe('wxfile://tmp/photo-1-small.jpg');
    expect(Object.keys(bodies[0]).sort()).toEqual(['captured_at', 'image', 'seq']);
    expect(srv.of('POST', FRAMES)[0].header['X-Session-Nonce']).toBe('nonce-1');
    // takePhoto: unmirrored as the session says, scaled down before upload
    expect(env.photos.taken[0].selfieMirror).toBe(false);
    expect(env.photos.compressed[0].compressedHeight).toBe(640);
    // 10 fps asked, one frame every 100 ms
    await h.run(1000);
    expect(h.frameBodies(srv).length).toBe(5);

    const events = ch.events.map((e) => e.event);
    expect(events).toEqual(['ready', 'started', 'step', 'step', 'finished']);
    const finished = ch.events[ch.events.length - 1].payload;
    expect(finished).toEqual({ source: 'vigilo-liveness', session_id: 'sid-1' }); // no verdict
  });

  test('a mirrored session asks takePhoto for mirrored frames', async () => {
    srv.route('GET', CHALLENGE, { status: 200, data: h.challenge({ mirrored: true }) });
    srv.route('POST', FRAMES, { status: 200, data: h.view() });
    const { page, env } = await open();
    await startCapture(page);
    expect(env.photos.taken[0].selfieMirror).toBe(true);
  });

  test('multipart transport uploads the photo file with seq and captured_at', async () => {
    config.transport = 'multipart';
    srv.route('POST', FRAMES, { status: 200, data: h.view() });
    const { page } = await open();
    await startCapture(page);
    const up = srv.of('UPLOAD', FRAMES)[0];
    expect(up.name).toBe('file');
    expect(up.filePath).toBe('wxfile://tmp/photo-1-small.jpg');
    expect(up.formData.seq).toBe('1');
    expect(Number(up.formData.captured_at)).toBe(Date.now());
    expect(up.header['X-Session-Nonce']).toBe('nonce-1');
    expect(page.data.vm.screen).toBe('capture');
  });

  test('switching to English changes the prompt, hint, labels and Accept-Language', async () => {
    srv.route('POST', FRAMES, { status: 200, data: h.view({ state: 'in_progress', hint_code: 'hint_too_dark' }) });
    const { page } = await open();
    await startCapture(page);
    expect(h.text(page, '#prompt')).toBe('请眨眼');
    expect(h.text(page, '#hint')).toBe('光线太暗');
    page.instance.onToggleLang();
    expect(h.text(page, '#prompt')).toBe('Blink your eyes');
    expect(h.text(page, '#hint')).toBe('Too dark; find more light');
    expect(h.text(page, '#progress-text')).toBe('Step 1 of 2');
    expect(h.text(page, '#lang')).toBe('中文');
    expect(wx.setNavigationBarTitle).toHaveBeenCalledWith({ title: 'Face liveness check' });
    await h.run(100);
    const last = srv.of('POST', FRAMES).pop();
    expect(last.header['Accept-Language']).toBe('en');
    page.instance.onToggleLang();
    expect(h.text(page, '#prompt')).toBe('请眨眼');
  });

  test('lang=en in the query wins over the session locale', async () => {
    const { page } = await open({ lang: 'en' });
    expect(h.text(page, '#steps-preview')).toBe('2 action(s): Blink your eyes, Turn your head left');
    expect(h.text(page, '#start')).toBe('Start');
  });
});

describe('errors and retry', () => {
  test('an unknown session shows the server message and no retry', async () => {
    srv.route('GET', CHALLENGE, { status: 404, data: { code: 'liveness_session_not_found', message: '检测会话不存在' } });
    const { page } = await open();
    expect(page.data.vm.screen).toBe('error');
    expect(h.text(page, '#error-title')).toBe('无法开始检测');
    expect(h.text(page, '#error-text')).toBe('检测会话不存在');
    expect(page.querySelector('#error-retry')).toBeFalsy();
    expect(ch.events.pop()).toEqual({ event: 'error', payload: { source: 'vigilo-liveness', code: 'session', session_id: 'sid-1' } });
  });

  test('no session id and no session endpoint: session error without a request', async () => {
    const { page } = await open({ session_id: '', nonce: '' });
    expect(page.data.vm.screen).toBe('error');
    expect(h.text(page, '#error-text')).toBe('检测链接无效或已过期，请返回重新发起。');
    expect(srv.calls.length).toBe(0);
  });

  test('a wrong nonce on a frame (403 JSON error) ends on the session error', async () => {
    srv.route('POST', FRAMES, { status: 403, data: { code: 'liveness_bad_nonce', message: 'nonce 不正确' } });
    const { page } = await open();
    await startCapture(page);
    expect(page.data.vm.screen).toBe('error');
    expect(h.text(page, '#error-text')).toBe('nonce 不正确');
  });

  test('network failures: a hint, then the network error screen; retry reloads the same session', async () => {
    srv.route('POST', FRAMES, null);
    const { page } = await open();
    await startCapture(page);
    await h.run(100);
    expect(h.text(page, '#hint')).toBe('网络不稳定，正在重试…');
    await h.run(1000);
    expect(page.data.vm.screen).toBe('error');
    expect(h.text(page, '#error-text')).toBe('网络异常，请检查网络后重试。');
    expect(srv.of('POST', FRAMES).length).toBe(6); // config.maxErrors
    await h.run(1000);
    expect(srv.of('POST', FRAMES).length).toBe(6); // stopped

    srv.route('POST', FRAMES, { status: 200, data: h.view() });
    await page.instance.onErrorRetry();
    await h.run(0);
    expect(page.data.vm.screen).toBe('intro');
    expect(srv.of('GET', CHALLENGE).length).toBe(2);
    await startCapture(page);
    expect(page.data.vm.screen).toBe('capture');
    const bodies = h.frameBodies(srv);
    expect(bodies[bodies.length - 1].seq).toBe(7); // the same session: seq keeps increasing
    expect(bodies[bodies.length - 1].captured_at).toBeGreaterThan(bodies[bodies.length - 2].captured_at);
  });

  test('the challenge request failing shows the network error with a retry', async () => {
    srv.route('GET', CHALLENGE, null);
    const { page } = await open();
    expect(page.data.vm.screen).toBe('error');
    expect(page.querySelector('#error-retry')).toBeTruthy();
    srv.route('GET', CHALLENGE, { status: 200, data: h.challenge() });
    await page.instance.onErrorRetry();
    await h.run(0);
    expect(page.data.vm.screen).toBe('intro');
  });

  test('an expired session ends on the "timed out" result', async () => {
    srv.route('POST', FRAMES, { status: 410, data: { code: 'liveness_session_expired', message: '检测会话已过期' } });
    srv.route('GET', SESSION, { status: 200, data: h.view({ state: 'expired', done: true }) });
    const { page } = await open();
    await startCapture(page);
    await h.run(0);
    expect(srv.of('GET', SESSION).length).toBe(1);
    expect(wx.redirectTo.mock.calls[0][0].url).toMatch(/^\/pages\/result\/index\?passed=0&key=fail_expired&/);
  });

  test('an expired session whose state cannot be read still ends on "timed out"', async () => {
    srv.route('POST', FRAMES, { status: 410, data: { code: 'liveness_session_expired', message: '检测会话已过期' } });
    srv.route('GET', SESSION, { status: 410, data: { code: 'liveness_session_expired', message: '检测会话已过期' } });
    const { page } = await open();
    await startCapture(page);
    await h.run(0);
    expect(wx.redirectTo.mock.calls[0][0].url).toContain('key=fail_expired');
  });

  test('a session that already finished opens straight on its result', async () => {
    srv.route('GET', CHALLENGE, { status: 200, data: h.challenge({ state: h.view({ state: 'failed', done: true, step: 1 }) }) });
    await open();
    expect(wx.redirectTo.mock.calls[0][0].url).toContain('key=fail_calibration');
  });

  test('lockout (429 liveness_locked) shows the server message without a retry', async () => {
    srv.route('POST', FRAMES, { status: 429, data: { code: 'liveness_locked', message: '失败次数过多，请稍后再试' } });
    const { page } = await open();
    await startCapture(page);
    expect(h.text(page, '#error-text')).toBe('失败次数过多，请稍后再试');
    expect(page.querySelector('#error-retry')).toBeFalsy();
  });

  test('a frozen picture (duplicate frames) shows a hint, then gives up and cancels the session', async () => {
    srv.route('POST', FRAMES, h.sequence([
      { status: 200, data: h.view({ state: 'calibrating' }) },
      { status: 409, data: { code: 'liveness_duplicate_frame', message: '重复的画面' } }
    ]));
    srv.route('DELETE', SESSION, { status: 200, data: h.view({ state: 'cancelled', done: true }) });
    const { page } = await open();
    await startCapture(page);
    await h.run(300);
    expect(h.text(page, '#hint')).toBe('画面没有变化，请本人面对镜头');
    expect(page.data.vm.countdown).toBe('3 秒');
    await h.run(3000 + 2500);
    expect(srv.of('DELETE', SESSION).length).toBe(1);
    expect(wx.redirectTo.mock.calls[0][0].url).toContain('key=fail_static');
  });

  test('other 4xx answers (frame rate, bad image) are retried with the next frame', async () => {
    srv.route('POST', FRAMES, h.sequence([
      { status: 429, data: { code: 'liveness_frame_rate', message: '帧率过高' } },
      { status: 422, data: { code: 'image_unreadable', message: '无法读取图片' } },
      { status: 200, data: h.view({ state: 'in_progress' }) }
    ]));
    const { page } = await open();
    await startCapture(page);
    await h.run(200);
    expect(page.data.vm.screen).toBe('capture');
    expect(h.text(page, '#prompt')).toBe('请眨眼');
    expect(h.frameBodies(srv).map((b) => b.seq)).toEqual([1, 2, 3]);
  });

  test('missing apiBase is a configuration error', async () => {
    config.apiBase = '';
    const { page } = await open();
    expect(h.text(page, '#error-text')).toBe('小程序未配置服务地址（config.js 中的 apiBase）。');
    expect(srv.calls.length).toBe(0);
  });
});

describe('camera permission', () => {
  test('camera refused before: help text and an open-settings button that recovers', async () => {
    const { page } = await open({}, { authSetting: { 'scope.camera': false }, settingAllows: true });
    await page.instance.onStart();
    expect(page.data.vm.screen).toBe('error');
    expect(h.text(page, '#error-title')).toBe('无法使用摄像头');
    expect(page.data.vm.error.help.length).toBe(2);
    expect(page.querySelector('#open-setting')).toBeTruthy();
    await page.instance.onOpenSetting();
    expect(wx.openSetting).toHaveBeenCalled();
    expect(page.data.vm.screen).toBe('intro');
  });

  test('authorize refused now: denied', async () => {
    const { page } = await open({}, { authSetting: {}, authorizeError: { errMsg: 'authorize:fail auth deny' } });
    await page.instance.onStart();
    expect(wx.authorize).toHaveBeenCalledWith(expect.objectContaining({ scope: 'scope.camera' }));
    expect(page.data.vm.error.openSetting).toBe(true);
  });

  test('privacy agreement missing: privacy error', async () => {
    const { page } = await open({}, { authSetting: {}, authorizeError: { errno: 104, errMsg: 'authorize:fail privacy permission is not authorized' } });
    await page.instance.onStart();
    expect(h.text(page, '#error-title')).toBe('需要您同意隐私保护指引');
  });

  test('the <camera> error event (no permission) shows the camera help', async () => {
    const { page } = await open();
    await page.instance.onStart();
    page.instance.onCameraError({ detail: { errMsg: 'insertCamera:fail auth deny' } });
    expect(page.data.vm.screen).toBe('error');
    expect(h.text(page, '#error-text')).toBe('活体检测需要使用前置摄像头，请允许使用摄像头后重试。');
  });

  test('takePhoto failing repeatedly ends on the camera error', async () => {
    srv.route('POST', FRAMES, { status: 200, data: h.view() });
    const { page } = await open({}, { photoFails: true });
    await startCapture(page);
    await h.run(1000);
    expect(page.data.vm.screen).toBe('error');
    expect(h.text(page, '#error-text')).toBe('摄像头启动失败，请关闭其他使用摄像头的应用后重试。');
    expect(srv.of('POST', FRAMES).length).toBe(0);
  });

  test('the camera stopping mid-check (app sent to the background) shows the camera error', async () => {
    srv.route('POST', FRAMES, { status: 200, data: h.view() });
    const { page } = await open();
    await startCapture(page);
    page.instance.onCameraStop();
    expect(page.data.vm.screen).toBe('error');
    expect(page.querySelector('#error-retry')).toBeTruthy();
    const sent = srv.of('POST', FRAMES).length;
    await h.run(1000);
    expect(srv.of('POST', FRAMES).length).toBe(sent);
  });

  test('leaving the page stops capturing', async () => {
    srv.route('POST', FRAMES, { status: 200, data: h.view() });
    const { page } = await open();
    await startCapture(page);
    page.instance.onUnload();
    const sent = srv.of('POST', FRAMES).length;
    await h.run(1000);
    expect(srv.of('POST', FRAMES).length).toBe(sent);
  });

  test('the privacy popup resolves WeChat\'s request when the person agrees', async () => {
    let handler = null;
    const { page } = await open({}, { privacy: (fn) => { handler = fn; } });
    const resolve = jest.fn();
    handler(resolve);
    expect(h.text(page, '#privacy-agree')).toBe('同意并继续');
    page.instance.onAgreePrivacy();
    expect(resolve).toHaveBeenCalledWith({ buttonId: 'privacy-agree', event: 'agree' });
    expect(page.querySelector('#privacy')).toBeFalsy();
  });
});

describe('session endpoint (your backend creates the session)', () => {
  test('without a session id the page asks the endpoint with the wx.login code', async () => {
    config.sessionEndpoint = 'https://biz.test/liveness/session';
    srv.route('POST', /^https:\/\/biz\.test\/liveness\/session$/, { status: 200, data: { session_id: 'sid-1', nonce: 'nonce-9' } });
    const { page } = await open({ session_id: '', nonce: '' });
    const made = srv.of('POST', /biz\.test/)[0];
    expect(made.data).toEqual({ code: 'login-code-1' });
    expect(srv.of('GET', CHALLENGE)[0].header['X-Session-Nonce']).toBe('nonce-9');
    expect(page.data.vm.screen).toBe('intro');
  });

  test('an endpoint refusal is a session error', async () => {
    config.sessionEndpoint = 'https://biz.test/liveness/session';
    srv.route('POST', /biz\.test/, { status: 401, data: { message: 'not signed in' } });
    const { page } = await open({ session_id: '', nonce: '' });
    expect(page.data.vm.screen).toBe('error');
    expect(page.data.vm.error.title).toBe('无法开始检测');
  });
});
