/* The plain modules on their own: PNG encoder, frame sources, API client, i18n. */
const zlib = require('zlib');
const png = require('../lib/png');
const frames = require('../lib/frames');
const createApi = require('../lib/api').createApi;
const i18n = require('../lib/i18n');

function chunks(bytes) {
  const buf = Buffer.from(bytes);
  const out = [];
  let pos = 8;
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('ascii', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    const crc = buf.readUInt32BE(pos + 8 + len);
    out.push({ type, data, crcOk: crc === png.crc32(buf, pos + 4, pos + 8 + len) });
    pos += 12 + len;
  }
  return out;
}

function rgbaFrame(width, height) {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = x;
      data[i + 1] = y;
      data[i + 2] = 200;
      data[i + 3] = 255;
    }
  }
  return data;
}

describe('png', () => {
  test('a valid PNG whose pixels are the frame RGB', () => {
    const bytes = png.encodePng(rgbaFrame(300, 260).buffer, 300, 260);
    expect(Buffer.from(bytes.subarray(0, 8)).toString('hex')).toBe('89504e470d0a1a0a');
    const parts = chunks(bytes);
    expect(parts.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(parts.every((c) => c.crcOk)).toBe(true);
    expect(parts[0].data.readUInt32BE(0)).toBe(300);
    expect(parts[0].data.readUInt32BE(4)).toBe(260);
    const raw = zlib.inflateSync(parts[1].data); // checks the adler32 too
    expect(raw.length).toBe(260 * (300 * 3 + 1));
    const row = 10 * (300 * 3 + 1);
    expect([raw[row], raw[row + 1 + 3 * 7], raw[row + 2 + 3 * 7], raw[row + 3 + 3 * 7]]).toEqual([0, 7, 10, 200]);
  });

  test('downscaled and mirrored', () => {
    const bytes = png.encodePng(rgbaFrame(8, 4), 8, 4, { step: 2, mirror: true });
    const parts = chunks(bytes);
    expect(parts[0].data.readUInt32BE(0)).toBe(4);
    const raw = zlib.inflateSync(parts[1].data);
    expect(raw[1]).toBe(7); // first pixel of the first row is the frame's last column
  });

  test('base64 matches Node for every padding length', () => {
    [0, 1, 2, 3, 4, 5, 1000].forEach((n) => {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37) & 255);
      expect(png.toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    });
  });
});

describe('cameraFrame source', () => {
  function fakeCamera() {
    const camera = { listener: null, callback: null };
    camera.onCameraFrame = (cb) => {
      camera.callback = cb;
      camera.listener = { start: jest.fn((o) => o.success({})), stop: jest.fn() };
      return camera.listener;
    };
    return camera;
  }

  test('throttled: only a requested frame is encoded, as a PNG no taller than maxHeight', async () => {
    const camera = fakeCamera();
    let now = 1000;
    const source = frames.createSource('cameraFrame', { camera, now: () => now, maxHeight: 240 });
    await source.start();
    camera.callback({ width: 320, height: 480, data: rgbaFrame(320, 480).buffer }); // nobody asked: dropped
    const grabbed = source.grab(false);
    now = 2000;
    camera.callback({ width: 320, height: 480, data: rgbaFrame(320, 480).buffer });
    const frame = await grabbed;
    expect(frame.capturedAt).toBe(2000);
    const parts = chunks(Buffer.from(frame.image, 'base64'));
    expect(parts[0].data.readUInt32BE(4)).toBe(240);
    source.stop();
    expect(camera.listener).toBeTruthy();
  });

  test('no frame in time is a camera error', async () => {
    jest.useFakeTimers();
    const camera = fakeCamera();
    const source = frames.cameraFrameSource({ camera, waitMs: 500 });
    await source.start();
    const grabbed = source.grab(false);
    jest.advanceTimersByTime(600);
    await expect(grabbed).rejects.toMatchObject({ kind: 'camera' });
    jest.useRealTimers();
  });
});

describe('api', () => {
  function api(respond) {
    const calls = [];
    const wx = { request: (o) => { calls.push(o); respond(o); } };
    return { client: createApi({ wx, base: 'https://v.test/', lang: () => 'en' }), calls };
  }

  test('4xx JSON errors resolve with status and body; string bodies are parsed', async () => {
    const { client, calls } = api((o) => o.success({ statusCode: 409, data: '{"code":"liveness_seq_not_increasing","message":"m"}' }));
    const answer = await client.sendFrame('s/1', 'n', { image: 'AAAA', seq: 3, captured_at: 5 });
    expect(answer).toEqual({ status: 409, data: { code: 'liveness_seq_not_increasing', message: 'm' } });
    expect(calls[0].url).toBe('https://v.test/api/v1/liveness/sessions/s%2F1/frames');
    expect(calls[0].header).toEqual({ 'Accept-Language': 'en', 'Content-Type': 'application/json', 'X-Session-Nonce': 'n' });
  });

  test('no answer rejects with kind network', async () => {
    const { client } = api((o) => o.fail({ errMsg: 'request:fail url not in domain list' }));
    await expect(client.getSession('s', 'n')).rejects.toMatchObject({ kind: 'network', message: 'request:fail url not in domain list' });
  });
});

describe('i18n', () => {
  test('both languages have the same keys', () => {
    expect(Object.keys(i18n.TEXT.en).sort()).toEqual(Object.keys(i18n.TEXT['zh-CN']).sort());
  });

  test('language tags and placeholders', () => {
    expect(i18n.pickLang('zh_CN')).toBe('zh-CN');
    expect(i18n.pickLang('en-US')).toBe('en');
    expect(i18n.pickLang('fr')).toBe(null);
    expect(i18n.t('en', 'step_of', { step: 2, total: 3 })).toBe('Step 2 of 3');
    expect(i18n.t('fr', 'start')).toBe('开始检测');
  });
});
