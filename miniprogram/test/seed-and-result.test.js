/* The seed's /api/task flow on the liveness page, and the result page (retry, back, language). */
const h = require('./helpers');
const config = require('../config');

const SAVED = Object.assign({}, config);
const STATUS = /\/api\/task\/status(\?|$)/;
const DETECT = /\/api\/task\/detect$/;
const RESET = /\/api\/task\/reset$/;

function seed(overrides) {
  return Object.assign({
    success: false, message: '', next_task: 'turn_left', current_step: 0, total_steps: 2,
    task_description: '请向左转头', passed: false, done: false, session_id: 'seed-sid'
  }, overrides);
}

let srv;
let ch;

beforeEach(() => {
  jest.useFakeTimers({ now: 1764637200000 });
  Object.assign(config, SAVED, { apiBase: h.BASE });
  srv = h.server();
  ch = h.channel();
  h.fakeApp(ch);
  global.getCurrentPages = () => [{}, {}];
});

afterEach(() => {
  jest.useRealTimers();
});

describe('seed flow (/api/task/*)', () => {
  async function openSeed(query) {
    h.installWx(srv);
    const page = h.render('liveness');
    await page.instance.onLoad(Object.assign({ mode: 'seed', user_id: 'u-42', token: 'user-token' }, query || {}));
    await h.run(0);
    return page;
  }

  test('status, then one detect per frame: prompts, hints and progress from the seed answers', async () => {
    srv.route('GET', STATUS, { status: 200, data: seed({ success: true, message: '暂无任务', next_task: null, session_id: null }) });
    srv.route('POST', DETECT, h.sequence([
      { status: 200, data: seed({ message: '未检测到人脸' }) },
      { status: 200, data: seed({ message: '请向左转头' }) },
      { status: 200, data: seed({ success: true, message: '检测成功,进入下一步', next_task: 'blink', current_step: 1, task_description: '请眨眼' }) },
      { status: 200, data: seed({ success: true, message: '活体检测通过', next_task: null, current_step: 2, task_description: '', passed: true, done: true }) }
    ]));
    const page = await openSeed();
    const status = srv.of('GET', STATUS)[0];
    expect(status.url).toBe(h.BASE + '/api/task/status?user_id=u-42');
    expect(status.header.Authorization).toBe('Bearer user-token');
    expect(page.data.vm.screen).toBe('intro');
    expect(h.text(page, '#steps-preview')).toBe('按照提示依次完成动作');

    await page.instance.onStart();
    await page.instance.onCameraReady();
    await h.run(0);
    expect(h.text(page, '#prompt')).toBe('请向左转头');
    expect(h.text(page, '#hint')).toBe('未检测到人脸');
    expect(h.text(page, '#progress-text')).toBe('第 1/2 步');
    const detect = srv.of('POST', DETECT)[0];
    expect(Object.keys(detect.data).sort()).toEqual(['image_data', 'user_id']);
    expect(detect.data.user_id).toBe('u-42');
    expect(detect.header.Authorization).toBe('Bearer user-token');

    await h.run(500); // seedFps 2
    expect(h.text(page, '#hint')).toBe(''); // the message is the prompt itself
    await h.run(500);
    expect(h.text(page, '#prompt')).toBe('请眨眼');
    expect(page.data.vm.progressPct).toBe(50);
    expect(h.text(page, '#progress-text')).toBe('第 2/2 步');
    await h.run(500);
    expect(wx.redirectTo.mock.calls[0][0].url).toBe(
      '/pages/result/index?passed=1&key=pass_text&action=&lang=zh-CN&mode=seed&sid=seed-sid');
    expect(srv.of('POST', DETECT).length).toBe(4);
  });

  test('a failed seed session ends on the failure result', async () => {
    srv.route('GET', STATUS, { status: 200, data: seed({ session_id: null, next_task: null }) });
    srv.route('POST', DETECT, { status: 200, data: seed({ message: '活体检测失败', done: true }) });
    const page = await openSeed();
    await page.instance.onStart();
    await page.instance.onCameraReady();
    await h.run(0);
    expect(wx.redirectTo.mock.calls[0][0].url).toContain('passed=0&key=fail_seed');
  });

  test('a frozen picture in the seed flow: a hint, then the check gives up as static', async () => {
    srv.route('GET', STATUS, { status: 200, data: seed() });
    srv.route('POST', DETECT, h.sequence([
      { status: 200, data: seed({ message: '请向左转头' }) },
      { status: 409, data: { code: 'liveness_duplicate_frame', message: '重复的帧已被拒绝' } }
    ]));
    const page = await openSeed();
    await page.instance.onStart();
    await page.instance.onCameraReady();
    await h.run(1500);
    expect(page.data.vm.screen).toBe('capture');
    expect(h.text(page, '#hint')).toBe('画面没有变化，请本人面对镜头');
    expect(wx.redirectTo).not.toHaveBeenCalled();
    await h.run(10000);
    expect(wx.redirectTo.mock.calls[0][0].url).toContain('passed=0&key=fail_static');
    expect(srv.of('POST', DETECT).length).toBe(21);
  });

  test('an unauthorized seed call (401) shows the server message', async () => {
    srv.route('GET', STATUS, { status: 401, data: { code: 'unauthorized', message: '未授权' } });
    const page = await openSeed();
    expect(page.data.vm.screen).toBe('error');
    expect(h.text(page, '#error-text')).toBe('未授权');
  });

  test('reset=1 resets the seed task before loading; the app key is the fallback token', async () => {
    config.appKey = 'app-key-1';
    srv.route('POST', RESET, { status: 200, data: seed({ success: true, message: '任务已重置' }) });
    srv.route('GET', STATUS, { status: 200, data: seed() });
    await openSeed({ reset: '1', token: '' });
    const reset = srv.of('POST', RESET)[0];
    expect(reset.data).toEqual({ user_id: 'u-42' });
    expect(reset.header.Authorization).toBe('Bearer app-key-1');
    expect(srv.calls.map((c) => c.method + ' ' + c.url.replace(h.BASE, ''))).toEqual([
      'POST /api/task/reset', 'GET /api/task/status?user_id=u-42'
    ]);
  });
});

