/* RGBA camera frames (onCameraFrame) → PNG bytes → base64, in plain JavaScript.
 *
 * A mini-program has no JPEG encoder for raw pixels (no canvas.toBlob; OffscreenCanvas has no documented
 * toDataURL), so the onCameraFrame source encodes a PNG with uncompressed ("stored") deflate blocks: cheap
 * in CPU, about width*height*3 bytes. That is why takePhoto (the camera's own JPEG) is the default source.
 */
'use strict';

var CRC_TABLE = (function () {
  var table = new Uint32Array(256);
  for (var n = 0; n < 256; n++) {
    var c = n;
    for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes, start, end) {
  var c = 0xffffffff;
  for (var i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function adler32(bytes) {
  var a = 1;
  var b = 0;
  for (var i = 0; i < bytes.length; i++) {
    a = (a + bytes[i]) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function put32(out, pos, value) {
  out[pos] = (value >>> 24) & 0xff;
  out[pos + 1] = (value >>> 16) & 0xff;
  out[pos + 2] = (value >>> 8) & 0xff;
  out[pos + 3] = value & 0xff;
}

/** Scanlines (filter 0) of RGB pixels from RGBA, every `step`-th pixel and row, optionally mirrored. */
function scanlines(rgba, width, height, step, mirror) {
  var w = Math.floor(width / step);
  var h = Math.floor(height / step);
  var raw = new Uint8Array(h * (w * 3 + 1));
  var pos = 0;
  for (var y = 0; y < h; y++) {
    raw[pos++] = 0;
    var row = y * step * width;
    for (var x = 0; x < w; x++) {
      var sx = mirror ? width - 1 - x * step : x * step;
      var src = (row + sx) * 4;
      raw[pos++] = rgba[src];
      raw[pos++] = rgba[src + 1];
      raw[pos++] = rgba[src + 2];
    }
  }
  return { raw: raw, width: w, height: h };
}

function zlibStored(raw) {
  var blocks = Math.max(1, Math.ceil(raw.length / 65535));
  var out = new Uint8Array(2 + raw.length + blocks * 5 + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  var pos = 2;
  for (var i = 0; i < blocks; i++) {
    var start = i * 65535;
    var len = Math.min(65535, raw.length - start);
    out[pos++] = i === blocks - 1 ? 1 : 0;
    out[pos++] = len & 0xff;
    out[pos++] = (len >>> 8) & 0xff;
    out[pos++] = ~len & 0xff;
    out[pos++] = (~len >>> 8) & 0xff;
    out.set(raw.subarray(start, start + len), pos);
    pos += len;
  }
  put32(out, pos, adler32(raw));
  return out;
}

function chunk(type, data) {
  var out = new Uint8Array(12 + data.length);
  put32(out, 0, data.length);
  for (var i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  put32(out, 8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/**
 * PNG bytes for an RGBA frame.
 * @param {ArrayBuffer|Uint8Array} rgba
 * @param {object} [options] step: keep every step-th pixel (downscale); mirror: flip horizontally
 */
function encodePng(rgba, width, height, options) {
  var opts = options || {};
  var pixels = rgba instanceof Uint8Array ? rgba : new Uint8Array(rgba);
  var lines = scanlines(pixels, width, height, Math.max(1, opts.step || 1), !!opts.mirror);
  var header = new Uint8Array(13);
  put32(header, 0, lines.width);
  put32(header, 4, lines.height);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  var parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlibStored(lines.raw)),
    chunk('IEND', new Uint8Array(0))
  ];
  var total = parts.reduce(function (sum, p) { return sum + p.length; }, 0);
  var out = new Uint8Array(total);
  var pos = 0;
  parts.forEach(function (p) {
    out.set(p, pos);
    pos += p.length;
  });
  return out;
}

var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function toBase64(bytes) {
  var out = [];
  var i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    var n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out.push(B64[(n >>> 18) & 63] + B64[(n >>> 12) & 63] + B64[(n >>> 6) & 63] + B64[n & 63]);
  }
  var rest = bytes.length - i;
  if (rest === 1) {
    var a = bytes[i] << 16;
    out.push(B64[(a >>> 18) & 63] + B64[(a >>> 12) & 63] + '==');
  } else if (rest === 2) {
    var b = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out.push(B64[(b >>> 18) & 63] + B64[(b >>> 12) & 63] + B64[(b >>> 6) & 63] + '=');
  }
  return out.join('');
}

module.exports = { encodePng: encodePng, toBase64: toBase64, crc32: crc32, adler32: adler32 };
