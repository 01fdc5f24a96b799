#!/usr/bin/env node
/* Drives the mini-program's check logic (lib/flow.js + lib/api.js, unchanged) against a real Vigilo, with
 * wx.request implemented on Node's fetch and the camera replaced by a folder of JPEG frames played back in
 * real time (frame i is "in front of the camera" at i / clipFps seconds). Used by
 * tests/web/test_miniprogram_flow.py; prints one JSON object: the events, the last view model, the result.
 *
 *   node real-server.js '{"base": "...", "mode": "v1", "session_id": "...", "nonce": "...",
 *                         "frames": "/dir", "clip_fps": 30, "max_ms": 40000}'
 */
'use strict';

const fs = require('fs');
const path = require('path');
const createApi = require('../../lib/api').createApi;
const createFlow = require('../../lib/flow').createFlow;

const args = JSON.parse(process.argv[2]);

const wxShim = {
  request(options) {
    const init = { method: options.method || 'GET', headers: options.header || {} };
    if (options.data !== undefined) init.body = JSON.stringify(options.data);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeout || 15000);
    init.signal = controller.signal;
    fetch(options.url, init)
      .then((response) => response.text().then((text) => {
        let data = text;
        try { data = JSON.parse(text); } catch (e) { /* not JSON */ }
        options.success({ statusCode: response.status, data, header: {} });
      }))
      .catch((err) => options.fail({ errMsg: 'request:fail ' + err.message }))
      .finally(() => clearTimeout(timer));
  }
};

function clipSource(dir, clipFps) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort();
  let t0 = null;
  return {
    name: 'clip',
    start() { t0 = Date.now(); return Promise.resolve(); },
    stop() {},
    grab() {
      const capturedAt = Date.now();
      const index = Math.min(files.length - 1, Math.floor(((capturedAt - t0) * clipFps) / 1000));
      const image = fs.readFileSync(path.join(dir, files[index])).toString('base64');
      return Promise.resolve({ image, capturedAt });
    }
  };
}

const events = [];
const prompts = [];
let last = null;
let done;
const finished = new Promise((resolve) => { done = resolve; });

const config = { apiBase: args.base, seedFps: args.seed_fps || 5, maxErrors: 6 };
let flow = null;
const api = createApi({ wx: wxShim, base: args.base, lang: () => (flow ? flow.lang() : 'zh-CN') });
flow = createFlow({
  api,
  config,
  makeSource: () => clipSource(args.frames, args.clip_fps || 30),
  render(vm) {
    last = vm;
    if (vm.screen === 'capture' && prompts[prompts.length - 1] !== vm.prompt) prompts.push(vm.prompt);
    if (vm.screen === 'error') done('error');
  },
  notify(event, payload) {
    events.push({ event, payload });
    if (event === 'finished') done('finished');
  }
}, { mode: args.mode || 'v1', session_id: args.session_id, nonce: args.nonce, user_id: args.user_id,
  token: args.token, lang: args.lang });

const limit = new Promise((resolve) => setTimeout(() => resolve('time limit'), args.max_ms || 40000));

flow.load()
  .then(() => {
    if (last.screen !== 'intro') return 'no intro: ' + last.screen;
    flow.start();
    return flow.cameraReady().then(() => Promise.race([finished, limit]));
  })
  .then((how) => {
    flow.destroy();
    const frames = flow.state().seq;
    process.stdout.write(JSON.stringify({ how, events, prompts, last, result: flow.result(), frames }) + '\n');
    process.exit(0);
  }, (err) => {
    process.stdout.write(JSON.stringify({ how: 'crash', error: String(err && err.stack) }) + '\n');
    process.exit(1);
  });