describe('result page', () => {
  async function openResult(query) {
    h.installWx(srv);
    const page = h.render('result');
    page.instance.onLoad(query);
    return page;
  }

  test('a pass shows the success screen without retry', async () => {
    const page = await openResult({ passed: '1', key: 'pass_text', lang: 'zh-CN', mode: 'v1', sid: 'sid-1' });
    expect(h.text(page, '#result-title')).toBe('验证完成');
    expect(h.text(page, '#result-text')).toBe('动作已完成，结果将由业务方确认');
    expect(page.querySelector('#retry')).toBeFalsy();
  });

  test('a timeout names the action; the language switch translates it', async () => {
    const page = await openResult({ passed: '0', key: 'fail_timeout', action: encodeURIComponent('眨眼'), lang: 'zh-CN', mode: 'v1' });
    expect(h.text(page, '#result-title')).toBe('验证未通过');
    expect(h.text(page, '#result-text')).toBe('未在规定时间内完成「眨眼」');
    page.instance.onToggleLang();
    expect(h.text(page, '#result-title')).toBe('Not verified');
    expect(h.text(page, '#lang')).toBe('中文');
  });

  test('an unknown failure key falls back to the generic failure text', async () => {
    const page = await openResult({ passed: '0', key: '<script>' });
    expect(h.text(page, '#result-text')).toBe('检测到与提示不符的动作，请按提示依次完成');
    expect(page.querySelector('#retry')).toBeTruthy();
  });

  test('v1 retry without a session endpoint asks the business page (event) and goes back', async () => {
    const page = await openResult({ passed: '0', key: 'fail_mismatch', mode: 'v1', sid: 'sid-1' });
    expect(page.instance.onRetry()).toBe('back');
    expect(ch.events).toEqual([{ event: 'retry', payload: { source: 'vigilo-liveness', session_id: 'sid-1' } }]);
    expect(wx.navigateBack).toHaveBeenCalledWith({ delta: 1 });
  });

  test('v1 retry with nobody to tell shows the manual note', async () => {
    h.fakeApp(null);
    const page = await openResult({ passed: '0', key: 'fail_mismatch', mode: 'v1', sid: 'sid-1' });
    expect(page.instance.onRetry()).toBe('manual');
    expect(h.text(page, '#note')).toBe('请返回业务页面重新发起检测');
    expect(wx.navigateBack).not.toHaveBeenCalled();
  });

  test('v1 retry with a session endpoint reopens the check for a new session', async () => {
    config.sessionEndpoint = 'https://biz.test/liveness/session';
    const page = await openResult({ passed: '0', key: 'fail_mismatch', mode: 'v1', lang: 'en' });
    expect(page.instance.onRetry()).toBe('endpoint');
    expect(wx.redirectTo).toHaveBeenCalledWith({ url: '/pages/liveness/index?mode=v1&lang=en' });
  });

  test('seed retry reopens the check with a reset, and that reset reaches the server', async () => {
    h.fakeApp(ch, { user_id: 'u-42', token: 'user-token' });
    const page = await openResult({ passed: '0', key: 'fail_seed', mode: 'seed', lang: 'zh-CN' });
    expect(page.instance.onRetry()).toBe('seed');
    const url = wx.redirectTo.mock.calls[0][0].url;
    expect(url).toBe('/pages/liveness/index?mode=seed&reset=1&lang=zh-CN&user_id=u-42');

    srv.route('POST', RESET, { status: 200, data: seed({ success: true, message: '任务已重置' }) });
    srv.route('GET', STATUS, { status: 200, data: seed() });
    const query = {};
    url.split('?')[1].split('&').forEach((pair) => { const [k, v] = pair.split('='); query[k] = v; });
    const live = h.render('liveness');
    await live.instance.onLoad(query);
    await h.run(0);
    const reset = srv.of('POST', RESET)[0];
    expect(reset.header.Authorization).toBe('Bearer user-token'); // kept from the first opening
    expect(live.data.vm.screen).toBe('intro');
  });

  test('back tells the business page and navigates back', async () => {
    const page = await openResult({ passed: '1', key: 'pass_text', sid: 'sid-1' });
    page.instance.onBack();
    expect(ch.events[0]).toEqual({ event: 'closed', payload: { source: 'vigilo-liveness', session_id: 'sid-1' } });
    expect(wx.navigateBack).toHaveBeenCalled();
  });
});
