/* Frame sources for the <camera> component. Both are pull-based: the flow asks for the next frame when it
 * is time to send one (at the session's fps, never faster than the previous upload finished), so frames
 * never pile up on a slow network.
 *
 * - takePhoto (default): CameraContext.takePhoto → the camera's own JPEG (PNG on iOS), scaled down with
 *   wx.compressImage where available, read as base64 (or uploaded as a file with multipart). Slower
 *   (typically 2–5 frames/s) but a compact, correctly oriented picture on every phone.
 * - cameraFrame: CameraContext.onCameraFrame, throttled to one frame per request, encoded as an
 *   uncompressed PNG in JavaScript (lib/png.js; there is no JPEG encoder for raw pixels in a mini-program).
 *   Higher rates, but frames are large (about width × height × 3 bytes) and their orientation and size are
 *   decided by the phone. See docs/liveness-miniprogram.md.
 */
'use strict';

var png = require('./png');

function cameraError(res, fallback) {
  var err = new Error((res && res.errMsg) || fallback);
  err.kind = 'camera';
  return err;
}

/**
 * @param {object} options wx, camera (CameraContext), now (ms clock), quality ('low'|'normal'|'high'),
 *   maxHeight (px, for compressImage), jpegQuality (0-100), transport ('json'|'multipart')
 */
function takePhotoSource(options) {
  var wx = options.wx;
  var camera = options.camera;
  var now = options.now || Date.now;
  var multipart = options.transport === 'multipart';

  function shoot(mirrored) {
    return new Promise(function (resolve, reject) {
      camera.takePhoto({
        quality: options.quality || 'low',
        selfieMirror: !!mirrored,
        success: function (res) { resolve(res.tempImagePath); },
        fail: function (res) { reject(cameraError(res, 'takePhoto:fail')); }
      });
    });
  }

  function compress(path) {
    if (typeof wx.compressImage !== 'function' || options.compress === false) return Promise.resolve(path);
    return new Promise(function (resolve) {
      wx.compressImage({
        src: path,
        quality: options.jpegQuality || 80,
        compressedHeight: options.maxHeight || 640,
        success: function (res) { resolve(res.tempFilePath || path); },
        fail: function () { resolve(path); } // e.g. iOS PNG: send the original
      });
    });
  }

  function readBase64(path) {
    return new Promise(function (resolve, reject) {
      wx.getFileSystemManager().readFile({
        filePath: path,
        encoding: 'base64',
        success: function (res) { resolve(res.data); },
        fail: function (res) { reject(cameraError(res, 'readFile:fail')); }
      });
    });
  }

  return {
    name: 'takePhoto',
    start: function () { return Promise.resolve(); },
    stop: function () {},
    grab: function (mirrored) {
      var capturedAt = now();
      return shoot(mirrored).then(compress).then(function (path) {
        if (multipart) return { path: path, capturedAt: capturedAt };
        return readBase64(path).then(function (image) { return { image: image, capturedAt: capturedAt }; });
      });
    }
  };
}

/**
 * @param {object} options camera (CameraContext), now, maxHeight (frames taller than this are downscaled),
 *   waitMs (no frame within this → camera error)
 */
function cameraFrameSource(options) {
  var camera = options.camera;
  var now = options.now || Date.now;
  var maxHeight = options.maxHeight || 480;
  var waitMs = options.waitMs || 3000;
  var listener = null;
  var pending = null;

  function onFrame(frame) {
    if (!pending) return; // throttled: frames nobody asked for are dropped without copying
    var want = pending;
    pending = null;
    clearTimeout(want.timer);
    var step = Math.max(1, Math.ceil(frame.height / maxHeight));
    var bytes = png.encodePng(frame.data, frame.width, frame.height, { step: step, mirror: want.mirrored });
    want.resolve({ image: png.toBase64(bytes), capturedAt: want.at || now() });
  }

  return {
    name: 'cameraFrame',
    start: function () {
      return new Promise(function (resolve, reject) {
        listener = camera.onCameraFrame(onFrame);
        listener.start({
          success: function () { resolve(); },
          fail: function (res) { reject(cameraError(res, 'onCameraFrame:fail')); }
        });
      });
    },
    stop: function () {
      if (listener) {
        try { listener.stop({}); } catch (e) { /* already stopped */ }
        listener = null;
      }
      if (pending) {
        clearTimeout(pending.timer);
        pending.reject(cameraError(null, 'stopped'));
        pending = null;
      }
    },
    grab: function (mirrored) {
      return new Promise(function (resolve, reject) {
        pending = { resolve: resolve, reject: reject, mirrored: !!mirrored, at: null };
        pending.timer = setTimeout(function () {
          if (!pending) return;
          pending = null;
          reject(cameraError(null, 'onCameraFrame: no frame'));
        }, waitMs);
      }).then(function (frame) {
        frame.capturedAt = frame.capturedAt || now();
        return frame;
      });
    }
  };
}

/** The source named by config.frameSource ('takePhoto' default, or 'cameraFrame'). */
function createSource(name, options) {
  return name === 'cameraFrame' ? cameraFrameSource(options) : takePhotoSource(options);
}

module.exports = { createSource: createSource, takePhotoSource: takePhotoSource, cameraFrameSource: cameraFrameSource };
